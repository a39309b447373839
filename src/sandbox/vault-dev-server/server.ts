import type { AuditDeviceOptions } from './state/audit-devices.js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { posix } from 'node:path';
import type { Socket } from 'node:net';
import { systemClock, type Clock } from '../../util/clock.js';
import { LOOPBACK } from '../postgres.js';
import { control, noFaults, type Faults } from './control-api.js';
import { createDevVault, type DevVault } from './dev-vault.js';
import { BodyTooLargeError, isTrue, readBody, send, tokenOf } from './http-io.js';
import { listAwareNetServer } from './list-method.js';
import type { Router } from './router.js';
import type { VaultState } from './state/vault-state.js';
import { multierror, unsupportedPath, VaultHttpError, type Operation, type VaultResponse } from './wire.js';
import { parseDurationSeconds } from '../../util/duration.js';
import { randomUUID } from 'node:crypto';

/**
 * The eos Vault-API dev server: a test and demo double that speaks the part of the Vault HTTP
 * API eos uses, as docs/design.md#9-the-vault-api-eos-relies-on describes it. It is not Vault.
 * Everything lives in memory; the database engine runs its statements against real PostgreSQL.
 * This file is the HTTP side: it turns requests into calls of the router (router.ts).
 *
 * Besides /v1/, a control API under /__dev/ lets tests inject faults (control-api.ts).
 */

export interface VaultDevServerOptions {
  host?: string;
  port?: number;
  rootToken?: string;
  clock?: Clock;
  /** The version sys/health reports. */
  version?: string;
  /** HTTPS with this certificate and key (PEM), as a production listener has it; else plain HTTP. */
  tls?: { certPem: string; keyPem: string };
  /** `file` audit devices, declared as OpenBao's configuration declares them (state/audit-devices.ts). */
  audit?: AuditDeviceOptions[];
}

export interface VaultDevServer {
  /** http://127.0.0.1:<port>, or https:// with `tls` */
  addr: string;
  port: number;
  rootToken: string;
  /** The state behind the API, for in-process tests. */
  state: VaultState;
  /** Stops listening; by default first revokes every lease so no database role is left behind. */
  stop(options?: { revokeLeases?: boolean }): Promise<void>;
}

