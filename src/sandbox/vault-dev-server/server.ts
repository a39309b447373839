import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { LOOPBACK } from '../postgres.js';
import { systemClock, type Clock } from '../../util/clock.js';
import { VaultCore } from './core.js';
import { listAwareNetServer } from './list-method.js';
import { VaultHttpError, type Operation, type VaultResponse } from './wire.js';

/**
 * The eos Vault-API dev server: a test and demo double that speaks the part of the Vault HTTP
 * API eos uses, as reference/vault-api.md describes it. It is not Vault. Everything lives in
 * memory; the database engine runs its statements against real PostgreSQL.
 *
 * Besides /v1/, a control API under /__dev/ lets tests inject faults (see docs/vault-dev-server.md).
 */

export interface VaultDevServerOptions {
  host?: string;
  port?: number;
  rootToken?: string;
  clock?: Clock;
  /** The version sys/health reports. */
  version?: string;
}

export interface VaultDevServer {
  /** http://127.0.0.1:<port> */
  addr: string;
  port: number;
  rootToken: string;
  /** The state behind the API, for in-process tests. */
  core: VaultCore;
  /** Stops listening; by default first revokes every lease so no database role is left behind. */
  stop(options?: { revokeLeases?: boolean }): Promise<void>;
}

interface Fault {
  pathPrefix: string;
  method?: string;
  status: number;
  errors: string[];
  retryAfter?: number;
  remaining: number;
}

interface Faults {
  failures: Fault[];
  latency: { ms: number; pathPrefix: string } | null;
  drops: { pathPrefix: string; remaining: number }[];
  requests: number;
  byPath: Map<string, number>;
  /** While set, the server is frozen: requests and expiry timers wait for it to resolve. */
  paused: Promise<void> | null;
}

