import type { IO } from './io.js';

/** One JSON document on stdout, newline-terminated, for scripts. */
export function writeJson(io: IO, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
