import type { IO } from './io.js';

/**
 * The version of every `--json` document's shape (docs/schemas/). It changes only when a field
 * is removed, renamed or changes meaning; fields may be added within a version.
 */
export const JSON_SCHEMA_VERSION = 1;

/** One JSON document on stdout, newline-terminated, for scripts: `schemaVersion` first. */
export function writeJson(io: IO, value: object): void {
  io.stdout.write(`${JSON.stringify({ schemaVersion: JSON_SCHEMA_VERSION, ...value }, null, 2)}\n`);
}

/** Whether the command line asks for JSON (`--json`, `--format json`); what follows `--` is the worker's. */
export function wantsJson(argv: string[]): boolean {
  const own = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  return own.includes('--json') || own.includes('--format=json') || own.some((arg, i) => arg === '--format' && own[i + 1] === 'json');
}
