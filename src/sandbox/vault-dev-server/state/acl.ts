import type { Capability, Policy } from './policy.js';

/**
 * Matching follows Vault's rules (docs "Policy syntax"): an exact path wins; otherwise the most
 * specific pattern, judged by where its first wildcard sits, then prefix or not, then fewer
 * `+`, then length. Rules for the same pattern in several policies add up, and `deny` on a
 * pattern overrides everything granted for it.
 */

interface Compiled {
  /** The pattern without a trailing `*` when it is a plain prefix. */
  path: string;
  prefix: boolean;
  segments: boolean;
  bits: Set<Capability>;
}

/** The union of a token's policies, asked per path (Vault's ACL object). */
export class Acl {
  private readonly exact = new Map<string, Compiled>();
  private readonly prefixes = new Map<string, Compiled>();
  private readonly wildcards = new Map<string, Compiled>();

  constructor(policies: Policy[]) {
    for (const policy of policies) {
      for (const rule of policy.rules) {
        const segments = rule.pattern === '+' || rule.pattern.includes('/+') || rule.pattern.startsWith('+/');
        const prefix = !segments && rule.pattern.endsWith('*');
        const path = prefix ? rule.pattern.slice(0, -1) : rule.pattern;
        const table = segments ? this.wildcards : prefix ? this.prefixes : this.exact;
        const existing = table.get(segments ? rule.pattern : path);
        if (!existing) {
          table.set(segments ? rule.pattern : path, { path, prefix, segments, bits: new Set(rule.capabilities) });
        } else if (existing.bits.has('deny')) {
          // An explicit deny stays.
        } else if (rule.capabilities.includes('deny')) {
          existing.bits = new Set(['deny']);
        } else {
          for (const c of rule.capabilities) existing.bits.add(c);
        }
      }
    }
  }

  /** The capabilities that govern a path; none when no rule matches. */
  rule(path: string, listing = false): Set<Capability> {
    const exact = this.exact.get(path) ?? (listing ? this.exact.get(path.replace(/\/$/, '')) : undefined);
    if (exact) return exact.bits;
    const found = this.nonExact(path) ?? (listing && path.endsWith('/') ? this.nonExact(path.slice(0, -1)) : undefined);
    return found?.bits ?? new Set();
  }

  /** sys/capabilities(-self): sorted, `deny` when nothing is granted. */
  capabilities(path: string): string[] {
    const bits = this.rule(path, true);
    const granted = [...bits].filter((c) => c !== 'deny');
    return bits.has('deny') || granted.length === 0 ? ['deny'] : granted.sort();
  }

  /** Whether any rule grants something at or below a mount (Vault's hasMountAccess). */
  hasAccessUnder(mountPath: string): boolean {
    if (!this.capabilities(mountPath).includes('deny')) return true;
    const grants = (c: Compiled) => !c.bits.has('deny') && c.bits.size > 0;
    for (const table of [this.exact, this.prefixes]) {
      for (const [path, compiled] of table) if (path.startsWith(mountPath) && grants(compiled)) return true;
    }
    for (const compiled of this.wildcards.values()) {
      if (!grants(compiled)) continue;
      const pattern = compiled.path.replace(/\*$/, '').split('/');
      const mount = mountPath.replace(/\/$/, '').split('/');
      if (mount.every((part, i) => pattern[i] === undefined || pattern[i] === '+' || pattern[i] === part)) return true;
    }
    return false;
  }

  private nonExact(path: string): Compiled | undefined {
    const candidates: { compiled: Compiled; firstWildcard: number; wildcards: number; length: number }[] = [];
    let longest: Compiled | undefined;
    for (const [prefix, compiled] of this.prefixes) {
      if (path.startsWith(prefix) && (!longest || prefix.length > longest.path.length)) longest = compiled;
    }
    if (longest) candidates.push({ compiled: longest, firstWildcard: longest.path.length, wildcards: 0, length: longest.path.length });
    const parts = path.split('/');
    for (const [pattern, compiled] of this.wildcards) {
      const isPrefix = pattern.endsWith('*');
      const body = isPrefix ? pattern.slice(0, -1) : pattern;
      const wanted = body.split('/');
      if (parts.length < wanted.length || (!isPrefix && parts.length !== wanted.length)) continue;
      let wildcards = 0;
      const matches = wanted.every((segment, i) => {
        const actual = parts[i] as string;
        if (segment === '+') return (wildcards += 1), true;
        if (segment === actual) return true;
        return isPrefix && i === wanted.length - 1 && actual.startsWith(segment);
      });
      if (matches) candidates.push({ compiled: { ...compiled, prefix: isPrefix }, firstWildcard: pattern.indexOf('+'), wildcards, length: body.length });
    }
    // Vault's priority: a later first wildcard, not a prefix, fewer `+`, longer — wins.
    candidates.sort(
      (a, b) =>
        a.firstWildcard - b.firstWildcard ||
        Number(b.compiled.prefix) - Number(a.compiled.prefix) ||
        b.wildcards - a.wildcards ||
        a.length - b.length,
    );
    return candidates.at(-1)?.compiled;
  }
}
