import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startVaultDevServer } from '../../src/sandbox/vault-dev-server/server.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { freshDatabase } from '../helpers/pg.js';
import { compareAnswers, type Difference, type DifferenceKind } from './compare.js';
import { expandCorpus, runCorpus, type Corpus, type Target } from './corpus-runner.js';
import type { NormalizedAnswer } from './normalize.js';

const DIR = path.join(REPO_ROOT, 'test', 'fidelity');
const CORPUS = expandCorpus(JSON.parse(readFileSync(path.join(DIR, 'corpus.json'), 'utf8')) as Corpus);
const RECORDED = path.join(DIR, 'recorded');

interface Recording {
  /** What answered, and when: `sys/health`'s version of the server recorded. */
  server: string;
  recordedAt: string;
  answers: NormalizedAnswer[];
}

/** A difference the dev server is allowed to keep, and why; for every recording unless named. */
interface Allowed {
  id: string;
  kinds: DifferenceKind[];
  reason: string;
  recordings?: string[];
}

/** The PostgreSQL the database engine connects to, as corpus values (masked in every answer). */
function pgValues(url: string): Record<string, string> {
  const u = new URL(url);
  return { pg_host: u.host, pg_db: u.pathname.slice(1), pg_user: decodeURIComponent(u.username), pg_password: decodeURIComponent(u.password) };
}

/** A tag no earlier run used, so a recording can run against a server that has seen others. */
const runTag = () => Math.random().toString(36).slice(2, 8);

/**
 * The dev server, replayed against what OpenBao answered to the same ≥ 300 requests
 * (corpus.json, recorded in recorded/openbao.json by `npm run fidelity:record`). Every
 * difference must be listed in differences.json with its reason; a listed one that no longer
 * occurs must be taken off the list; none may give more than OpenBao gives. `npm run fidelity`
 * prints the table of differences.
 */
describe('the dev server answers the request corpus as OpenBao does', () => {
  if (process.env.EOS_FIDELITY_RECORD) {
    // Recording mode (npm run fidelity:record): the same corpus against a real OpenBao.
    it('records OpenBao\'s answers', async () => {
      const addr = process.env.EOS_TEST_VAULT_ADDR;
      const rootToken = process.env.EOS_TEST_VAULT_TOKEN;
      const pgUrl = process.env.EOS_TEST_PG_URL;
      if (!addr || !rootToken || !pgUrl) throw new Error('recording needs EOS_TEST_VAULT_ADDR, EOS_TEST_VAULT_TOKEN and EOS_TEST_PG_URL (and EOS_TEST_VAULT_CACERT for HTTPS)');
      const target: Target = { addr: addr.replace(/\/+$/, ''), rootToken, pgUrl, ...(process.env.EOS_TEST_VAULT_CACERT ? { ca: readFileSync(process.env.EOS_TEST_VAULT_CACERT) } : {}) };
      const answers = await runCorpus(target, CORPUS, runTag(), { ...pgValues(pgUrl), root: rootToken });
      const health = answers.find((a) => a.id === 'methods:GET sys/health (no token)');
      const name = process.env.EOS_FIDELITY_RECORD as string;
      if (!/^[a-z0-9-]+$/.test(name)) throw new Error('EOS_FIDELITY_RECORD names the recording: dev-mode, production, …');
      const recording: Recording = { server: `OpenBao at ${new URL(target.addr).protocol.replace(':', '')}, ${name}`, recordedAt: new Date().toISOString(), answers };
      writeFileSync(path.join(RECORDED, `${name}.json`), `${JSON.stringify(recording, null, 1)}\n`);
      expect(health?.status).toBe(200);
    }, 300_000);
    return;
  }

  it('replays every recorded request on a fresh dev server: each difference is listed with its reason, none gives more', async () => {
    const allowed = (JSON.parse(readFileSync(path.join(DIR, 'differences.json'), 'utf8')) as { differences: Allowed[] }).differences;
    const recordings = readdirSync(RECORDED)
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({ name: f.replace(/\.json$/, ''), ...(JSON.parse(readFileSync(path.join(RECORDED, f), 'utf8')) as Recording) }));
    // OpenBao in dev mode and in production mode (file storage, operator init, TLS).
    expect(recordings.map((r) => r.name).sort()).toEqual(['dev-mode', 'production']);
    const server = await startVaultDevServer();
    let replayed: NormalizedAnswer[];
    try {
      const pgUrl = (await freshDatabase()).url;
      replayed = await runCorpus({ addr: server.addr, rootToken: server.rootToken, pgUrl }, CORPUS, runTag(), { ...pgValues(pgUrl), root: server.rootToken });
    } finally {
      await server.stop();
    }
    expect(CORPUS.length).toBeGreaterThanOrEqual(300);
    for (const a of allowed) expect(a.reason.length, `${a.id}: a reason`).toBeGreaterThan(10);

    for (const recording of recordings) {
      const label = `recording ${recording.name}`;
      // The recording answers the corpus as it is: a request added since needs a new recording.
      expect(recording.answers.map((a) => a.id), label).toEqual(CORPUS.map((r) => r.id));
      const differences = recording.answers.map((a, i) => compareAnswers(a, replayed[i] as NormalizedAnswer)).filter((d): d is Difference => d !== undefined);
      const mine = allowed.filter((a) => !a.recordings || a.recordings.includes(recording.name));
      const listed = new Map(mine.map((d) => [d.id, d]));
      const unlisted = differences.filter((d) => !listed.has(d.id) || d.kinds.some((k) => !listed.get(d.id)?.kinds.includes(k)));
      const gone = mine.filter((a) => !differences.some((d) => d.id === a.id && a.kinds.every((k) => d.kinds.includes(k))));
      const statusDifferences = differences.filter((d) => d.kinds.includes('status'));

      if (process.env.EOS_FIDELITY_TABLE) printTable(recording.name, differences, listed, CORPUS.length);
      expect(differences.filter((d) => d.grantsMore).map((d) => `${d.id}: ${d.detail}`), label).toEqual([]);
      expect(unlisted.map((d) => `${d.id} [${d.kinds.join(',')}]: ${d.detail}`), label).toEqual([]);
      expect(gone.map((a) => `${a.id} no longer differs (${a.kinds.join(',')}): take it off differences.json`), label).toEqual([]);
      // At most 2 % of the requests answered with another status than OpenBao's.
      expect(statusDifferences.length, label).toBeLessThanOrEqual(Math.floor(CORPUS.length * 0.02));
    }
  }, 120_000);
});

function printTable(name: string, differences: Difference[], listed: Map<string, Allowed>, total: number): void {
  const rows = differences.map((d) => [d.id, `${d.recordedStatus}`, `${d.replayedStatus}`, d.kinds.join(','), listed.get(d.id)?.reason ?? 'NOT LISTED', d.detail]);
  const header = ['request', 'OpenBao', 'dev', 'kinds', 'reason', 'detail'];
  const width = (i: number) => Math.min(60, Math.max(header[i]?.length ?? 0, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 4 ? c.padEnd(width(i)) : c)).join('  ');
  const out = [
    `${name}: ${total} requests; ${differences.length} differ (${differences.filter((d) => d.kinds.includes('status')).length} in status)`,
    line(header),
    ...rows.map(line),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}
