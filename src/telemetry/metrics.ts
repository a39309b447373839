import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DbCredentials } from '../db/credentials.js';
import type { RotatingPool } from '../db/rotating-pool.js';
import { UsageError, quoted } from '../errors.js';
import type { KeeperEvent } from '../vault/lease-keeper.js';
import type { LeaseWatch } from '../vault/lease-watch.js';
import { vaultRequestObservers, type VaultRequestObservation } from '../vault/transport.js';

/**
 * `--metrics-listen`: Prometheus metrics (prom-client) and a health endpoint for the
 * long-running commands. What it watches is attached as it comes into being (a keeper, a
 * pool, a worker); gauges are read at scrape time. No label carries a secret, a username or a
 * whole lease id: roles, sources, paths and reasons only.
 */

export interface MetricsServer {
  readonly address: string;
  /** Watches a lease (its expiry and keeper events) and the pool its credentials serve. */
  watchCredentials(options: { lease: LeaseWatch; pool?: RotatingPool | undefined; role: string; current: () => DbCredentials | undefined; allowed: readonly string[] }): void;
  /**
   * For the dashboard: the database's side of dynamic credentials from its latest snapshot
   * (Vault's users alive, their sessions, those past VALID UNTIL), so an alert can fire on them.
   */
  watchDynamicRoles(latest: () => { alive: number; expired: number; sessions: number; staleSessions: number } | undefined): void;
  /** For `exec`: counts the worker's starts, restarts, exits and the signals it was sent. */
  readonly worker: { observe(event: { type: string; code?: number | null; signal?: string | null }): void };
  close(): Promise<void>;
}

/** `9464` → 127.0.0.1:9464; `0.0.0.0:9464` as given. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:(.+):)?(\d{1,5})$/.exec(text.trim());
  const port = Number(m?.[2]);
  if (!m || !(port >= 0 && port <= 65535)) throw new UsageError(`--metrics-listen ${quoted(text)} is not a port or host:port`, 'e.g. --metrics-listen 9464 (127.0.0.1) or --metrics-listen 0.0.0.0:9464');
  return { host: (m[1] ?? '127.0.0.1').replace(/^\[(.*)\]$/, '$1'), port };
}

/** Rotation reasons (the keeper's `rotated` detail) as a small, fixed label set. */
export function rotationReason(detail: string | undefined): string {
  if (!detail) return 'other';
  if (/max_ttl|not renewable/.test(detail)) return 'max_ttl';
  if (/refused|revoked/.test(detail)) return 'revoked';
  if (/after expiry/.test(detail)) return 'expired';
  if (/token/.test(detail)) return 'token';
  if (/manual|test/.test(detail)) return 'manual';
  return 'other';
}

/** What one client may take of the metrics port: small headers, quick requests, few connections. */
const SERVER_LIMITS = { maxHeaderSize: 8 * 1024, headersTimeout: 5_000, requestTimeout: 10_000, keepAliveTimeout: 5_000 };
const MAX_CONNECTIONS = 64;

/** The path of an origin-form request target (`/metrics?x`), or undefined for anything else. */
export function requestPath(target: string | undefined): string | undefined {
  if (!target || !target.startsWith('/') || target.startsWith('//')) return undefined;
  try {
    return new URL(target, 'http://metrics').pathname;
  } catch {
    return undefined;
  }
}

