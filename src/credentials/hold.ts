import type { DbCredentials } from '../db/credentials.js';
import { describeCredentials } from '../db/credentials.js';
import type { DbTarget } from '../db/target.js';
import { authenticate } from '../vault/auth.js';
import { createVaultClient } from '../vault/client.js';
import { LeaseKeeper } from '../vault/lease-keeper.js';
import { watchLease, type LeaseWatch } from '../vault/lease-watch.js';
import type { VaultSession } from '../vault/session.js';
import { buildChain, type ChainOptions } from './build-chain.js';
import { NoCredentialsError, type CredentialChain, type SourceAttempt } from './chain.js';
import { leaseStateDir, trackLeaseState } from './lease-state.js';
import { SOURCE_FACTORIES } from './sources.js';

/**
 * Credentials from the chain, kept alive by a lease keeper when they are dynamic, with a lease
 * state file for `status`. The hooks say what their user does when they change.
 */

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
  /** The lease's expiry and the keeper's events, for whoever watches them (metrics). */
  watch: LeaseWatch;
  /**
   * Stops the keeper and revokes the lease (or, with `keepLease`, leaves it to expire at its TTL
   * for someone else to use); removes the lease state file either way. Close whatever uses the
   * credentials first.
   */
  close(options?: { keepLease?: boolean }): Promise<void>;
  /** Tells `status` (through the lease state file) which host the pool's sessions go to now. */
  noteDatabase(where: { host: string; standby: boolean | null }): void;
}

export async function holdCredentials(options: ChainOptions, hooks: CredentialHooks): Promise<HeldCredentials> {
  const { chain, vault, resolveTarget, context, clock } = buildChain(options);
  const log = options.log;
  const { credentials, attempts } = await chain.resolve();
  // Every command says on stderr which sources it skipped and why, not only the log.
  for (const attempt of attempts.filter((a) => !a.ok)) {
    log?.warn({ source: attempt.source, reason: attempt.reason }, 'credential source skipped');
    options.warn?.(`credential source ${attempt.source} skipped: ${attempt.reason}`);
  }
  log?.info({ source: credentials.source, as: describeCredentials(credentials) }, 'database credentials resolved');

  const session = credentials.source === 'dynamic' || credentials.source === 'kv' ? await vault().catch(() => undefined) : undefined;
  const dynamic = SOURCE_FACTORIES.dynamic(context);
  // The keeper times its own retries against the lease's expiry: its client must not add
  // retries of its own underneath (they could carry a renewal past the expiry).
  // Nor may one request hang for the client's whole timeout (60 s by default) on a frozen Vault.
  const leaseClient = credentials.lease && session ? createVaultClient({ settings: { ...session.settings, maxRetries: 0, timeoutSeconds: Math.min(session.settings.timeoutSeconds, 10) }, token: session.client.token }) : undefined;
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
          // AppRole and JWT log in again (JWT with the identity token as it is now: the platform
          // may have rotated it); a token file is read again (whoever writes it — Vault Agent, a
          // CI job — may have put a fresh token there). A token from VAULT_TOKEN cannot be replaced.
          relogin:
            session.auth.source === 'approle' || session.auth.source === 'jwt' || session.auth.source === 'token-file'
              ? async () => {
                  const before = session.client.token;
                  await authenticate(session.client, session.settings, options.home, options.env);
                  if (session.auth.source === 'token-file' && session.client.token === before) {
                    throw new Error(`the token file still holds the same token`);
                  }
                  leaseClient.token = session.client.token;
                }
              : undefined,
          warn: options.warn,
        })
      : undefined;
  let tracked: ReturnType<typeof trackLeaseState> | undefined;
  if (keeper) {
    await keeper.start(credentials);
    tracked = trackLeaseState(keeper, {
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
    watch: watchLease(keeper),
    noteDatabase: (where) => tracked?.touch(where),
    async close(options = {}) {
      if (closed) return;
      closed = true;
      await keeper?.stop({ revoke: !options.keepLease });
      tracked?.stop();
      leaseClient?.close();
      session?.client.close();
    },
  };
}

