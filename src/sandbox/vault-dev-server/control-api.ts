import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, send } from './http-io.js';
import type { VaultState } from './state/vault-state.js';

/**
 * The control API under /__dev/ (not part of Vault's API): tests and demos inject faults,
 * latency, dropped connections and a pause, seal the server or make it a standby, and read the
 * leases held and the request counts (docs/vault-dev-server.md).
 */

interface Fault {
  pathPrefix: string;
  method?: string;
  status: number;
  errors: string[];
  retryAfter?: number;
  remaining: number;
}

export interface Faults {
  failures: Fault[];
  latency: { ms: number; pathPrefix: string } | null;
  drops: { pathPrefix: string; remaining: number }[];
  requests: number;
  byPath: Map<string, number>;
  /** While set, the server is frozen: requests and expiry timers wait for it to resolve. */
  paused: Promise<void> | null;
}

export function noFaults(): Faults {
  return { failures: [], latency: null, drops: [], requests: 0, byPath: new Map(), paused: null };
}

/** The control API for tests and demos; not part of Vault's API. */
export async function control(state: VaultState, faults: Faults, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const reply = (status: number, value?: unknown) => send(res, { status, body: value }, req);
  // The control API seals, pauses and redirects the server and lists every lease: on a shared
  // machine or a CI runner, only whoever holds a root token may use it (docs/security.md).
  const header = req.headers['x-vault-token'];
  const token = state.tokens.lookup(typeof header === 'string' ? header : undefined);
  if (!token?.isRoot) return reply(403, { errors: ['permission denied: the control API needs a root token (X-Vault-Token)'] });
  const route = url.pathname.slice('/__dev/'.length);
  const body = await readBody(req).catch(() => ({}) as Record<string, unknown>);
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
      state.node.sealed = true;
      return reply(204);
    case 'POST unseal':
      state.node.sealed = false;
      return reply(204);
    case 'POST standby':
      state.node.standbyRedirect = typeof body.redirect === 'string' && body.redirect !== '' ? body.redirect.replace(/\/+$/, '') : null;
      return reply(204);
    case 'GET leases':
      return reply(200, {
        leases: state.leases.list().map((l) => ({
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