export async function startVaultDevServer(options: VaultDevServerOptions = {}): Promise<VaultDevServer> {
  const host = options.host ?? LOOPBACK;
  const faults: Faults = { failures: [], latency: null, drops: [], requests: 0, byPath: new Map(), paused: null };
  const base = options.clock ?? systemClock;
  // Times carry nanoseconds in Vault's answers: the real clock gives sub-millisecond ones here.
  const now = options.clock ? () => base.now() : () => performance.timeOrigin + performance.now();
  // A frozen process fires no timer: one that comes due during a pause runs when it ends.
  const clock: Clock = {
    now,
    setTimeout: (fn, ms) => base.setTimeout(() => (faults.paused ? void faults.paused.then(fn) : fn()), ms),
  };
  const core = new VaultCore({ clock, rootToken: options.rootToken, version: options.version });
  const sockets = new Set<Socket>();

  const server = createServer((req, res) => {
    void handleHttp(core, faults, req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, { status: 500, body: { errors: [String((err as Error)?.message ?? err)] } }, req);
      else res.destroy();
    });
  });
  const listener = listAwareNetServer(server, sockets);
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(options.port ?? 0, host, () => resolve());
  });
  const address = listener.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  let stopped = false;
  return {
    addr: `http://${host}:${port}`,
    port,
    rootToken: core.rootToken,
    core,
    async stop(stopOptions = {}) {
      if (stopped) return;
      stopped = true;
      await core.shutdown(stopOptions.revokeLeases ?? true);
      const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

const METHOD_OPERATIONS: Record<string, Operation> = {
  GET: 'read',
  HEAD: 'read',
  LIST: 'list',
  POST: 'update',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

async function handleHttp(core: VaultCore, faults: Faults, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://dev-server');
  if (url.pathname.startsWith('/__dev/')) return control(core, faults, req, res, url);
  if (!url.pathname.startsWith('/v1/')) return send(res, { status: 404, body: { errors: [] } }, req);

  const path = url.pathname.slice('/v1/'.length);
  // A frozen Vault holds the connection and answers only when it thaws.
  while (faults.paused) await faults.paused;
  faults.requests += 1;
  faults.byPath.set(path, (faults.byPath.get(path) ?? 0) + 1);

  const drop = faults.drops.find((d) => path.startsWith(d.pathPrefix) && d.remaining > 0);
  if (drop) {
    drop.remaining -= 1;
    faults.drops = faults.drops.filter((d) => d.remaining > 0);
    req.socket.destroy();
    return;
  }
  if (faults.latency && path.startsWith(faults.latency.pathPrefix)) {
    await new Promise((resolve) => setTimeout(resolve, faults.latency?.ms ?? 0));
  }
  const fault = faults.failures.find((f) => path.startsWith(f.pathPrefix) && (!f.method || f.method === req.method) && f.remaining > 0);
  if (fault) {
    fault.remaining -= 1;
    faults.failures = faults.failures.filter((f) => f.remaining > 0);
    if (fault.retryAfter !== undefined) res.setHeader('Retry-After', String(fault.retryAfter));
    return send(res, { status: fault.status, body: { errors: fault.errors } }, req);
  }

  // A standby without request forwarding: everything but sys/health redirects to the leader.
  if (core.standbyRedirect && path !== 'sys/health') {
    res.setHeader('Location', `${core.standbyRedirect}${url.pathname}${url.search}`);
    return send(res, { status: 307 }, req);
  }

  let method = req.method ?? 'GET';
  if (method === 'GET' && isTrue(url.searchParams.get('list'))) method = 'LIST';
  const operation = METHOD_OPERATIONS[method];
  if (!operation) return send(res, { status: 405, body: { errors: [] } }, req);

  // OpenBao refuses sys/health inside a namespace; clients must drop the header for it.
  if (path === 'sys/health' && req.headers['x-vault-namespace']) {
    return send(res, { status: 400, body: { errors: ['sys/health cannot be requested inside a namespace'] } }, req);
  }

  const contentType = req.headers['content-type'] ?? '';
  if (method === 'PATCH' && !contentType.startsWith('application/merge-patch+json')) {
    return send(res, { status: 415, body: { errors: [`PATCH requires Content-Type of application/merge-patch+json, provided ${contentType}`] } }, req);
  }
  let body: Record<string, unknown>;
  try {
    body = await readBody(req);
  } catch {
    return send(res, { status: 400, body: { errors: ['failed to parse JSON input: invalid character in request body'] } }, req);
  }
  const token = tokenOf(req);
  try {
    const response = await core.dispatch(operation, path, url.searchParams, body, token);
    send(res, response, req);
  } catch (err) {
    if (err instanceof VaultHttpError) return send(res, { status: err.status, body: { errors: err.errors } }, req);
    throw err;
  }
}

function tokenOf(req: IncomingMessage): string | undefined {
  const header = req.headers['x-vault-token'];
  if (typeof header === 'string' && header !== '') return header;
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice('Bearer '.length).trim();
  return undefined;
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  const type = req.headers['content-type'] ?? '';
  if (type.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(text));
  const parsed: unknown = JSON.parse(text);
  // `bao write -f` and the Go client's Write(path, nil) send `null`: Vault takes it as {}.
  if (parsed === null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
  return parsed as Record<string, unknown>;
}

function send(res: ServerResponse, response: VaultResponse, req: IncomingMessage): void {
  res.setHeader('Cache-Control', 'no-store');
  const namespace = req.headers['x-vault-namespace'];
  if (typeof namespace === 'string') res.setHeader('X-Vault-Namespace', namespace);
  if (response.body === undefined || response.status === 204) {
    res.writeHead(response.status);
    res.end();
    return;
  }
  res.setHeader('Content-Type', 'application/json');
  res.writeHead(response.status);
  res.end(req.method === 'HEAD' ? undefined : `${JSON.stringify(response.body)}\n`);
}

function isTrue(value: string | null): boolean {
  return value !== null && ['1', 't', 'true', 'True', 'TRUE'].includes(value);
}

/** The control API for tests and demos; not part of Vault's API. */
async function control(core: VaultCore, faults: Faults, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const route = url.pathname.slice('/__dev/'.length);
  const body = await readBody(req).catch(() => ({}) as Record<string, unknown>);
  const reply = (status: number, value?: unknown) => send(res, { status, body: value }, req);
  switch (`${req.method} ${route}`) {
    case 'POST faults':
      faults.failures.push({
        pathPrefix: String(body.path ?? ''),
        method: typeof body.method === 'string' ? body.method.toUpperCase() : undefined,
        status: Number(body.status ?? 500),
        errors: Array.isArray(body.errors) ? body.errors.map(String) : [],
        retryAfter: body.retryAfter === undefined ? undefined : Number(body.retryAfter),
        remaining: Number(body.count ?? 1),
      });
      return reply(204);
    case 'DELETE faults':
      faults.failures = [];
      faults.drops = [];
      faults.latency = null;
      return reply(204);
    case 'POST latency':
      faults.latency = Number(body.ms ?? 0) > 0 ? { ms: Number(body.ms), pathPrefix: String(body.path ?? '') } : null;
      return reply(204);
    case 'POST drop':
      faults.drops.push({ pathPrefix: String(body.path ?? ''), remaining: Number(body.count ?? 1) });
      return reply(204);
    case 'POST pause': {
      // As a SIGSTOPped Vault: nothing answered, no lease expired, for `seconds`.
      const ms = Number(body.seconds ?? 0) * 1000;
      if (!(ms > 0)) return reply(400, { errors: ['seconds must be a positive number'] });
      let resume!: () => void;
      faults.paused = new Promise<void>((resolve) => (resume = resolve));
      const thaw = setTimeout(() => {
        faults.paused = null;
        resume();
      }, ms);
      thaw.unref();
      return reply(204);
    }
    case 'POST seal':
      core.sealed = true;
      return reply(204);
    case 'POST unseal':
      core.sealed = false;
      return reply(204);
    case 'POST standby':
      core.standbyRedirect = typeof body.redirect === 'string' && body.redirect !== '' ? body.redirect.replace(/\/+$/, '') : null;
      return reply(204);
    case 'GET leases':
      return reply(200, {
        leases: core.leases.list().map((l) => ({
          id: l.id,
          path: l.path,
          username: l.internal.username ?? null,
          issueTime: new Date(l.issueMs).toISOString(),
          expireTime: new Date(l.expireMs).toISOString(),
          renewable: l.renewable,
          revokeError: l.revokeError,
          revokeAttempts: l.revokeAttempts,
        })),
      });
    case 'GET stats':
      return reply(200, { requests: faults.requests, byPath: Object.fromEntries(faults.byPath) });
    default:
      return reply(404, { errors: [`no control route ${req.method} /__dev/${route}`] });
  }
}
