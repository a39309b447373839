import { escapeControl, isEosError } from '../errors.js';
import { redactString } from '../redact.js';
import type { IO } from './io.js';

/**
 * Prints a failure as `error: …` and `hint: …` on stderr and returns its exit code. A stack
 * trace is printed only with --debug, and even then passes through the secret scrubber.
 */
export function reportError(err: unknown, io: IO, debug: boolean): number {
  if (isEosError(err)) {
    io.stderr.write(`error: ${oneLine(err.message)}\n`);
    if (err.hint) io.stderr.write(`hint: ${oneLine(err.hint)}\n`);
    if (debug && err.stack) io.stderr.write(`${redactString(err.stack)}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  io.stderr.write(`error: unexpected failure: ${oneLine(message)}\n`);
  if (debug && err instanceof Error && err.stack) {
    io.stderr.write(`${redactString(err.stack)}\n`);
  } else {
    io.stderr.write('hint: this is a bug in eos; run again with --debug and report the trace\n');
  }
  return 1;
}

/** Secrets scrubbed, control characters escaped: whatever a message carries, it stays one line. */
function oneLine(text: string): string {
  return escapeControl(redactString(text));
}
