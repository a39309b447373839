import { badRequest, multierror } from '../wire.js';

/**
 * ACL policies as Vault writes and reads them: the `path "…" { capabilities = […] }` subset of
 * HCL (or the same in JSON), the old `policy = "read"` shorthand, `*` at the end of a path for
 * a prefix and `+` for one segment. How they are matched against a path is acl.ts.
 */

export const CAPABILITIES = ['create', 'read', 'update', 'patch', 'delete', 'list', 'scan', 'sudo', 'deny'] as const;
export type Capability = (typeof CAPABILITIES)[number];

export interface PathRule {
  /** As written, with the trailing `*` kept: `secret/data/delphi/*`. */
  pattern: string;
  capabilities: Capability[];
}

export interface Policy {
  name: string;
  /** The text as written, returned by reads. */
  raw: string;
  rules: PathRule[];
  /** Counts writes; 0 for the built-in policies. */
  version: number;
  modifiedMs: number | null;
}

const OLD_STYLE: Record<string, Capability[]> = {
  deny: ['deny'],
  read: ['read', 'list'],
  write: ['create', 'read', 'update', 'delete', 'list'],
  sudo: ['create', 'read', 'update', 'delete', 'list', 'sudo'],
};

const PATH_KEYS = new Set([
  'comment',
  'policy',
  'capabilities',
  'allowed_parameters',
  'denied_parameters',
  'required_parameters',
  'min_wrapping_ttl',
  'max_wrapping_ttl',
  'mfa_methods',
  'pagination_limit',
  'expiration',
  'list_scan_response_keys_filter_path',
  'control_group',
]);