/** `holdsCredentials`: healthy only once credentials are held (exec, dashboard); else while running. */
export async function startMetricsServer(listen: string, options: { holdsCredentials?: boolean } = {}): Promise<MetricsServer> {
  const { host, port } = parseListen(listen);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'eos_' });

  const renewals = new Counter({ name: 'eos_lease_renewals_total', help: 'Lease renewals by result', labelNames: ['result'], registers: [registry] });
  const rotations = new Counter({ name: 'eos_rotations_total', help: 'Credential rotations by reason', labelNames: ['reason'], registers: [registry] });
  const tokenEvents = new Counter({ name: 'eos_token_events_total', help: 'Token renewals, re-logins and deaths', labelNames: ['event'], registers: [registry] });
  const vaultRequests = new Counter({ name: 'eos_vault_requests_total', help: 'Vault requests by path and status', labelNames: ['path', 'status'], registers: [registry] });
  const vaultLatency = new Histogram({ name: 'eos_vault_request_duration_seconds', help: 'Vault request latency', labelNames: ['path'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] });
  const workerEvents = new Counter({ name: 'eos_worker_events_total', help: 'Worker starts, restarts, exits and signals sent', labelNames: ['event'], registers: [registry] });
  const workerExits = new Counter({ name: 'eos_worker_exits_total', help: 'Worker exits by exit code or signal', labelNames: ['code'], registers: [registry] });
  const workerSignals = new Counter({ name: 'eos_worker_signals_total', help: 'Signals sent to the worker', labelNames: ['signal'], registers: [registry] });

  // Requests are labelled by path with lease ids and names cut to their mount and kind.
  const onRequest = (o: VaultRequestObservation) => {
    const path = o.path.replace(/^(sys\/leases\/(?:lookup|renew|revoke)\/[^/]+\/[^/]+\/).*$/, '$1…');
    vaultRequests.inc({ path, status: o.status });
    vaultLatency.observe({ path }, o.seconds);
  };
  vaultRequestObservers.add(onRequest);

  let health: () => { ok: boolean; reason: string; source?: string } = options.holdsCredentials
    ? () => ({ ok: false, reason: 'no credentials held yet' })
    : () => ({ ok: true, reason: 'running' });

  // Anyone who can reach the port can send anything: only GET and HEAD of two paths are
  // answered, a request that cannot be read is a 400, slow and oversized requests are cut, and
  // no request can throw out of the handler (docs/security.md).
  const answer = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' });
      res.end('method not allowed: GET /metrics or /healthz\n');
      return;
    }
    const pathname = requestPath(req.url);
    if (pathname === undefined) {
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      res.end('bad request target\n');
      return;
    }
    if (pathname === '/metrics') {
      const body = await registry.metrics();
      res.writeHead(200, { 'Content-Type': registry.contentType });
      res.end(body);
      return;
    }
    if (pathname === '/healthz') {
      const verdict = health();
      res.writeHead(verdict.ok ? 200 : 503, { 'Content-Type': 'application/json' });
      res.end(`${JSON.stringify(verdict)}\n`);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found: GET /metrics or /healthz\n');
  };
  const server: Server = createServer(SERVER_LIMITS, (req, res) => {
    answer(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' }).end('internal error\n');
      else res.destroy();
    });
  });
  server.maxConnections = MAX_CONNECTIONS;
  // A request line or header Node cannot parse (or too large, or too slow): 400 and close.
  server.on('clientError', (_err, socket: Socket) => {
    if (socket.writable && !socket.destroyed) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new UsageError(`--metrics-listen ${host}:${port}: ${err.code ?? err.message}`, 'choose a free port, or another address')));
    server.listen(port, host, () => resolve());
  });
  server.unref();
  const bound = server.address();
  const address = typeof bound === 'object' && bound ? `${bound.address.includes(':') ? `[${bound.address}]` : bound.address}:${bound.port}` : `${host}:${port}`;

  return {
    address,
    watchCredentials({ lease, pool, role, current, allowed }) {
      lease.onEvent((e: KeeperEvent) => {
        if (e.type === 'renewed') renewals.inc({ result: 'ok' });
        else if (e.type === 'renew-failed') renewals.inc({ result: 'failed' });
        else if (e.type === 'rotated') rotations.inc({ reason: rotationReason(e.detail) });
        else if (e.type === 'token-renewed') tokenEvents.inc({ event: 'renewed' });
        else if (e.type === 'token-relogin') tokenEvents.inc({ event: 'relogin' });
        else if (e.type === 'token-expired') tokenEvents.inc({ event: 'expired' });
      });
      const secondsUntil = (ms: number | undefined) => (ms === undefined || !Number.isFinite(ms) ? Number.NaN : Math.max(0, (ms - Date.now()) / 1000));
      new Gauge({ name: 'eos_lease_ttl_seconds', help: 'Seconds until the lease expires', labelNames: ['role'], registers: [registry], collect() {
        this.set({ role }, current()?.lease ? secondsUntil(lease.leaseExpiry()) : Number.NaN);
      } });
      new Gauge({ name: 'eos_lease_expiry_timestamp_seconds', help: 'When the lease expires (Unix time)', labelNames: ['role'], registers: [registry], collect() {
        const expiry = lease.leaseExpiry();
        this.set({ role }, current()?.lease && expiry !== undefined && Number.isFinite(expiry) ? expiry / 1000 : Number.NaN);
      } });
      new Gauge({ name: 'eos_token_ttl_seconds', help: 'Seconds until the Vault token expires (NaN: no expiry known)', registers: [registry], collect() {
        this.set(secondsUntil(lease.tokenExpiry()));
      } });
      new Gauge({ name: 'eos_credential_source', help: '1 for the credential source in use, 0 for the others allowed', labelNames: ['source'], registers: [registry], collect() {
        const source = current()?.source;
        for (const s of allowed) this.set({ source: s }, s === source ? 1 : 0);
      } });
      if (pool) {
        new Gauge({ name: 'eos_pool_connections', help: 'Pool connections by state', labelNames: ['state'], registers: [registry], collect() {
          const stats = pool.stats();
          this.set({ state: 'total' }, stats.total);
          this.set({ state: 'idle' }, stats.idle);
          this.set({ state: 'waiting' }, stats.waiting);
        } });
        new Gauge({ name: 'eos_pool_rotations', help: 'Pool generations switched so far', registers: [registry], collect() {
          this.set(pool.stats().rotations);
        } });
        new Gauge({ name: 'eos_queries', help: 'Queries by result since start (answered, failed after every retry, writes in doubt), and retries', labelNames: ['result'], registers: [registry], collect() {
          const stats = pool.stats();
          this.set({ result: 'ok' }, stats.queries.ok);
          this.set({ result: 'failed' }, stats.queries.failed);
          this.set({ result: 'retried' }, stats.retried);
          // A write sent when its session ended: it may or may not have committed (never resent).
          this.set({ result: 'in_doubt' }, stats.queries.inDoubt);
        } });
        new Gauge({ name: 'eos_pool_host_moves', help: 'Times the pool moved to another database host (a failover followed)', registers: [registry], collect() {
          this.set(pool.stats().hostMoves);
        } });
        new Gauge({ name: 'eos_pool_on_standby', help: '1 when the pool reads from a standby, 0 on the primary', registers: [registry], collect() {
          this.set(pool.stats().standby ? 1 : 0);
        } });
      }
      health = () => {
        const c = current();
        if (!c) return { ok: false, reason: 'no credentials held' };
        const expiry = c.lease ? lease.leaseExpiry() : undefined;
        if (expiry !== undefined && Date.now() >= expiry) {
          return { ok: false, reason: `the ${c.source} lease expired at ${new Date(expiry).toISOString()} and no allowed source replaced it`, source: c.source };
        }
        return { ok: true, reason: `credentials from ${c.source}${expiry !== undefined ? `, lease ${Math.round(secondsUntil(expiry))} s left` : ''}`, source: c.source };
      };
    },
    watchDynamicRoles(latest) {
      new Gauge({ name: 'eos_db_dynamic_roles', help: "Vault's database users (v-*) in the database, and those past VALID UNTIL still present", labelNames: ['state'], registers: [registry], collect() {
        const d = latest();
        this.set({ state: 'alive' }, d ? d.alive : Number.NaN);
        this.set({ state: 'expired' }, d ? d.expired : Number.NaN);
      } });
      new Gauge({ name: 'eos_db_dynamic_sessions', help: "Sessions of Vault's database users, and those on credentials past VALID UNTIL (stale)", labelNames: ['state'], registers: [registry], collect() {
        const d = latest();
        this.set({ state: 'open' }, d ? d.sessions : Number.NaN);
        this.set({ state: 'stale' }, d ? d.staleSessions : Number.NaN);
      } });
    },
    worker: {
      observe(event) {
        if (event.type === 'exit') workerExits.inc({ code: event.signal ?? String(event.code) });
        if (event.type === 'signal' && event.signal) workerSignals.inc({ signal: event.signal });
        workerEvents.inc({ event: event.type });
      },
    },
    async close() {
      vaultRequestObservers.delete(onRequest);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
