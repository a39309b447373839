import { EventEmitter } from 'node:events';
import type { Database } from '../credentials/open-database.js';
import { PipelineListener } from '../db/listener.js';
import { ALERT_CHANNELS } from './schema.js';
import { takeFailuresPage, takeSnapshot, type CredentialState, type Snapshot } from './snapshot.js';

/** Failed alerts fetched around what the Failures view shows, so short scrolls need no query. */
export const FAILURES_WINDOW = 60;

/**
 * The dashboard's model: snapshots on an interval and soon after a pipeline NOTIFY (debounced),
 * the last good snapshot kept and marked stale while the database is down, the credential state
 * live. The ink UI, `--once` and `--json` all read it.
 */
export class DashboardModel extends EventEmitter {
  snapshot: Snapshot | null = null;
  stale = false;
  error: string | null = null;
  /** The failure behind `error`, as thrown (its code tells a missing schema from a dead server). */
  lastError: unknown = null;
  paused = false;
  listening = false;
  /** Where the LISTEN session is (the primary when the pool reads from a standby). */
  listenHost: string | null = null;
  refreshes = 0;
  private timer: NodeJS.Timeout | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private listener: PipelineListener | undefined;
  private inFlight: Promise<void> | undefined;
  /** The first failed alert of the window the model keeps (the Failures view pages over all). */
  private failuresOffset = 0;
  private seeking: Promise<void> | undefined;
  private wantedFailures = { start: 0, count: 0 };

  constructor(
    private readonly db: Database,
    private readonly options: { intervalMs: number; debounceMs?: number; listen?: boolean },
  ) {
    super();
  }

  /**
   * How the dashboard learns of new alerts, in words for its header: NOTIFY on the host the
   * LISTEN session is on, or its interval alone while that session is down (no primary yet).
   */
  notifyState(): string {
    // The host only when it is not where the reads go (the primary, while reads go to a standby).
    const elsewhere = this.listenHost && this.listenHost !== this.db.pool.stats().host;
    if (this.listening) return `⚡listening${elsewhere ? ` on primary ${this.listenHost}` : ''}`;
    return this.options.listen === false ? '' : `no LISTEN: every ${Math.round(this.options.intervalMs / 100) / 10}s`;
  }

  credentials(): CredentialState {
    return this.db.describeCredentials();
  }

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.options.intervalMs);
    // The credential countdown moves every second without a query.
    this.ticker = setInterval(() => this.emit('update'), 1000);
    if (this.options.listen ?? true) {
      this.listener = new PipelineListener(this.db.pool, ALERT_CHANNELS);
      this.listener.on('notification', () => this.soon());
      this.listener.on('subscribed', (e: { host?: string }) => {
        this.listening = true;
        this.listenHost = e.host ?? null;
        this.soon();
      });
      this.listener.on('disconnected', () => {
        this.listening = false;
        this.listenHost = null;
        this.emit('update');
      });
      await this.listener.start().catch(() => undefined);
    }
  }

  /** A refresh within a second of a notification, however many arrive. */
  private soon(): void {
    if (this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.refresh();
    }, this.options.debounceMs ?? 300);
  }

  refresh(force = false): Promise<void> {
    if (this.paused && !force) return Promise.resolve();
    this.inFlight ??= (async () => {
      try {
        this.snapshot = await takeSnapshot((text, values) => this.db.pool.query(text, values), this.credentials(), {
          failuresOffset: this.failuresOffset,
          failuresLimit: FAILURES_WINDOW,
        });
        this.stale = false;
        this.error = null;
        this.lastError = null;
        this.refreshes += 1;
      } catch (err) {
        // Keep the last data, marked stale; the pool and listener reconnect by themselves.
        this.stale = this.snapshot !== null;
        this.error = err instanceof Error ? err.message : String(err);
        this.lastError = err;
      }
      this.emit('update');
    })().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  /**
   * The Failures view shows failed alerts `start` … `start + count - 1`: when the snapshot does
   * not hold them, fetch that page now (not the whole snapshot), a little before and after.
   */
  seekFailures(start: number, count: number): void {
    this.wantedFailures = { start, count };
    const s = this.snapshot;
    if (!s) return;
    const end = Math.min(start + count, s.failuresTotal);
    if (start >= s.failuresOffset && end <= s.failuresOffset + s.failures.length) return;
    this.failuresOffset = Math.max(0, start - Math.floor((FAILURES_WINDOW - count) / 2));
    const offset = this.failuresOffset;
    this.seeking ??= takeFailuresPage((text, values) => this.db.pool.query(text, values), offset, FAILURES_WINDOW)
      .then((rows) => {
        if (this.snapshot && offset === this.failuresOffset) {
          this.snapshot = { ...this.snapshot, failures: rows, failuresOffset: offset };
          this.emit('update');
        }
      })
      .catch((err: unknown) => {
        this.error = err instanceof Error ? err.message : String(err);
        this.emit('update');
      })
      .finally(() => {
        this.seeking = undefined;
        // The view moved on while this page was on its way: follow it.
        if (offset !== this.failuresOffset) this.seekFailures(this.wantedFailures.start, this.wantedFailures.count);
      });
  }

  togglePause(): void {
    this.paused = !this.paused;
    this.emit('update');
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.ticker);
    clearTimeout(this.debounce);
    await this.inFlight;
    await this.listener?.stop();
  }
}
