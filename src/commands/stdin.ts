import type { Readable } from 'node:stream';

import { UsageError } from '../errors.js';

/** More than any secret eos reads this way; a file piped by mistake stops here. */
export const MAX_STDIN_BYTES = 4 * 1024 * 1024;

/** All of standard input (for secrets given with --…-stdin, never on the command line), up to MAX_STDIN_BYTES. */
export async function readStdin(stdin: Readable, what = 'standard input'): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_STDIN_BYTES) throw new UsageError(`${what} is longer than ${MAX_STDIN_BYTES} bytes`, 'pipe in only the secret itself');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
