import { AUDITOR_POLICY } from './policies.js';
import { hostsOf } from '../db/host-locator.js';
import { describeHosts } from '../db/hosts.js';
import type { Config, CredentialSourceName } from '../config/schema.js';
import type { LoadedConfig } from '../config/load.js';
import { resolveVaultSettings } from '../config/vault-settings.js';
import { buildChain } from '../credentials/build-chain.js';
import { defaultsReachable, SOURCE_FACTORIES, type SourceContext } from '../credentials/sources.js';
import { resolveDatabaseTarget, type DbTarget } from '../db/target.js';
import { ExitCode, isEosError } from '../errors.js';
import { leaseStateDir, readLeaseStates, sha256, type LeaseStateRecord } from '../credentials/lease-state.js';
import type { VaultSession } from '../vault/session.js';
import { VaultNotFoundError, VaultPermissionDeniedError } from '../vault/errors.js';
import type { VaultClient } from '../vault/client.js';
import { describeMount } from '../vault/kv.js';
import { mountsSchema } from '../vault/responses.js';
import { checkGrants, describeMissing } from './token-grants.js';

/**
 * `eos self secrets status`: what is configured, whether Vault and the token are healthy, which
 * credential source would be used and why, and the leases running eos processes hold —
 * without issuing anything: status never mints a lease.
 */

export interface SourceVerdict {
  source: CredentialSourceName;
  available: boolean;
  reason: string;
}

export interface HeldLease extends LeaseStateRecord {
  /** Found among Vault's leases (true), not found (false), or not known (null: see `unconfirmedWhy`). */
  confirmed: boolean | null;
  ttl: number | null;
  /** Why `confirmed` is null: Vault not usable, the token may not list leases, … */
  unconfirmedWhy?: string;
}

export interface StatusReport {
  config: { file: string; present: boolean; vaultAddress: string; auth: string };
  database: DbTarget | null;
  /** Why the target could not be resolved (a bad host or name from KV, say); `database` is then null. */
  databaseError?: string;
  /** `hint`: what to do about `error`, as the error line of any other command gives it. */
  vault: { ok: boolean; version?: string; sealed?: boolean; standby?: boolean; error?: string; hint?: string };
  token: { ok: boolean; source?: string; ttl?: number; renewable?: boolean; policies?: string[]; expireTime?: string | null; error?: string; hint?: string };
  /**
   * `checked` is false when Vault could not be asked (then the rest says nothing). null: the
   * token may not ask. `missing` names each capability eos needs that the token lacks.
   */
  engine: { checked: boolean; mounted: boolean | null; role: boolean | null; connection: boolean | null; canIssue?: boolean | null; missing?: string[]; error?: string };
  sources: SourceVerdict[];
  wouldUse: CredentialSourceName | null;
  leases: HeldLease[];
  exitCode: number;
}

