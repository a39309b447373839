/**
 * The error model: every failure the user can meet is an EosError carrying the exit code of
 * docs/design.md §1 and a hint. The CLI prints `error: <message>` and `hint: <hint>` and exits with the
 * code; anything that is not an EosError is a bug and exits 1 with a request for --debug.
 */

export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  vaultUnavailable: 3,
  denied: 4,
  databaseUnreachable: 5,
  /** A prompt cancelled (Ctrl-C, Ctrl-D), or SIGINT: the shell's code for an interrupt. */
  cancelled: 130,
  /** SIGTERM: the shell's code for it (128 + 15). */
  terminated: 143,
  /** `exec` only, the shell's convention: the command exists but cannot be run. */
  notExecutable: 126,
  /** `exec` only, the shell's convention: no such command. */
  notFound: 127,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class EosError extends Error {
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;

  constructor(message: string, options: { exitCode: ExitCode; hint?: string; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options.exitCode;
    this.hint = options.hint;
  }
}

/** A check or an operation ran and failed (exit 1). */
export class OperationFailedError extends EosError {
  constructor(message: string, hint?: string, cause?: unknown) {
    super(message, { exitCode: ExitCode.failed, hint, cause });
  }
}

/** Bad flags, arguments or environment values (exit 2). */
export class UsageError extends EosError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: ExitCode.usage, hint });
  }
}

/**
 * A value that cannot be right whatever the state of the world — a token with a line break, an
 * address that is no URL, a namespace that is a path (exit 2). The credential chain stops on it
 * rather than trying the next source; a file that is missing or unreadable right now is not this.
 */
export class MalformedValueError extends UsageError {}

/** A configuration file that cannot be read or does not validate (exit 2). */
export class ConfigError extends EosError {
  readonly file: string;
  constructor(file: string, message: string, hint?: string, cause?: unknown) {
    super(`${file}: ${message}`, {
      exitCode: ExitCode.usage,
      hint: hint ?? 'fix that field by hand: eos never overwrites a broken file (to start afresh, move the file aside, then run eos self secrets configure)',
      cause,
    });
    this.file = file;
  }
}

/** Vault or PostgreSQL refused the credentials or the policy lacks a path (exit 4). */
export class PermissionDeniedError extends EosError {
  constructor(message: string, hint?: string, cause?: unknown) {
    super(message, { exitCode: ExitCode.denied, hint, cause });
  }
}

/** PostgreSQL cannot be reached (exit 5). */
export class DatabaseUnreachableError extends EosError {
  constructor(message: string, hint?: string, cause?: unknown) {
    super(message, { exitCode: ExitCode.databaseUnreachable, hint, cause });
  }
}

/** `exec` cannot start the worker: not found (127) or not executable (126). */
export class CommandNotRunnableError extends EosError {
  constructor(command: string, why: 'not found' | 'not executable', hint: string) {
    super(`cannot run "${command}": ${why}`, { exitCode: why === 'not found' ? ExitCode.notFound : ExitCode.notExecutable, hint });
  }
}

/** Longest user value an error message repeats; the rest is counted, not shown. */
const MAX_SHOWN = 100;

/**
 * A value the user gave, as an error message repeats it: in quotes, control characters escaped
 * (a newline must not break the one-line error), cut at 100 characters.
 */
export function quoted(value: string): string {
  const escaped = escapeControl(value);
  const cut = escaped.length > MAX_SHOWN ? `${escaped.slice(0, MAX_SHOWN)}… (${escaped.length - MAX_SHOWN} more characters)` : escaped;
  return `"${cut}"`;
}

/** Control characters as escapes (\n, \t, \x1b …), so text stays on one line and inert. */
export function escapeControl(text: string): string {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => {
    const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
    return named[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

export function isEosError(err: unknown): err is EosError {
  return err instanceof EosError;
}
