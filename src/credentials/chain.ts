import type { CredentialSourceName } from '../config/schema.js';
import { EosError, ExitCode, MalformedValueError } from '../errors.js';
import { VaultPermissionDeniedError, VaultSealedError, VaultTokenExpiredError, VaultUnreachableError } from '../vault/errors.js';
import type { Clock } from '../util/clock.js';
import type { DbCredentials } from '../db/credentials.js';
import type { CredentialSource } from './sources.js';

export interface SourceAttempt {
  source: CredentialSourceName;
  ok: boolean;
  /** Why it could not serve, its kind first (`Vault refused the token or its policy (403)`); never a secret. */
  reason?: string;
  /** The exit code that failure means on its own (docs/design.md §1). */
  exitCode?: ExitCode;
  ms: number;
}

/** A source's failure as the attempt list says it: the kind of failure first, then the detail. */
export function describeFailure(err: unknown): { reason: string; exitCode: ExitCode } {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof VaultTokenExpiredError) return { reason: message, exitCode: err.exitCode };
  if (err instanceof VaultPermissionDeniedError) return { reason: `Vault refused the token or its policy (403): ${message}`, exitCode: err.exitCode };
  if (err instanceof VaultSealedError) return { reason: `Vault is sealed: ${message}`, exitCode: err.exitCode };
  if (err instanceof VaultUnreachableError) return { reason: `Vault unreachable: ${message}`, exitCode: err.exitCode };
  if (err instanceof EosError) return { reason: message, exitCode: err.exitCode };
  return { reason: message, exitCode: ExitCode.failed };
}

/**
 * The database refused what a fallback source gave (or could not be reached with it): the real
 * cause is most often why the first source failed (a dead token sent eos to the development
 * defaults, and nothing listens there). The error leads with that, with its exit code.
 */
export function fallbackFailed(attempts: SourceAttempt[], databaseError: unknown): unknown {
  const first = attempts.find((a) => !a.ok);
  const used = attempts.find((a) => a.ok);
  if (!first || !used || !(databaseError instanceof EosError)) return databaseError;
  return new EosError(`${first.source}: ${first.reason}; the fallback to ${used.source} credentials failed too: ${databaseError.message}`, {
    exitCode: first.exitCode ?? databaseError.exitCode,
    hint: `fix the ${first.source} source first (eos self secrets status shows every source); to fail closed, allow only it: --source ${first.source}`,
    cause: databaseError,
  });
}

export interface ChainResult {
  credentials: DbCredentials;
  attempts: SourceAttempt[];
}

/**
 * No allowed source could serve. The message leads with the first source's failure — the real
 * cause, usually — and its exit code is that failure's (a refused token 4, Vault unreachable 3).
 */
export class NoCredentialsError extends EosError {
  /** `firstHint`: the first failure's own hint (its cause's fix), which leads the chain's. */
  constructor(readonly attempts: SourceAttempt[], firstHint?: string) {
    const [first, ...rest] = attempts;
    const others = rest.map((a) => `${a.source}: ${a.reason}`).join('; ');
    const sources = `allowed sources, in order: ${attempts.map((a) => a.source).join(', ') || 'none'} (credentials.sources in the config, or --source)`;
    super(first ? `${first.source}: ${first.reason}${others ? `; no other allowed source could serve (${others})` : ''}` : 'no database credentials: no source allowed', {
      exitCode: first?.exitCode ?? ExitCode.failed,
      hint: firstHint ? `${firstHint}; ${sources}` : sources,
    });
  }
}

/**
 * Tries the allowed sources in order and returns the first credentials, with every attempt and
 * its reason, so status, test and the dashboard can say why a source was skipped.
 */
export class CredentialChain {
  constructor(
    readonly sources: CredentialSource[],
    private readonly clock: Clock,
  ) {}

  get order(): CredentialSourceName[] {
    return this.sources.map((s) => s.name);
  }

  /** Resolves from the start, or from the source after `after` (a fallback when a lease died). */
  async resolve(options: { after?: CredentialSourceName } = {}): Promise<ChainResult> {
    const start = options.after ? this.sources.findIndex((s) => s.name === options.after) + 1 : 0;
    const attempts: SourceAttempt[] = [];
    let firstHint: string | undefined;
    for (const source of this.sources.slice(start)) {
      const began = this.clock.now();
      try {
        const credentials = await source.obtain();
        attempts.push({ source: source.name, ok: true, ms: this.clock.now() - began });
        return { credentials, attempts };
      } catch (err) {
        // A malformed setting (a token with a line break, a namespace that is a path) is the
        // user's to fix, not a reason to try the next source: falling back on it would run a
        // worker on other credentials than the ones asked for.
        if (err instanceof MalformedValueError) throw err;
        if (attempts.length === 0 && err instanceof EosError) firstHint = err.hint;
        attempts.push({ source: source.name, ok: false, ...describeFailure(err), ms: this.clock.now() - began });
      }
    }
    throw new NoCredentialsError(attempts, firstHint);
  }
}
