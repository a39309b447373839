import { Acl } from './acl.js';
import { DEFAULT_POLICY, parsePolicy, type Policy } from './policy.js';
import type { TokenEntry } from './tokens.js';

/**
 * The ACL policies by name, and what they grant a token. `default` is Vault's (trimmed to the
 * paths served); `root` is built in and never stored: a root token is allowed everything.
 */
export class PolicyStore {
  private readonly policies = new Map<string, Policy>([['default', parsePolicy('default', DEFAULT_POLICY)]]);

  get(name: string): Policy | undefined {
    return this.policies.get(name);
  }

  set(policy: Policy): void {
    this.policies.set(policy.name, policy);
  }

  delete(name: string): void {
    this.policies.delete(name);
  }

  /** The stored names, sorted (without `root`). */
  names(): string[] {
    return [...this.policies.keys()].sort();
  }

  /** Whether a token is a root token: the root token itself, or one holding the root policy. */
  isRoot(token: TokenEntry): boolean {
    return token.isRoot || token.policies.includes('root');
  }

  /** The union of the token's policies; read at each request, so a changed policy applies at once. */
  aclOf(token: TokenEntry): Acl {
    return new Acl(token.policies.map((name) => this.policies.get(name)).filter((p): p is Policy => p !== undefined));
  }

  /** sys/capabilities: `root` for a root token, else the ACL's answer. */
  capabilitiesOf(token: TokenEntry, path: string): string[] {
    if (this.isRoot(token)) return ['root'];
    return this.aclOf(token).capabilities(path.replace(/^\/+/, ''));
  }
}
