/**
 * npm run bench:writes — what eos's triggers cost the pipeline. 8 concurrent writers do what
 * Delphi's workers do to each alert, with payloads of a real alert's size (payload() below):
 * the webhook's INSERT, then five state changes (enriched, analyzed, structured with its
 * parser_metrics row, formatted, sent; every 20th fails at the parser instead), each statement
 * its own transaction. Three databases on one cluster with the same 200 000 sample alerts: the
 * pipeline's schema only; eos's objects applied with its triggers disabled; eos's objects as
 * apply leaves them. Rounds run in sets (one per database, the order rotating); the goal's
 * ratio is triggers on / off, the total ratio eos / pipeline alone, each the median of the sets.
 * Run on a durable cluster (fsync on, as a real site) and on a fast one (fsync off: commits
 * cost least there, so eos's share is largest).
 */
import { applySchema } from '../src/delphi/schema.js';
import { applyMigrations } from '../src/delphi/schema-migrator.js';
import { startPostgresCluster } from '../src/sandbox/postgres.js';
import { loadSampleData } from '../src/sandbox/sample-data.js';
import { withAdmin as withClient } from '../src/sandbox/sandbox.js';
import { percentile } from './load.js';

const WRITERS = Number(process.env.BENCH_WRITERS ?? 8);
const ROUND_S = Number(process.env.BENCH_ROUND_S ?? 6);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const PRELOAD = Number(process.env.BENCH_PRELOAD ?? 200_000);
const GOAL = 0.85;


const WORDS = (
  'the alert agent rule sshd authentication failed for invalid user root from source address port attempt ' +
  'multiple login failures host server web database firewall blocked connection severity high medium low ' +
  'recommend investigate review logs account password brute force attack indicator compromise mitigation ' +
  'network traffic suspicious process file integrity changed registry key service started stopped policy'
).split(' ');

/**
 * Text of about `bytes` bytes, words picked by a small LCG: prose that compresses about as an
 * LLM's prompt and answer do (TOAST compresses values over 2 kB), not a repeated string.
 */
function prose(seed: number, bytes: number): string {
  let x = seed >>> 0;
  const out: string[] = [];
  for (let length = 0; length < bytes; ) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    const word = WORDS[x % WORDS.length] as string;
    out.push(word);
    length += word.length + 1;
  }
  return out.join(' ');
}

/**
 * What the workers write for one alert. Realistic by default (BENCH_PAYLOAD=small for the
 * worst case): Wazuh's alert JSON about 1.5 kB, the LLM's prompt about 2 kB and answer about
 * 2.5 kB, the structured result and the e-mail about 1 and 1.5 kB.
 */
function payload(n: number) {
  const small = process.env.BENCH_PAYLOAD === 'small';
  const size = (bytes: number) => (small ? 8 : bytes);
  return {
    raw: JSON.stringify({ rule: { id: 5710, level: 5, description: 'sshd: attempt to login using a non-existent user' }, full_log: prose(n, size(1400)) }),
    agentData: JSON.stringify({ os: 'linux', groups: ['default', 'web'], notes: prose(n + 1, size(250)) }),
    prompt: prose(n + 2, size(2000)),
    response: prose(n + 3, size(2500)),
    structured: JSON.stringify({ sections: 4, summary: prose(n + 4, size(900)) }),
    formatted: JSON.stringify({ subject: 'Delphi alert', html: prose(n + 5, size(1400)) }),
  };
}

/** One writer's loop: whole alerts through the pipeline until the deadline; returns alerts finished. */
async function writer(url: string, id: number, deadline: number, agents: string[]): Promise<number> {
  return withClient(url, async (c) => {
    let done = 0;
    for (let n = 0; performance.now() < deadline; n++) {
      const agent = agents[(id * 7919 + n) % agents.length];
      const p = payload(id * 1_000_003 + n);
      const { rows } = await c.query(
        `INSERT INTO alerts (alert_hash, agent_id, rule_id, rule_level, rule_desc, raw)
         VALUES ($1, $2, 5710, 5, 'sshd: attempt to login using a non-existent user', $3) RETURNING id`,
        [`bench-${process.pid}-${id}-${n}-${Date.now()}`, agent, p.raw],
      );
      const alert = rows[0].id as string;
      await c.query(`UPDATE alerts SET state = 'enriched', enriched_at = now(), agent_data = $2 WHERE id = $1`, [alert, p.agentData]);
      await c.query(
        `UPDATE alerts SET state = 'analyzed', prompt_type = 'security_analysis', prompt_text = $2, prompt_sent_at = now(),
                response_text = $3, response_received_at = now(), prompt_tokens = 500, completion_tokens = 300, total_tokens = 800
          WHERE id = $1`,
        [alert, p.prompt, p.response],
      );
      const fails = n % 20 === 19;
      await c.query(
        `UPDATE alerts SET state = $2, parser_used = 'json', parser_success = $3, parser_error = $4, parser_duration_ms = 25,
                structured_data = $5, structured_at = now() WHERE id = $1`,
        [alert, fails ? 'failed' : 'structured', !fails, fails ? 'no sections found' : null, fails ? null : p.structured],
      );
      await c.query(
        `INSERT INTO parser_metrics (alert_id, prompt_type, parser_used, success, parse_time_ms, sections_extracted, error_message)
         VALUES ($1, 'security_analysis', 'json', $2, 25, $3, $4)`,
        [alert, !fails, fails ? 0 : 4, fails ? 'no sections found' : null],
      );
      if (!fails) {
        await c.query(`UPDATE alerts SET state = 'formatted', formatted_data = $2, formatted_at = now() WHERE id = $1`, [alert, p.formatted]);
        await c.query(`UPDATE alerts SET state = 'sent', alert_sent_at = now(), email_recipients = '["soc@example.com"]' WHERE id = $1`, [alert]);
      }
      done += 1;
    }
    return done;
  });
}