export async function collectStatus(loaded: LoadedConfig, env: NodeJS.ProcessEnv, home?: string): Promise<StatusReport> {
  const config: Config = loaded.config;
  const settings = resolveVaultSettings({}, env, config);
  const report: StatusReport = {
    config: { file: loaded.location.path, present: loaded.fromFile, vaultAddress: settings.address, auth: settings.auth.method },
    database: null,
    vault: { ok: false },
    token: { ok: false },
    engine: { checked: false, mounted: false, role: false, connection: false },
    sources: [],
    wouldUse: null,
    leases: [],
    exitCode: ExitCode.ok,
  };
  // The chain's own Vault session and sources: status judges them as they would run, but never
  // asks the dynamic source (that would mint a lease).
  const chain = buildChain({ config, env, home, warn: () => undefined });
  let session: VaultSession | undefined;
  let vaultError: unknown;
  try {
    session = await chain.vault();
  } catch (err) {
    vaultError = err;
  }
  const client = session?.client;
  try {
    if (client) {
      // Health and the token are asked together; the token counts only if Vault is healthy.
      const [health, token] = await Promise.allSettled([client.health(), client.lookupSelf()]);
      if (health.status === 'fulfilled') {
        report.vault = { ok: true, version: health.value.version, sealed: health.value.sealed, standby: health.value.standby };
        if (token.status === 'fulfilled') {
          const t = token.value;
          report.token = { ok: true, source: session?.auth.source, ttl: t.ttl, renewable: t.renewable, policies: t.policies, expireTime: t.expire_time };
        } else {
          vaultError = token.reason;
          report.token = { ok: false, ...failure(token.reason) };
        }
      } else {
        vaultError = health.reason;
        report.vault = { ok: false, ...failure(health.reason) };
      }
    } else {
      // No session: Vault may be down, or up and refusing the login (a used wrapped secret-id,
      // a wrong secret-id file). Vault's own health says which the vault line is.
      const loginRefused = isEosError(vaultError) && vaultError.exitCode !== ExitCode.vaultUnavailable;
      const health = loginRefused ? await healthOf(settings).catch(() => undefined) : undefined;
      report.vault = health ? { ok: true, version: health.version, sealed: health.sealed, standby: health.standby } : { ok: false, ...failure(vaultError) };
      report.token = { ok: false, ...failure(vaultError) };
    }
    const vaultUsable = client && report.vault.ok && report.token.ok;

    // Without a usable Vault, the target comes from env, file and defaults (no network retries).
    const context: SourceContext = vaultUsable ? chain.context : { ...chain.context, target: async () => resolveDatabaseTarget({}, env, {}, config) };
    const judging = { config, context, vaultUsable: Boolean(vaultUsable), report };
    // The engine, the target and the sources that do not depend on the engine are asked
    // together; the dynamic source is judged from the engine's answers once they are in.
    const checkEngine = async () => {
      if (!vaultUsable) return;
      report.engine.checked = true;
      const mount = config.engine.mount;
      // Each answer counts as known only where the token may ask: a least-privilege token may
      // not read the role or the connection (null), and needs not.
      const exists = async (path: string) =>
        client.read(path).then(
          () => true,
          (err: unknown) => {
            if (err instanceof VaultNotFoundError) return false;
            if (err instanceof VaultPermissionDeniedError) return null;
            throw err;
          },
        );
      try {
        // Asked together; the role and connection answers count only under a database mount.
        const [mounted, role, connection, grants] = await Promise.allSettled([
          isDatabaseMount(client, mount),
          exists(`${mount}/roles/${config.engine.role}`),
          exists(`${mount}/config/${config.engine.connection}`),
          checkGrants(client, { mount, role: config.engine.role, workerRole: config.engine.workerRole }),
        ]);
        if (grants.status === 'fulfilled' && !('unknown' in grants.value)) {
          report.engine.missing = grants.value.filter((g) => !g.ok).map(describeMissing);
          report.engine.canIssue = grants.value.find((g) => g.essential)?.ok ?? null;
        }
        if (mounted.status === 'rejected') throw mounted.reason;
        report.engine.mounted = mounted.value;
        if (report.engine.mounted !== false) {
          if (role.status === 'rejected') throw role.reason;
          if (connection.status === 'rejected') throw connection.reason;
          report.engine.role = role.value;
          report.engine.connection = connection.value;
        }
      } catch (err) {
        report.engine.error = message(err);
      }
    };
    const [, database, verdicts] = await Promise.all([
      checkEngine(),
      context.target().catch((err: unknown) => {
        report.databaseError = message(err);
        return null;
      }),
      Promise.all(config.credentials.sources.map((source) => (source === 'dynamic' ? undefined : judge(source, judging)))),
    ]);
    report.database = database;
    for (const [i, source] of config.credentials.sources.entries()) report.sources.push(verdicts[i] ?? (await judge(source, judging)));
    report.wouldUse = report.sources.find((s) => s.available)?.source ?? null;

    // What running eos processes hold, confirmed in Vault where the token may list leases.
    const states = readLeaseStates(leaseStateDir(env, home));
    const notUsable = report.vault.ok ? `token refused: ${report.token.error ?? 'unknown'}` : `Vault not usable: ${report.vault.error ?? 'unknown'}`;
    for (const state of states) {
      let confirmed: boolean | null = null;
      let ttl: number | null = null;
      let unconfirmedWhy: string | undefined;
      if (!vaultUsable) unconfirmedWhy = `not checked (${notUsable})`;
      else if (state.leaseSha256 && state.lease) {
        const prefix = state.lease.slice(0, state.lease.lastIndexOf('/') + 1);
        try {
          const keys = await client.list(`sys/leases/lookup/${prefix}`);
          const match = keys.map((k) => `${prefix}${k}`).find((id) => sha256(id) === state.leaseSha256);
          confirmed = Boolean(match);
          if (match) ttl = (await client.lookupLease(match)).ttl;
        } catch (err) {
          if (err instanceof VaultNotFoundError) confirmed = false; // nothing under that prefix: gone
          // A reader's or worker's token may not list leases (a root path): the holder renews its own.
          else unconfirmedWhy = err instanceof VaultPermissionDeniedError ? `not confirmed: listing sys/leases/lookup/${prefix} needs a token with ${AUDITOR_POLICY} (this one: 403)` : `not confirmed: ${message(err)}`;
        }
      }
      report.leases.push({ ...state, confirmed, ttl, ...(unconfirmedWhy ? { unconfirmedWhy } : {}) });
    }
  } finally {
    client?.close();
  }

  if (!report.vault.ok || !report.token.ok) {
    report.exitCode = isEosError(vaultError) ? vaultError.exitCode : ExitCode.vaultUnavailable;
  } else if (!report.wouldUse || (config.credentials.sources.includes('dynamic') && !report.sources.find((v) => v.source === 'dynamic')?.available)) {
    report.exitCode = ExitCode.failed;
  }
  return report;
}

