import { dbCredentials, type DbCredentials } from '../../src/db/credentials.js';
import { VaultBadRequestError, VaultPermissionDeniedError, VaultUnreachableError } from '../../src/vault/errors.js';
import type { LeaseVault } from '../../src/vault/lease-keeper.js';
import type { FakeClock } from './fake-clock.js';

/**
 * Vault's lease rules in memory, on the fake clock, for the keeper's unit tests: TTL capped at
 * issue + max_ttl with the remaining time returned, `lease not found` once revoked or expired,
 * `Vault unreachable` while `down`. Every call is counted.
 */
export class FakeLeaseVault implements LeaseVault {
  down = false;
  readonly calls = { issue: [] as number[], renew: [] as number[], revoke: [] as string[], renewSelf: [] as number[], relogin: [] as number[] };
  private readonly leases = new Map<string, { issuedAt: number; expiresAt: number }>();
  private seq = 0;
  token = { ttl: 0, renewable: false, creation_ttl: 0, createdAt: 0, renewedAt: 0, maxTtl: 0 };

  constructor(
    private readonly clock: FakeClock,
    readonly role = { ttl: 100, maxTtl: 300 },
  ) {}

  private check(): void {
    if (this.down) throw new VaultUnreachableError('Vault at http://vault:8200 is unreachable: ECONNREFUSED', 'check VAULT_ADDR');
    // A token with a TTL dies at its end: from then on Vault refuses it everything.
    if (this.token.ttl > 0 && this.clock.now() >= this.token.renewedAt + this.token.ttl * 1000) throw new VaultPermissionDeniedError('auth/token/lookup-self', ['permission denied']);
  }

  issue = async (): Promise<DbCredentials> => {
    this.calls.issue.push(this.clock.now());
    this.check();
    const id = `database/creds/delphi-readonly/${String(++this.seq).padStart(24, '0')}`;
    const now = this.clock.now();
    this.leases.set(id, { issuedAt: now, expiresAt: now + Math.min(this.role.ttl, this.role.maxTtl) * 1000 });
    return dbCredentials({
      host: 'db',
      port: 5432,
      database: 'delphi',
      sslmode: 'disable',
      user: `v-user-${this.seq}`,
      password: `pw-${this.seq}`,
      source: 'dynamic',
      lease: { id, duration: Math.min(this.role.ttl, this.role.maxTtl), renewable: true, issuedAt: now },
    });
  };

  /** Revokes a lease behind the keeper's back (an operator, or Vault at expiry). */
  revokeOutside(id: string): void {
    this.leases.delete(id);
  }

  live(): string[] {
    const now = this.clock.now();
    return [...this.leases].filter(([, l]) => l.expiresAt > now).map(([id]) => id);
  }

  async renewLease(id: string, increment: number) {
    this.calls.renew.push(this.clock.now());
    this.check();
    const lease = this.leases.get(id);
    const now = this.clock.now();
    if (!lease || lease.expiresAt <= now) throw new VaultBadRequestError('sys/leases/renew', 400, ['lease not found']);
    const left = Math.floor((lease.issuedAt + this.role.maxTtl * 1000 - now) / 1000);
    if (left <= 0) throw new VaultBadRequestError('sys/leases/renew', 400, ['past the max TTL, cannot renew']);
    const ttl = Math.min(increment || this.role.ttl, left);
    lease.expiresAt = now + ttl * 1000;
    return { lease_id: id, renewable: true, lease_duration: ttl, warnings: ttl < increment ? ['capped'] : null };
  }

  async revokeLease(id: string) {
    this.calls.revoke.push(id);
    this.check();
    this.leases.delete(id);
  }

  async lookupLease(id: string) {
    this.check();
    const lease = this.leases.get(id);
    if (!lease || lease.expiresAt <= this.clock.now()) throw new VaultBadRequestError('sys/leases/lookup', 400, ['invalid lease']);
    const ttl = Math.floor((lease.expiresAt - this.clock.now()) / 1000);
    return { id, issue_time: '', expire_time: '', last_renewal: null, renewable: true, ttl };
  }

  async lookupSelf() {
    this.check();
    const ttl = this.token.ttl === 0 ? 0 : Math.max(0, Math.floor((this.token.renewedAt + this.token.ttl * 1000 - this.clock.now()) / 1000));
    // Vault reports a token's explicit max TTL with the time it was issued (the Go time format).
    const issue_time = new Date(this.token.createdAt).toISOString();
    return { accessor: 'a', display_name: 'approle', policies: ['default'], ttl, creation_ttl: this.token.creation_ttl, expire_time: null, explicit_max_ttl: this.token.maxTtl, issue_time, renewable: this.token.renewable, path: 'auth/approle/login', meta: null };
  }

  async renewSelf(increment?: number) {
    this.calls.renewSelf.push(this.clock.now());
    this.check();
    const now = this.clock.now();
    const left = this.token.maxTtl > 0 ? Math.floor((this.token.createdAt + this.token.maxTtl * 1000 - now) / 1000) : Infinity;
    const ttl = Math.min(increment ?? this.token.creation_ttl, left);
    this.token.renewedAt = now;
    this.token.ttl = ttl;
    return { auth: { lease_duration: ttl, renewable: true }, warnings: null };
  }

  relogin = async (): Promise<void> => {
    this.calls.relogin.push(this.clock.now());
    this.check();
    this.token = { ...this.token, createdAt: this.clock.now(), renewedAt: this.clock.now(), ttl: this.token.creation_ttl };
  };
}
