import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from 'pino';
import { quoteIdent } from './identifiers.js';
import { backoffDelay, LISTEN_BACKOFF } from '../util/backoff.js';
import { systemClock, type Clock, type Timer } from '../util/clock.js';
import { connectToTarget, hostsOf } from './host-locator.js';
import type { RotatingPool } from './rotating-pool.js';

/**
 * LISTEN needs a session of its own. This one follows the pool: after a rotation it subscribes
 * with the new credentials before letting the old session go, and after a lost connection it
 * reconnects with backoff. Each (re)subscription emits 'subscribed', so a consumer can refresh
 * whatever it might have missed in between.
 */
export class PipelineListener extends EventEmitter {
  private client: pg.Client | undefined;
  private timer: Timer | undefined;
  private failures = 0;
  private stopped = false;
  private connecting: Promise<void> | undefined;
  subscriptions = 0;

  constructor(
    private readonly pool: RotatingPool,
    private readonly channels: readonly string[],
    private readonly options: { clock?: Clock; random?: () => number; log?: Logger } = {},
  ) {
    super();
    pool.on('switched', () => void this.resubscribe('credentials rotated'));
  }

  async start(): Promise<void> {
    await this.resubscribe('start');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.connecting?.catch(() => undefined);
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }

  private resubscribe(reason: string): Promise<void> {
    this.connecting ??= this.connect(reason).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(reason: string): Promise<void> {
    if (this.stopped) return;
    // LISTEN is refused on a standby: with several hosts, the listener's session is on the
    // primary even when the pool reads from a standby (and follows it when it moves).
    const credentials = this.pool.credentials;
    let client: pg.Client;
    try {
      ({ client } = await connectToTarget(credentials, { want: hostsOf(credentials).length > 1 ? 'primary' : 'any', application: 'eos-listen', log: this.options.log }));
    } catch (err) {
      this.retry(err);
      return;
    }
    client.on('notification', (n) => this.emit('notification', n));
    try {
      for (const channel of this.channels) await client.query(`LISTEN ${quoteIdent(channel)}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      this.retry(err);
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    const previous = this.client;
    this.client = client;
    this.failures = 0;
    this.subscriptions += 1;
    const lost = (err?: Error) => {
      if (this.client !== client || this.stopped) return;
      this.client = undefined;
      this.retry(err ?? new Error('connection ended'));
    };
    client.on('error', lost);
    client.on('end', () => lost());
    await previous?.end().catch(() => undefined);
    this.options.log?.info({ channels: this.channels.length, reason }, 'listening for pipeline notifications');
    this.emit('subscribed', { reason, generation: this.pool.generation, host: `${client.host}:${client.port}` });
  }

  private retry(err: unknown): void {
    if (this.stopped) return;
    this.failures += 1;
    const delay = backoffDelay(LISTEN_BACKOFF, this.failures, this.options.random ?? Math.random);
    this.emit('disconnected', { error: err instanceof Error ? err.message : String(err), retryInMs: delay });
    this.timer?.cancel();
    this.timer = (this.options.clock ?? systemClock).setTimeout(() => void this.resubscribe('reconnect'), delay);
  }
}
