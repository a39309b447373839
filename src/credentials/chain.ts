import type { CredentialSourceName } from '../config/schema.js';
import { EosError, ExitCode } from '../errors.js';
import type { Clock } from '../util/clock.js';
import type { DbCredentials } from '../db/credentials.js';
import type { CredentialSource } from './sources.js';

export interface SourceAttempt {
  source: CredentialSourceName;
  ok: boolean;
  /** Why it could not serve (never a secret). */
  reason?: string;
  ms: number;
}

export interface ChainResult {
  credentials: DbCredentials;
  attempts: SourceAttempt[];
}

export class NoCredentialsError extends EosError {
  constructor(readonly attempts: SourceAttempt[], exitCode: ExitCode) {
    const list = attempts.map((a) => `${a.source}: ${a.reason}`).join('; ');
    super(`no database credentials: ${list || 'no source allowed'}`, {
      exitCode,
      hint: `allowed sources, in order: ${attempts.map((a) => a.source).join(', ') || 'none'} (credentials.sources in the config, or --source)`,
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
    let firstError: unknown;
    for (const source of this.sources.slice(start)) {
      const began = this.clock.now();
      try {
        const credentials = await source.obtain();
        attempts.push({ source: source.name, ok: true, ms: this.clock.now() - began });
        return { credentials, attempts };
      } catch (err) {
        firstError ??= err;
        attempts.push({ source: source.name, ok: false, reason: err instanceof Error ? err.message : String(err), ms: this.clock.now() - began });
      }
    }
    throw new NoCredentialsError(attempts, firstError instanceof EosError ? firstError.exitCode : ExitCode.failed);
  }
}
