import type { Logger } from 'pino';
import type { Config, CredentialSourceName } from '../config/schema.js';
import { systemClock, type Clock } from '../util/clock.js';
import { authenticate } from '../vault/auth.js';
import { createVaultClient } from '../vault/client.js';
import { readEosFields } from '../vault/kv.js';
import { LeaseKeeper } from '../vault/lease-keeper.js';
import { leaseStateDir, trackLeaseState } from './lease-state.js';
import { openVaultSession, type VaultSession } from '../vault/session.js';
import { CredentialChain, NoCredentialsError, type SourceAttempt } from './chain.js';
import { describeCredentials, type DbCredentials } from '../db/credentials.js';
import { RotatingPool } from '../db/rotating-pool.js';
import { SOURCE_FACTORIES, type SourceContext } from './sources.js';
import { resolveDatabaseTarget, type DbTarget, type TargetFlags } from '../db/target.js';

/**
 * Everything a command needs to use the Delphi database: the chain resolves credentials, a
 * keeper holds the lease (when they are dynamic), and a rotating pool serves queries. `close`
 * ends the pool first and revokes the lease after, as DESIGN §5 asks.
 */
export interface Database extends Omit<HeldCredentials, 'credentials'> {
  pool: RotatingPool;
  /** Ends the pool, then revokes the lease. */
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  config: Config;
  env: NodeJS.ProcessEnv;
  /** Overrides credentials.sources (the --source flag). */
  sources?: CredentialSourceName[];
  /** The Vault role (default: the config's engine.role). */
  role?: string;
  target?: TargetFlags;
  clock?: Clock;
  log?: Logger;
  warn?: (message: string) => void;
  /** Name written to the lease state file, e.g. "delphi dashboard". */
  command?: string;
  home?: string;
  pool?: ConstructorParameters<typeof RotatingPool>[0]['pool'];
}

/** The pieces of the chain, also used by `status` to say what it would pick without issuing. */
export function buildChain(options: OpenDatabaseOptions) {
  const clock = options.clock ?? systemClock;
  const warn = options.warn ?? (() => undefined);
  let session: Promise<VaultSession> | undefined;
  const vault = () => {
    // Opened once; a failure is not cached, so a later attempt (a recovery) tries again.
    session ??= openVaultSession({ config: options.config, env: options.env, home: options.home, warn }).catch((err: unknown) => {
      session = undefined;
      throw err;
    });
    return session;
  };
  let target: Promise<DbTarget> | undefined;
  const resolveTarget = () => {
    target ??= (async () => {
      let kv: Record<string, string> = {};
      try {
        const { client } = await vault();
        kv = await readEosFields(client, `${options.config.kv.mount}/delphi/config`, ['host', 'port', 'database', 'sslmode']);
      } catch {
        // Vault cannot say where the database is: the environment, the file or defaults do.
      }
      return resolveDatabaseTarget(options.target ?? {}, options.env, kv, options.config);
    })();
    return target;
  };
  const context: SourceContext = {
    env: options.env,
    clock,
    vault: async () => (await vault()).client,
    target: resolveTarget,
    kvMount: options.config.kv.mount,
    engineMount: options.config.engine.mount,
    role: options.role ?? options.config.engine.role,
    warn,
  };
  const names = options.sources ?? options.config.credentials.sources;
  const sources = names.map((name) => SOURCE_FACTORIES[name](context));
  return { chain: new CredentialChain(sources, clock), vault, resolveTarget, context, clock };
}

/** What to do when the credentials change under their user. */
export interface CredentialHooks {
  /** The keeper issued new dynamic credentials; the old lease is revoked after this resolves. */
  onRotate(next: DbCredentials, reason: string): Promise<void>;
  /** The lease expired unreplaced and the chain's next allowed source served. */
  onFallback(fallback: DbCredentials): Promise<void>;
  /** The lease expired and no other source is allowed. */
  onNoFallback(detail: string): void;
}