async function round(url: string, agents: string[]): Promise<number> {
  const start = performance.now();
  const deadline = start + ROUND_S * 1000;
  const counts = await Promise.all(Array.from({ length: WRITERS }, (_, i) => writer(url, i, deadline, agents)));
  const seconds = (performance.now() - start) / 1000;
  return Math.round((counts.reduce((a, b) => a + b, 0) / seconds) * 10) / 10;
}

type Kind = 'pipeline' | 'triggersOff' | 'eos';

async function measure(durable: boolean) {
  const cluster = await startPostgresCluster({ fast: !durable });
  try {
    // pipeline: its own schema only. triggersOff: eos applied, its triggers disabled (eos's
    // indexes alone). eos: everything, as `eos delphi schema apply` leaves it.
    const urls: Record<Kind, string> = {
      pipeline: await cluster.createDatabase('pipeline'),
      triggersOff: await cluster.createDatabase('triggers_off'),
      eos: await cluster.createDatabase('eos'),
    };
    for (const [kind, url] of Object.entries(urls) as [Kind, string][]) {
      await withClient(url, async (c) => {
        await applySchema(c);
        await loadSampleData(c, { alerts: PRELOAD });
        if (kind !== 'pipeline') await applyMigrations(c);
        if (kind === 'triggersOff') {
          for (const t of (await c.query(`SELECT tgname, tgrelid::regclass::text AS rel FROM pg_trigger WHERE tgname LIKE 'eos\\_%'`)).rows) {
            await c.query(`ALTER TABLE ${String(t.rel)} DISABLE TRIGGER ${String(t.tgname)}`);
          }
        }
        await c.query('VACUUM ANALYZE');
      });
    }
    const agents = await withClient(urls.pipeline, async (c) => (await c.query(`SELECT id FROM agents WHERE status_text <> 'never_connected' ORDER BY id`)).rows.map((r) => String(r.id)));
    const rates: Record<Kind, number[]> = { pipeline: [], triggersOff: [], eos: [] };
    const triggerRatios: number[] = [];
    const totalRatios: number[] = [];
    const kinds: Kind[] = ['pipeline', 'triggersOff', 'eos'];
    for (let r = 0; r < ROUNDS; r++) {
      // A set of back-to-back rounds, one per database, the order rotating: ratios within a set
      // cancel what the shared machine does over minutes; the medians of the sets are the result.
      const order = kinds.map((_, i) => kinds[(i + r) % kinds.length] as Kind);
      for (const kind of order) {
        const perS = await round(urls[kind], agents);
        rates[kind].push(perS);
        process.stderr.write(`${durable ? 'durable' : 'fast'} set ${r + 1} ${kind}: ${perS} alerts/s\n`);
      }
      triggerRatios.push((rates.eos.at(-1) as number) / (rates.triggersOff.at(-1) as number));
      totalRatios.push((rates.eos.at(-1) as number) / (rates.pipeline.at(-1) as number));
    }
    // How big the rollups grew under the load (appends, folds, autovacuum).
    const rollupKb = await withClient(urls.eos, async (c) =>
      Number((await c.query(`SELECT (pg_total_relation_size('eos.alert_state_rollup') + pg_total_relation_size('eos.failure_rollup') + pg_total_relation_size('eos.parser_rollup')) / 1024 AS kb`)).rows[0].kb),
    );
    const med = (xs: number[]) => Math.round(percentile(xs, 50) * 1000) / 1000;
    const ratio = med(triggerRatios);
    return {
      name: 'pipeline-writes',
      cluster: durable ? 'durable (fsync on)' : 'fast (fsync off)',
      payload: process.env.BENCH_PAYLOAD === 'small' ? 'small (8-byte texts)' : 'realistic (about 9 kB of text and JSON per alert)',
      writers: WRITERS,
      roundSeconds: ROUND_S,
      rounds: ROUNDS,
      preloadedAlerts: PRELOAD,
      alertsPerS: { pipeline: percentile(rates.pipeline, 50), triggersOff: percentile(rates.triggersOff, 50), eos: percentile(rates.eos, 50) },
      // The goal's measure: eos's triggers on against off, eos's indexes in both.
      ratio,
      goal: GOAL,
      met: ratio >= GOAL,
      // Everything eos adds (triggers and indexes) against the pipeline alone.
      totalRatio: med(totalRatios),
      rollupKb,
      triggerRatios: triggerRatios.map((x) => Math.round(x * 1000) / 1000),
      totalRatios: totalRatios.map((x) => Math.round(x * 1000) / 1000),
      rates,
    };
  } finally {
    await cluster.stop();
  }
}

for (const durable of (process.env.BENCH_CLUSTERS ?? 'durable,fast').split(',').map((c) => c === 'durable')) {
  process.stdout.write(`${JSON.stringify(await measure(durable))}\n`);
}