export async function startVaultDevServer(options: VaultDevServerOptions = {}): Promise<VaultDevServer> {
  const host = options.host ?? LOOPBACK;
  const faults = noFaults();
  const base = options.clock ?? systemClock;
  // Times carry nanoseconds in Vault's answers: the real clock gives sub-millisecond ones here.
  const now = options.clock ? () => base.now() : () => performance.timeOrigin + performance.now();
  // A frozen process fires no timer: one that comes due during a pause runs when it ends.
  const clock: Clock = {
    now,
    setTimeout: (fn, ms) => base.setTimeout(() => (faults.paused ? void faults.paused.then(fn) : fn()), ms),
  };
  const vault = createDevVault({ clock, rootToken: options.rootToken, version: options.version, audit: options.audit });
  const { state } = vault;
  const sockets = new Set<Socket>();

  const server = createServer((req, res) => {
    void handleHttp(vault, faults, req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, { status: 500, body: { errors: [String((err as Error)?.message ?? err)] } }, req);
      else res.destroy();
    });
  });
  const listener = listAwareNetServer(server, sockets, options.tls ? { cert: options.tls.certPem, key: options.tls.keyPem, minVersion: 'TLSv1.2' } : undefined);
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(options.port ?? 0, host, () => resolve());
  });
  const address = listener.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  let stopped = false;
  return {
    addr: `${options.tls ? 'https' : 'http'}://${host}:${port}`,
    port,
    rootToken: state.rootToken,
    state,
    async stop(stopOptions = {}) {
      if (stopped) return;
      stopped = true;
      await state.shutdown(stopOptions.revokeLeases ?? true);
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
  SCAN: 'scan',
  POST: 'update',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

async function handleHttp(vault: DevVault, faults: Faults, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { state, router: rootRouter } = vault;
  const url = new URL(req.url ?? '/', 'http://dev-server');
  // Go's ServeMux, under OpenBao: a path with `//`, `.` or `..` is answered with a 307 to its
  // clean form, never resolved in place (the URL parser above resolves the dots silently, so
  // this looks at the raw request line, before anything is routed by the parsed one).
  const raw = (req.url ?? '/').split('?')[0] ?? '/';
  const clean = posix.normalize(raw);
  if (url.pathname.startsWith('/__dev/')) return control(state, faults, req, res, url);
  if (raw.startsWith('/v1/') && clean !== raw) {
    res.writeHead(307, { Location: `${clean}${url.search}`, 'Content-Type': 'text/html; charset=utf-8' });
    res.end(`<a href="${clean}">Temporary Redirect</a>.\n\n`);
    return;
  }
  if (!url.pathname.startsWith('/v1/')) return send(res, { status: 404, body: { errors: [] } }, req);

  // The path as OpenBao routes it: percent-escapes decoded (`a%20b` is the key `a b`), from the
  // raw request line (the URL parser would resolve `%2e%2e` silently), and a `.` or `..` that
  // only decoding reveals refused, as OpenBao refuses it.
  let path: string;
  try {
    path = decodeURIComponent(raw.slice('/v1/'.length));
  } catch {
    // Go's HTTP server refuses such a request line before any handler: plain text, no JSON.
    res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
    res.end('400 Bad Request');
    return;
  }
  if (path.split('/').some((segment) => segment === '.' || segment === '..')) return send(res, { status: 400, body: { errors: ['relative paths not supported'] } }, req);
  // A frozen Vault holds the connection and answers only when it thaws.
  while (faults.paused) await faults.paused;
  faults.requests += 1;
  // Counted by path, a lease's id cut off: one key per lease would grow a long-running sandbox's map forever.
  const counted = path.replace(/^(sys\/leases\/(?:lookup|renew|revoke)\/.+\/)[^/]+$/, '$1…');
  faults.byPath.set(counted, (faults.byPath.get(counted) ?? 0) + 1);

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
  if (state.node.standbyRedirect && path !== 'sys/health') {
    res.setHeader('Location', `${state.node.standbyRedirect}${url.pathname}${url.search}`);
    return send(res, { status: 307 }, req);
  }

  // HEAD is sys/health's alone (OpenBao's own handler); the logical API has no such operation,
  // which it says once the token and the route are checked.
  if (req.method === 'HEAD' && path !== 'sys/health') {
    try {
      rootRouter.refuseHead(path, tokenOf(req));
    } catch (err) {
      if (err instanceof VaultHttpError) return send(res, { status: err.status, body: { errors: err.errors } }, req);
      throw err;
    }
  }
  let method = req.method ?? 'GET';
  if (method === 'GET' && isTrue(url.searchParams.get('list'))) method = 'LIST';
  else if (method === 'GET' && isTrue(url.searchParams.get('scan'))) method = 'SCAN';
  const operation = METHOD_OPERATIONS[method];
  if (!operation) return send(res, { status: 405, body: { errors: [] } }, req);

  // OpenBao refuses sys/health inside a namespace; clients must drop the header for it.
  if (path === 'sys/health' && req.headers['x-vault-namespace']) {
    return send(res, { status: 400, body: { errors: ['operation unavailable in namespaces'] } }, req);
  }

  const contentType = req.headers['content-type'] ?? '';
  if (method === 'PATCH' && !contentType.startsWith('application/merge-patch+json')) {
    return send(res, { status: 415, body: { errors: [`PATCH requires Content-Type of application/merge-patch+json, provided ${contentType}`] } }, req);
  }
  let body: Record<string, unknown>;
  try {
    body = await readBody(req);
  } catch (err) {
    if (err instanceof BodyTooLargeError) return send(res, { status: 413, body: { errors: [err.message] } }, req);
    return send(res, { status: 400, body: { errors: ['failed to parse JSON input: invalid character in request body'] } }, req);
  }
  const token = tokenOf(req);
  // X-Vault-Wrap-TTL: the answer goes behind a single-use wrapping token (state/wrapping.ts).
  const wrapHeader = req.headers['x-vault-wrap-ttl'];
  let wrapTtl: number | undefined;
  if (typeof wrapHeader === 'string' && wrapHeader !== '' && path !== 'sys/health') {
    if (wrapHeader.trim().startsWith('-')) return send(res, { status: 400, body: { errors: ['error parsing X-Vault-Wrap-TTL header: requested wrap ttl cannot be negative'] } }, req);
    wrapTtl = parseDurationSeconds(wrapHeader);
    if (wrapTtl === undefined) return send(res, { status: 400, body: { errors: [`error parsing X-Vault-Wrap-TTL header: time: invalid duration ${JSON.stringify(wrapHeader)}`] } }, req);
  }
  try {
    let response: VaultResponse;
    if (path.startsWith('sys/wrapping/')) {
      // Audited as OpenBao audits them (the token and the body's strings hashed like any other).
      const audited = state.audit.begin({ operation, path, token: state.tokens.lookup(token), tokenId: token, data: body, remoteAddress: req.socket.remoteAddress?.replace(/^::ffff:/, ''), remotePort: req.socket.remotePort });
      try {
        response = wrappingRoute(state, rootRouter, operation, path, body, token, wrapTtl);
      } catch (err) {
        if (err instanceof VaultHttpError) audited({ status: err.status, body: null, errors: err.errors });
        throw err;
      }
      audited({ status: response.status, body: response.body });
    } else {
      // The namespace: X-Vault-Namespace, else a path that starts with one's name, else the root.
      const target = namespaceOf(vault, req.headers['x-vault-namespace'], path);
      if (!target) return send(res, { status: 404, body: { errors: ['namespace not found'] } }, req);
      // OpenBao's logical requests are audited (its raw handlers — health and the like — are not).
      const audited = NEVER_WRAPPED.has(path)
        ? () => undefined
        : state.audit.begin({ operation: target.core.router.auditedOperation(operation, target.path), path, token: state.tokens.lookup(token), tokenId: token, data: body, remoteAddress: req.socket.remoteAddress?.replace(/^::ffff:/, ''), remotePort: req.socket.remotePort });
      try {
        response = await target.core.router.route(operation, target.path, url.searchParams, body, token);
      } catch (err) {
        if (err instanceof VaultHttpError) audited({ status: err.status, body: null, errors: err.errors });
        throw err;
      }
      audited({ status: response.status, body: response.body });
    }
    // OpenBao's raw handlers (health, seal-status, leader, init) never wrap; nor do the unwrap,
    // the lookup and the rewrap (already wrapped). A LIST is wrapped under its routed path.
    const wrapped =
      wrapTtl !== undefined && wrapTtl > 0 && response.status === 200 && response.body && typeof response.body === 'object' && !NEVER_WRAPPED.has(path)
        ? { status: 200, body: state.wrapping.wrap(response.body as Record<string, unknown>, wrapTtl, operation === 'list' && !path.endsWith('/') ? `${path}/` : path) }
        : response;
    send(res, wrapped, req);
  } catch (err) {
    if (err instanceof VaultHttpError) return send(res, { status: err.status, body: { errors: err.errors } }, req);
    throw err;
  }
}

/**
 * sys/wrapping/*: OpenBao's own endpoints for wrapping tokens. `unwrap` and `lookup` take the
 * wrapping token in the body or as the request's token; `wrap` and `rewrap` need a token of the
 * token store and answer wrapped (server.ts wraps `wrap`'s answer like any other).
 */
const NEVER_WRAPPED = new Set(['sys/health', 'sys/seal-status', 'sys/leader', 'sys/init', 'sys/wrapping/unwrap', 'sys/wrapping/lookup', 'sys/wrapping/rewrap']);

function wrappingRoute(state: VaultState, router: Router, operation: Operation, path: string, body: Record<string, unknown>, token: string | undefined, wrapTtl: number | undefined): VaultResponse {
  if (operation !== 'update') throw new VaultHttpError(405, [multierror('unsupported operation')]);
  const given = typeof body.token === 'string' && body.token !== '' ? body.token : undefined;
  const envelope = (data: Record<string, unknown>) => ({ status: 200, body: { request_id: randomUUID(), lease_id: '', renewable: false, lease_duration: 0, data, wrap_info: null, warnings: null, auth: null } });
  // The request's own token, checked as any request's is (valid, a use spent, the ACL).
  const caller = () => router.checkCaller(token, path);
  if (state.node.sealed) throw new VaultHttpError(503, ['Vault is sealed']);
  switch (path) {
    case 'sys/wrapping/lookup':
      return envelope(state.wrapping.lookup(given ?? token));
    case 'sys/wrapping/unwrap':
      // With the wrapping token in the body, the request itself needs a token of its own.
      if (given) caller();
      return { status: 200, body: state.wrapping.unwrap(given ?? token) };
    case 'sys/wrapping/wrap':
      caller();
      if (wrapTtl === undefined || wrapTtl === 0) throw new VaultHttpError(400, ['endpoint requires response wrapping to be used']);
      return { status: 200, body: { request_id: randomUUID(), lease_id: '', renewable: false, lease_duration: 0, data: body, wrap_info: null, warnings: null, auth: null } };
    case 'sys/wrapping/rewrap':
      caller();
      return { status: 200, body: state.wrapping.rewrap(given) };
    default:
      throw unsupportedPath();
  }
}

/** The core a request goes to, and its path inside that namespace; undefined for an unknown namespace. */
function namespaceOf(vault: DevVault, header: string | string[] | undefined, path: string): { core: DevVault; path: string } | undefined {
  const named = (typeof header === 'string' ? header : '').replace(/^\/+|\/+$/g, '');
  if (named !== '') {
    const found = vault.namespaces?.get(named);
    return found ? { core: found.core, path } : undefined;
  }
  const first = path.split('/')[0] ?? '';
  const byPath = first !== '' && path.includes('/') ? vault.namespaces?.get(first) : undefined;
  if (byPath) return { core: byPath.core, path: path.slice(first.length + 1) };
  return { core: vault, path };
}
