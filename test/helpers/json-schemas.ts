import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { REPO_ROOT } from './paths.js';

/**
 * The published shapes of eos's `--json` outputs (docs/schemas/*.schema.json), checked with
 * ajv: runCli validates every JSON document a test makes eos print, so an output that drifts
 * from its schema — or a schema that drifts from the output — fails the test that printed it.
 */

const SCHEMA_DIR = path.join(REPO_ROOT, 'docs', 'schemas');

// Strict, except that `required` may name keys whose shape the schema leaves open.
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
for (const file of readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.schema.json'))) {
  ajv.addSchema(JSON.parse(readFileSync(path.join(SCHEMA_DIR, file), 'utf8')) as object);
}

/** Which schema a command's JSON output follows, by the command's path. */
const SCHEMAS: [string[], string][] = [
  [['self', 'config', 'show'], 'config-show'],
  [['self', 'secrets', 'configure'], 'configure'],
  [['self', 'secrets', 'set', 'delphi-db-config'], 'db-config'],
  [['self', 'secrets', 'set', 'delphi-db-engine'], 'db-engine'],
  [['self', 'secrets', 'test'], 'test'],
  [['self', 'secrets', 'status'], 'status'],
  [['self', 'secrets', 'audit'], 'audit'],
  [['self', 'secrets', 'get'], 'get'],
  [['self', 'secrets', 'env'], 'env'],
  [['delphi', 'dashboard'], 'dashboard'],
  [['delphi', 'schema', 'status'], 'schema-status'],
  [['delphi', 'schema', 'apply'], 'schema-apply'],
  [['delphi', 'schema', 'verify'], 'schema-verify'],
  [['sandbox'], 'sandbox'],
];

const GLOBAL_WITH_VALUE = new Set(['--config', '--log-file', '--log-level']);

/** The command path in an argument list, after any global options. */
function commandPath(args: string[]): string[] {
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') break;
    if (GLOBAL_WITH_VALUE.has(arg)) i++;
    else if (!arg.startsWith('-')) words.push(arg);
  }
  return words;
}

export function schemaNameFor(args: string[]): string | undefined {
  const words = commandPath(args);
  return SCHEMAS.find(([p]) => p.every((w, i) => words[i] === w))?.[1];
}

/** Throws, naming each mismatch, unless `document` fits the schema (`error` for failures). */
export function assertFitsSchema(name: string, document: unknown): void {
  const schema = document && typeof document === 'object' && 'error' in document ? 'error' : name;
  const validate = ajv.getSchema(`${schema}.schema.json`);
  if (!validate) throw new Error(`no schema docs/schemas/${schema}.schema.json`);
  if (!validate(document)) {
    const problems = (validate.errors ?? []).map((e: ErrorObject) => `${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
    throw new Error(`--json output does not fit docs/schemas/${schema}.schema.json: ${problems.join('; ')}`);
  }
}