/** Parses a policy; a mistake is a 400 `failed to parse policy: …` as Vault gives it. */
export function parsePolicy(name: string, raw: string): Policy {
  const fail = (message: string) => badRequest(`failed to parse policy: ${message}`);
  let top: Entry[];
  try {
    top = raw.trim().startsWith('{') ? jsonEntries(JSON.parse(raw) as unknown) : new HclParser(raw).document();
  } catch (err) {
    throw fail(err instanceof Error ? err.message : String(err));
  }
  // Vault's HCL reports the line of the key's `=`: 0 for a block, which has none.
  const invalid = top.filter((e) => e.key !== 'path' && e.key !== 'name');
  if (invalid.length > 0) throw fail(multierror(`invalid key "${invalid[0]?.key}" on line ${invalid[0]?.line}`));
  const rules: PathRule[] = [];
  for (const entry of top.filter((e) => e.key === 'path')) {
    for (const [pattern, body] of pathBlocks(entry)) {
      const bad = body.find((e) => !PATH_KEYS.has(e.key));
      if (bad) throw fail(multierror(`path "${pattern}": invalid key "${bad.key}" on line ${bad.line}`));
      let capabilities: string[] = [];
      const old = body.find((e) => e.key === 'policy')?.value;
      if (typeof old === 'string') {
        const mapped = OLD_STYLE[old];
        if (!mapped) throw fail(`path "${pattern}": invalid policy "${old}"`);
        capabilities.push(...mapped);
      }
      const listed = body.find((e) => e.key === 'capabilities')?.value;
      if (Array.isArray(listed)) capabilities.push(...listed.map(String));
      for (const capability of capabilities) {
        if (!(CAPABILITIES as readonly string[]).includes(capability) && capability !== 'scan') {
          throw fail(`path "${pattern}": invalid capability "${capability}"`);
        }
      }
      const clean = pattern.replace(/^\//, '');
      if (clean.includes('+*')) throw fail(`path "${clean}": invalid use of wildcards ('+*' is forbidden)`);
      if (capabilities.includes('deny')) capabilities = ['deny'];
      rules.push({ pattern: clean, capabilities: [...new Set(capabilities)].filter((c): c is Capability => c !== 'scan') });
    }
  }
  return { name, raw, rules, version: 0, modifiedMs: null };
}

/** Vault's built-in `default` policy, trimmed to the paths this server serves. */
export const DEFAULT_POLICY = `# Allow tokens to look up their own properties
path "auth/token/lookup-self" {
    capabilities = ["read"]
}

# Allow tokens to renew themselves
path "auth/token/renew-self" {
    capabilities = ["update"]
}

# Allow tokens to revoke themselves
path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own capabilities on a path
path "sys/capabilities-self" {
    capabilities = ["update"]
}

# Allow a token to renew a lease via lease_id in the request body
path "sys/leases/renew" {
    capabilities = ["update"]
}

# Allow looking up lease properties. This requires knowing the lease ID ahead
# of time and does not divulge any sensitive information.
path "sys/leases/lookup" {
    capabilities = ["update"]
}

# Allow a token to manage its own cubbyhole
path "cubbyhole/*" {
    capabilities = ["create", "read", "update", "delete", "list"]
}
`;

// ---- the HCL subset ----

interface Entry {
  key: string;
  line: number;
  /** `path "x" { … }` carries its label. */
  label?: string;
  value: unknown;
}

function pathBlocks(entry: Entry): [string, Entry[]][] {
  if (entry.label !== undefined) return [[entry.label, entry.value as Entry[]]];
  // JSON form: "path": {"<pattern>": {"capabilities": [...]}}
  const object = entry.value as Entry[];
  return object.map((e) => [e.key, Array.isArray(e.value) && e.value.every(isEntry) ? (e.value as Entry[]) : []]);
}

function isEntry(value: unknown): value is Entry {
  return typeof value === 'object' && value !== null && 'key' in value && 'line' in value;
}

function jsonEntries(value: unknown): Entry[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('does not contain a root object');
  return Object.entries(value).map(([key, v]) => ({ key, line: 1, value: jsonValue(v) }));
}

function jsonValue(value: unknown): unknown {
  if (Array.isArray(value)) return value;
  if (typeof value === 'object' && value !== null) return jsonEntries(value);
  return value;
}

type Token = { kind: 'string' | 'ident' | 'number' | 'punct'; text: string; line: number };

class HclParser {
  private readonly tokens: Token[];
  private at = 0;

  constructor(source: string) {
    this.tokens = tokenize(source);
  }

  document(): Entry[] {
    const entries = this.entries();
    if (this.peek()) throw new Error(`At ${this.peek()?.line}: unexpected token "${this.peek()?.text}"`);
    return entries;
  }

  private entries(): Entry[] {
    const entries: Entry[] = [];
    while (this.peek() && this.peek()?.text !== '}') {
      const keyToken = this.next();
      if (keyToken.kind !== 'ident' && keyToken.kind !== 'string') throw new Error(`At ${keyToken.line}: expected a key, got "${keyToken.text}"`);
      const next = this.peek();
      if (next?.kind === 'string') {
        // key "label" { … }
        const label = this.next().text;
        if (this.peek()?.text === '=') this.next();
        this.expect('{');
        const body = this.entries();
        this.expect('}');
        entries.push({ key: keyToken.text, line: 0, label, value: body });
        continue;
      }
      if (next?.text === '{') {
        this.next();
        const body = this.entries();
        this.expect('}');
        entries.push({ key: keyToken.text, line: 0, value: body });
        continue;
      }
      this.expect('=');
      entries.push({ key: keyToken.text, line: keyToken.line, value: this.value() });
      if (this.peek()?.text === ',') this.next();
    }
    return entries;
  }

  private value(): unknown {
    const token = this.next();
    if (token.kind === 'string') return token.text;
    if (token.kind === 'number') return Number(token.text);
    if (token.kind === 'ident' && (token.text === 'true' || token.text === 'false')) return token.text === 'true';
    if (token.text === '[') {
      const items: unknown[] = [];
      while (this.peek()?.text !== ']') {
        items.push(this.value());
        if (this.peek()?.text === ',') this.next();
        else break;
      }
      this.expect(']');
      return items;
    }
    if (token.text === '{') {
      const body = this.entries();
      this.expect('}');
      return body;
    }
    throw new Error(`At ${token.line}: unexpected token "${token.text}"`);
  }

  private peek(): Token | undefined {
    return this.tokens[this.at];
  }

  private next(): Token {
    const token = this.tokens[this.at];
    if (!token) throw new Error('unexpected end of input');
    this.at += 1;
    return token;
  }

  private expect(text: string): void {
    const token = this.next();
    if (token.text !== text || token.kind === 'string') throw new Error(`At ${token.line}: expected "${text}", got "${token.text}"`);
  }
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  while (i < source.length) {
    const c = source[i] as string;
    if (c === '\n') {
      line += 1;
      i += 1;
    } else if (/\s/.test(c)) i += 1;
    else if (c === '#' || (c === '/' && source[i + 1] === '/')) {
      while (i < source.length && source[i] !== '\n') i += 1;
    } else if (c === '/' && source[i + 1] === '*') {
      const end = source.indexOf('*/', i + 2);
      if (end === -1) throw new Error(`At ${line}: comment not terminated`);
      line += source.slice(i, end).split('\n').length - 1;
      i = end + 2;
    } else if (c === '"') {
      let text = '';
      i += 1;
      while (i < source.length && source[i] !== '"') {
        if (source[i] === '\n') throw new Error(`At ${line}: literal not terminated`);
        if (source[i] === '\\') {
          const escaped = source[i + 1];
          text += escaped === 'n' ? '\n' : escaped === 't' ? '\t' : (escaped ?? '');
          i += 2;
        } else {
          text += source[i];
          i += 1;
        }
      }
      if (source[i] !== '"') throw new Error(`At ${line}: literal not terminated`);
      i += 1;
      tokens.push({ kind: 'string', text, line });
    } else if ('{}[]=,'.includes(c)) {
      tokens.push({ kind: 'punct', text: c, line });
      i += 1;
    } else if (/[0-9-]/.test(c)) {
      const match = /^-?[0-9.]+/.exec(source.slice(i));
      const text = match?.[0] ?? c;
      tokens.push({ kind: 'number', text, line });
      i += text.length;
    } else if (/[A-Za-z_]/.test(c)) {
      const text = /^[A-Za-z0-9_.-]+/.exec(source.slice(i))?.[0] as string;
      tokens.push({ kind: 'ident', text, line });
      i += text.length;
    } else {
      throw new Error(`At ${line}: illegal char "${c}"`);
    }
  }
  return tokens;
}