/** Credentials from the chain, kept alive by a keeper when they are dynamic. */
export interface HeldCredentials {
  credentials: DbCredentials;
  keeper: LeaseKeeper<DbCredentials> | undefined;
  chain: CredentialChain;
  attempts: SourceAttempt[];
  target: DbTarget | undefined;
  vault: VaultSession | undefined;
  /** Stops the keeper and revokes the lease. Close whatever uses the credentials first. */
  close(): Promise<void>;
}

export async function holdCredentials(options: OpenDatabaseOptions, hooks: CredentialHooks): Promise<HeldCredentials> {
  const { chain, vault, resolveTarget, context, clock } = buildChain(options);
  const log = options.log;
  const { credentials, attempts } = await chain.resolve();
  for (const attempt of attempts.filter((a) => !a.ok)) log?.warn({ source: attempt.source, reason: attempt.reason }, 'credential source skipped');
  log?.info({ source: credentials.source, as: describeCredentials(credentials) }, 'database credentials resolved');

  const session = credentials.source === 'dynamic' || credentials.source === 'kv' ? await vault().catch(() => undefined) : undefined;
  const dynamic = SOURCE_FACTORIES.dynamic(context);
  // The keeper times its own retries against the lease's expiry: its client must not add
  // retries of its own underneath (they could carry a renewal past the expiry).
  const leaseClient = credentials.lease && session ? createVaultClient({ settings: { ...session.settings, maxRetries: 0 }, token: session.client.token }) : undefined;
  const keeper =
    credentials.lease && session && leaseClient
      ? new LeaseKeeper<DbCredentials>({
          vault: leaseClient,
          clock,
          issue: () => dynamic.obtain(),
          renewAt: options.config.credentials.renewAt,
          log,
          onRotate: (next) => hooks.onRotate(next, 'lease rotated'),
          onExpired: async () => {
            try {
              const fallback = await chain.resolve({ after: 'dynamic' });
              log?.warn({ source: fallback.credentials.source, as: describeCredentials(fallback.credentials) }, 'dynamic lease expired: falling back');
              await hooks.onFallback(fallback.credentials);
            } catch (err) {
              const detail = err instanceof NoCredentialsError ? err.message : String(err);
              log?.error({ detail }, 'dynamic lease expired and no fallback is allowed');
              hooks.onNoFallback(detail);
            }
          },
          relogin:
            session.auth.source === 'approle'
              ? async () => {
                  await authenticate(session.client, session.settings, options.home);
                  leaseClient.token = session.client.token;
                }
              : undefined,
        })
      : undefined;
  let untrack: (() => void) | undefined;
  if (keeper) {
    await keeper.start(credentials);
    untrack = trackLeaseState(keeper, {
      dir: leaseStateDir(options.env, options.home),
      command: options.command ?? 'eos',
      role: context.role,
      now: () => clock.now(),
    });
  }
  const target = await resolveTarget().catch(() => undefined);
  let closed = false;
  return {
    credentials,
    keeper,
    chain,
    attempts,
    target,
    vault: session,
    async close() {
      if (closed) return;
      closed = true;
      await keeper?.stop({ revoke: true });
      untrack?.();
      leaseClient?.close();
      session?.client.close();
    },
  };
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  // The hooks use the pool, which is built right after the credentials (and before any hook runs:
  // the keeper acts on timers).
  const held = await holdCredentials(options, {
    onRotate: (next, reason) => pool.switchTo(next, reason),
    onFallback: async (fallback) => {
      await pool.switchTo(fallback, `fallback to ${fallback.source}`);
      pool.emit('fallback', { source: fallback.source });
    },
    onNoFallback: (detail) => pool.markExpired(detail),
  });
  const pool = new RotatingPool({ credentials: held.credentials, guard: held.keeper, log: options.log, pool: options.pool });
  return {
    pool,
    keeper: held.keeper,
    chain: held.chain,
    attempts: held.attempts,
    target: held.target,
    vault: held.vault,
    async close() {
      await pool.end();
      await held.close();
    },
  };
}
