import { EventEmitter } from 'node:events';
import type { RotatingPool } from '../db/rotating-pool.js';

/**
 * Moves alerts through the pipeline as Delphi's workers would, writing with the worker role's
 * dynamic credentials through the same keeper and rotating pool as everything else: each tick
 * ingests a few alerts and advances some in every state (new → enriched → analyzed →
 * structured → formatted → sent), with the odd parser failure and e-mail failure.
 */
export class PipelineSimulator extends EventEmitter {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private seq = 0;
  ticks = 0;
  errors = 0;
  lastError: string | null = null;

  constructor(
    private readonly pool: RotatingPool,
    private readonly options: { intervalMs?: number; ingestPerTick?: number; agents?: string[] } = {},
  ) {
    super();
  }

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.tick().finally(() => (this.running = undefined));
    }, this.options.intervalMs ?? 1000);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  async tick(): Promise<void> {
    const run = async (sql: string, values?: unknown[]) => {
      try {
        await this.pool.query(sql, values);
      } catch (err) {
        this.errors += 1;
        this.lastError = err instanceof Error ? err.message : String(err);
      }
    };
    const ingest = this.options.ingestPerTick ?? 3;
    for (let i = 0; i < ingest; i++) {
      this.seq += 1;
      await run(
        `INSERT INTO alerts (alert_hash, agent_id, rule_id, rule_level, rule_desc, raw)
         SELECT $1, id, 5710, 5 + $2::int % 8, 'sshd: attempt to login using a non-existent user', '{"simulated":true}'
           FROM agents ORDER BY id OFFSET $2::int % GREATEST((SELECT count(*) FROM agents), 1) LIMIT 1`,
        [`sim-${process.pid}-${Date.now()}-${this.seq}`, this.seq],
      );
    }
    const advance = (from: string, set: string) =>
      run(`UPDATE alerts SET ${set} WHERE id IN (SELECT id FROM alerts WHERE state = '${from}' ORDER BY ingest_timestamp LIMIT 2)`);
    // Later stages first, so an alert moves one stage per tick.
    await advance('formatted', `state = 'sent', alert_sent_at = now(), email_recipients = '["soc@example.com"]'`);
    await advance('structured', `state = CASE WHEN id % 23 = 0 THEN 'failed'::alert_state ELSE 'formatted'::alert_state END,
                                 formatted_at = now(), email_error = CASE WHEN id % 23 = 0 THEN 'SMTP 451: temporary failure' END`);
    await advance('analyzed', `state = CASE WHEN id % 17 = 0 THEN 'failed'::alert_state ELSE 'structured'::alert_state END,
                               parser_used = 'json', parser_success = id % 17 <> 0, parser_duration_ms = 20 + id % 50,
                               parser_error = CASE WHEN id % 17 = 0 THEN 'no sections found' END, structured_at = now()`);
    await advance('enriched', `state = 'analyzed', prompt_type = 'security_analysis', prompt_sent_at = now() - interval '2 seconds',
                               response_received_at = now(), prompt_tokens = 500, completion_tokens = 300, total_tokens = 800`);
    await advance('new', `state = 'enriched', enriched_at = now()`);
    await run(
      `INSERT INTO parser_metrics (alert_id, prompt_type, parser_used, success, parse_time_ms, sections_extracted)
       SELECT id, 'security_analysis', 'json', parser_success, parser_duration_ms, 4 FROM alerts
        WHERE structured_at > now() - interval '1 second' AND parser_used IS NOT NULL LIMIT 2`,
    );
    this.ticks += 1;
    this.emit('tick', { ticks: this.ticks, errors: this.errors });
  }
}
