import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';

/**
 * The lines of a stream, each at most `maxBytes`: a longer one is given as `null` (counted by
 * the caller as unreadable) and skipped, never held whole — readline would build it into one
 * string and throw once it passed V8's limit (a 600 MB line in a log file kills the process).
 */
export async function* boundedLines(input: Readable, maxBytes: number): AsyncGenerator<string | null> {
  let current: string[] = [];
  let size = 0;
  let tooLong = false;
  for await (const chunk of input) {
    let text = typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    for (;;) {
      const newline = text.indexOf('\n');
      const piece = newline === -1 ? text : text.slice(0, newline);
      if (!tooLong) {
        size += Buffer.byteLength(piece);
        if (size > maxBytes) {
          tooLong = true;
          current = [];
        } else current.push(piece);
      }
      if (newline === -1) break;
      yield tooLong ? null : current.join('').replace(/\r$/, '');
      current = [];
      size = 0;
      tooLong = false;
      text = text.slice(newline + 1);
    }
  }
  if (tooLong) yield null;
  else if (current.join('') !== '') yield current.join('').replace(/\r$/, '');
}

/** A log line longer than this is skipped (and counted): no audit or log entry is near it. */
export const MAX_LOG_LINE_BYTES = 1024 * 1024;

/**
 * A file's lines, as boundedLines gives them. A file that cannot be read — missing, refused, a
 * directory (which opens, then fails on the first read) — is `cannotRead(its code)`, one error
 * the caller words for the user, whenever it comes.
 */
export async function* fileLines(file: string, cannotRead: (reason: string) => Error, maxBytes = MAX_LOG_LINE_BYTES): AsyncGenerator<string | null> {
  try {
    yield* boundedLines(createReadStream(file, { encoding: 'utf8' }), maxBytes);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw typeof code === 'string' ? cannotRead(code) : err;
  }
}