/**
 * Whether the mount is a database engine: from sys/mounts when the token may read it, else from
 * the mount lookup, which Vault answers to a token with access below the mount; null if neither.
 */
async function isDatabaseMount(client: VaultClient, mount: string): Promise<boolean | null> {
  try {
    const mounts = await client.read('sys/mounts', mountsSchema);
    return (mounts.data ?? {})[`${mount}/`]?.type === 'database';
  } catch (err) {
    if (!(err instanceof VaultPermissionDeniedError)) throw err;
  }
  try {
    return (await describeMount(client, `${mount}/`)).type === 'database';
  } catch (err) {
    if (err instanceof VaultPermissionDeniedError) return null;
    throw err;
  }
}

async function judge(
  source: CredentialSourceName,
  ctx: { config: Config; context: SourceContext; vaultUsable: boolean; report: StatusReport },
): Promise<SourceVerdict> {
  const { config, context, vaultUsable, report } = ctx;
  if (source === 'dynamic') {
    if (!vaultUsable) return { source, available: false, reason: `Vault not usable: ${report.vault.error ?? report.token.error ?? 'unknown'}` };
    const creds = `${config.engine.mount}/creds/${config.engine.role}`;
    if (report.engine.canIssue === false) return { source, available: false, reason: report.engine.missing?.[0] ?? `the token cannot read ${creds}` };
    if (report.engine.mounted === false) return { source, available: false, reason: `no database engine at ${config.engine.mount}/` };
    if (report.engine.role === false) return { source, available: false, reason: `no role ${config.engine.role} at ${config.engine.mount}/roles/` };
    return { source, available: true, reason: `would issue from ${creds}` };
  }
  if (source === 'kv' && !vaultUsable) return { source, available: false, reason: 'Vault not usable' };
  if (source === 'defaults') {
    const { reachable, reason } = await defaultsReachable();
    return { source, available: reachable, reason };
  }
  // kv and env issue nothing: asking them is how to know.
  try {
    const c = await SOURCE_FACTORIES[source](context).obtain();
    // Every host of a list: which one a session gets is asked at connection time.
    return { source, available: true, reason: `would connect as ${c.user} to ${describeHosts(hostsOf(c))}/${c.database}` };
  } catch (err) {
    return { source, available: false, reason: message(err) };
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** sys/health alone, with a client of its own (the session's login failed). */
async function healthOf(settings: ReturnType<typeof resolveVaultSettings>) {
  const { createVaultClient } = await import('../vault/client.js');
  const client = createVaultClient({ settings: { ...settings, maxRetries: 0 } });
  try {
    return await client.health();
  } finally {
    client.close();
  }
}

/** An error's line and, when eos knows one, its hint. */
function failure(err: unknown): { error: string; hint?: string } {
  const hint = isEosError(err) ? err.hint : undefined;
  return { error: message(err), ...(hint ? { hint } : {}) };
}
