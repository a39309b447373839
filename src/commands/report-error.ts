import { escapeControl, isEosError } from '../errors.js';
import { redactString } from '../redact.js';
import type { IO } from './io.js';
import { writeJson } from './output.js';

/**
 * Prints a failure as `error: …` and `hint: …` on stderr and returns its exit code. A stack
 * trace is printed only with --debug, and even then passes through the secret scrubber. When
 * the command was asked for JSON, the same failure is also the JSON document on stdout
 * (docs/schemas/error.schema.json), so a script reading stdout always gets JSON.
 */
export function reportError(err: unknown, io: IO, options: { debug: boolean; json: boolean }): number {
  let message: string;
  let hint: string | null;
  let exitCode: number;
  if (isEosError(err)) {
    message = oneLine(err.message);
    hint = err.hint ? oneLine(err.hint) : null;
    exitCode = err.exitCode;
  } else {
    message = `unexpected failure: ${oneLine(err instanceof Error ? err.message : String(err))}`;
    hint = options.debug ? null : 'this is a bug in eos; run again with --debug and report the trace';
    exitCode = 1;
  }
  io.stderr.write(`error: ${message}\n`);
  if (hint) io.stderr.write(`hint: ${hint}\n`);
  if (options.debug && err instanceof Error && err.stack) io.stderr.write(`${redactString(err.stack)}\n`);
  if (options.json) writeJsonError(io, { message, hint, exitCode });
  return exitCode;
}

export function writeJsonError(io: IO, failure: { message: string; hint: string | null; exitCode: number }): void {
  writeJson(io, { error: { message: failure.message, hint: failure.hint }, exitCode: failure.exitCode });
}

/** Secrets scrubbed, control characters escaped: whatever a message carries, it stays one line. */
function oneLine(text: string): string {
  return escapeControl(redactString(text));
}
