import { existsSync, readFileSync } from 'node:fs';
import type { z } from 'zod/mini';
import { ConfigError } from '../errors.js';
import { locateConfig, type ConfigLocation, type ConfigSearch } from './paths.js';
import { configSchema, DEFAULT_CONFIG, type Config, type ConfigInput } from './schema.js';

export interface LoadedConfig {
  config: Config;
  /** The file as written (no defaults filled in): what a command that rewrites it starts from. */
  input: ConfigInput;
  location: ConfigLocation;
  /** False when no file exists and the defaults are in force. */
  fromFile: boolean;
}

export type LoadOptions = Omit<ConfigSearch, 'exists'> & {
  exists?: ConfigSearch['exists'];
  /** The command writes the file (configure, set delphi-db-config): a named file may not exist yet. */
  creating?: boolean;
};

/** Finds, reads and validates the configuration. Never writes anything. */
export function loadConfig(options: LoadOptions): LoadedConfig {
  const { location, found } = locateConfig({ exists: existsSync, ...options });
  if (!found) {
    if (location.explicit && !options.creating) {
      const flag = location.origin === '--config' ? `--config ${location.path}` : `EOS_CONFIG=${location.path}`;
      throw new ConfigError(
        location.path,
        `no such file (named by ${location.origin})`,
        `create it: eos ${location.origin === '--config' ? `${flag} ` : ''}self secrets configure${location.origin === 'EOS_CONFIG' ? ` (with ${flag} set)` : ''} writes it; or name an existing file`,
      );
    }
    return { config: DEFAULT_CONFIG, input: {}, location, fromFile: false };
  }
  const { config, input } = readConfigFile(location.path);
  return { config, input, location, fromFile: true };
}

export function parseConfigFile(file: string): Config {
  return readConfigFile(file).config;
}

function readConfigFile(file: string): { config: Config; input: ConfigInput } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, `cannot read the file: ${describeFsError(err)}`, undefined, err);
  }
  const input = parseJson(file, text);
  return { config: validateConfig(file, input), input: input as ConfigInput };
}

export function parseConfigText(file: string, text: string): Config {
  return validateConfig(file, parseJson(file, text));
}

function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ConfigError(file, `not valid JSON: ${describeJsonError(text)}`);
  }
}

/** Applies the schema; a failure is a ConfigError naming the file and the field path. */
export function validateConfig(file: string, raw: unknown): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(file, describeIssues(result.error.issues));
  return result.data;
}

/** Shown in one message at most; a file with more says how many it left out. */
const MAX_LISTED = 10;

/** "vault.auth.method: must be one of …; database.port: …" — every problem, up to ten. */
function describeIssues(issues: z.core.$ZodIssue[]): string {
  if (issues.length === 0) return 'invalid configuration';
  const listed = issues.slice(0, MAX_LISTED).map(describeIssue);
  const more = issues.length > MAX_LISTED ? `; and ${issues.length - MAX_LISTED} more` : '';
  return `${issues.length > 1 ? `${issues.length} problems: ` : ''}${listed.join('; ')}${more}`;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length > 0 ? issue.path.map(String).join('.') : '(top level)';
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys;
    const secretish = keys.find((k) => /token|password|secret(?!IdFile)/i.test(k));
    if (secretish) {
      return `${where === '(top level)' ? '' : `${where}.`}${secretish}: secrets are never kept in the config file; use VAULT_TOKEN, ~/.vault-token or an AppRole secretIdFile`;
    }
    return `${where}: unknown field${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}`;
  }
  return `${where}: ${issue.message}`;
}

/**
 * Where the JSON goes wrong, as line and column. V8's messages do not always carry a position,
 * so find it: the longest prefix that still parses as "unexpected end" is the valid part.
 */
function describeJsonError(text: string): string {
  const validPrefix = (n: number) => {
    try {
      JSON.parse(text.slice(0, n));
      return true;
    } catch (err) {
      // Running out of text (reported as "end of input", or as an error at the very end) means
      // everything so far was valid.
      if (!(err instanceof SyntaxError)) return false;
      const at = /at position (\d+)/.exec(err.message);
      return /Unexpected end of JSON input|Unterminated string/.test(err.message) || (at !== null && Number(at[1]) >= n);
    }
  };
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (validPrefix(mid)) lo = mid;
    else hi = mid - 1;
  }
  if (lo >= text.length) return 'the file ends too early';
  const before = text.slice(0, lo);
  const line = before.split('\n').length;
  const column = lo - before.lastIndexOf('\n');
  return `unexpected ${JSON.stringify(text[lo])} at line ${line}, column ${column}`;
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EISDIR') return 'it is a directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return code ?? (err instanceof Error ? err.message : String(err));
}
