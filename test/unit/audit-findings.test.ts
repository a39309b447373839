import { describe, expect, it } from 'vitest';
import { auditFindings, confirmedFindings, couldBelong, expiryFits, fixPlan, fixStepText, groupOf, pairRolesWithLeases, type AuditedDbRole, type DatabaseSide, type VaultSide } from '../../src/setup/audit.js';

const T = Date.parse('2026-12-07T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
/** The engine's part of the marker (VaultSide.marker), and what the delphi-readonly role writes on its users. */
const ENGINE = 'eos:6f1c0a52-9d1e-4a7b-8f3e-2b5c7d9e0a11/database/delphi-postgresql';
const MARK = `${ENGINE}/delphi-readonly`;
const role = (name: string, validUntil: number | null, memberOf: string[] = ['delphi_readonly'], marker: string | null = MARK): AuditedDbRole => ({ host: 'db1:5432', name, marker, validUntil: validUntil === null ? null : iso(validUntil), attributes: [], memberOf, directGrants: [] });
const db = (roles: AuditedDbRole[]): DatabaseSide => ({ host: 'db1:5432', inRecovery: false, serverNow: T, roles, sessions: [], roleless: [], loggingProblems: [], logDestination: { destinations: 'stderr', collector: false } });
/** A lease issued an hour before it expires; its ttl as Vault would say it at T. */
const lease = (id: string, expire: number, issue = expire - 3_600_000, ttl = Math.round((expire - T) / 1000)) => ({ id, role: 'delphi-readonly', issueTime: iso(issue), expireTime: iso(expire), renewable: true, ttl });
const unix = (ms: number) => Math.floor(ms / 1000);

/** How the audit pairs roles with leases, and which roles it may drop. */
describe('the audit’s reckoning', () => {
  it('pairs a role with the lease whose expiry + 5 s is its VALID UNTIL (within 3 s), each once', () => {
    const roles = [role('v-a', T + 3_605_000), role('v-b', T + 3_605_000), role('v-c', T + 7_205_000)];
    const { orphanRoles, lonelyLeases } = pairRolesWithLeases(roles, [lease('l1', T + 3_600_000), lease('l2', T + 3_601_000), lease('l3', T + 9_000_000)]);
    expect(orphanRoles.map((r) => r.name)).toEqual(['v-c']);
    expect(lonelyLeases.map((l) => l.id)).toEqual(['l3']);
  });

  it('a leftover that could be a counterpart’s is reported but not fixed; one far from any is', () => {
    const vault: VaultSide = { marker: ENGINE, leases: [lease('l-lonely', T + 3_600_000), lease('l-far', T + 90_000_000), lease('l-paired', T + 7_200_000)], groups: { 'delphi-readonly': 'delphi_readonly' }, allowedRoles: ['delphi-readonly'] };
    // Made 20 s before l-lonely was issued, with a VALID UNTIL 20 s short of its expiry + 5 s:
    // a slow creation pairs so (below); here a second role took the lease, so this one may be its.
    const near = `v-token-delphi-r-NearNearNearNearNear-${unix(T - 20_000)}`;
    const took = `v-token-delphi-r-TookTookTookTookTook-${unix(T)}`;
    const findings = auditFindings(vault, [db([role(near, T + 3_585_000), role(took, T + 3_605_000), role('v-token-delphi-r-PairedPairedPaired-1', T + 7_205_000)])], T);
    expect(findings.map((f) => `${f.kind} ${f.subject} ${f.fixable}`).sort()).toEqual(['lease-without-role l-far true', `orphan-role ${near} false`]);
    // The reason names the lease that may be its own.
    expect(findings.find((f) => f.subject === near)?.fix).toMatch(/\(not done by --fix: the lease l-lonely could be its own \(issued, or ending, within one request of it\); it does not carry the marker of an audited role/);
    const onStandby = auditFindings(vault, [{ ...db([]), inRecovery: true }], T);
    expect(onStandby.every((f) => !f.fixable)).toBe(true);
  });

  it('pairs a user whose creation took long (its VALID UNTIL and name time up to one request before the lease)', () => {
    const vault: VaultSide = { marker: ENGINE, leases: [lease('l-slow', T + 3_600_000)], groups: { 'delphi-readonly': 'delphi_readonly' }, allowedRoles: ['delphi-readonly'] };
    // Vault computed VALID UNTIL and the name 40 s before it recorded the lease.
    const slow = role(`v-token-delphi-r-SlowSlowSlowSlowSlow-${unix(T - 40_000)}`, T + 3_565_000);
    expect(auditFindings(vault, [db([slow])], T)).toEqual([]);
    // Longer than one request may take (90 s): not this lease's, and both are findings.
    const tooSlow = role(`v-token-delphi-r-SlowSlowSlowSlowSlow-${unix(T - 200_000)}`, T + 3_405_000);
    expect(auditFindings(vault, [db([tooSlow])], T).map((f) => f.kind).sort()).toEqual(['lease-without-role', 'orphan-role']);
  });

  it('a renewal that moved VALID UNTIL but not the lease: the name’s time still ties them, so neither is acted on', () => {
    const vault: VaultSide = { marker: ENGINE, leases: [lease('l-renewed', T + 3_600_000), lease('l-other', T + 7_200_000)], groups: { 'delphi-readonly': 'delphi_readonly' }, allowedRoles: ['delphi-readonly'] };
    const renewed = `v-token-delphi-r-RenewedRenewedRenew-${unix(T - 1000)}`;
    const findings = auditFindings(vault, [db([role(renewed, T + 7_205_000 + 3_600_000), role('v-token-delphi-r-OtherOtherOtherOther-1', T + 7_205_000)])], T);
    expect(findings.map((f) => `${f.kind} ${f.subject} ${f.fixable}`).sort()).toEqual(['lease-without-role l-renewed false', `orphan-role ${renewed} false`]);
  });

  it("judges a session by Vault's lease while there is one: a database clock ahead of Vault's ends nothing early", () => {
    const name = `v-token-delphi-r-ClockClockClockClock-${unix(T - 3_600_000)}`;
    const session = { host: 'db1:5432', pid: 42, user: name, clientAddr: '10.0.0.7', application: 'worker', state: 'idle', backendStart: iso(T - 3_000_000) };
    // The lease ends at T by Vault's clock, 10 s from now for Vault; the primary's clock reads T + 8 s.
    const live: VaultSide = { marker: ENGINE, now: T - 10_000, leases: [lease('l-live', T, T - 3_600_000, 10)], groups: { 'delphi-readonly': 'delphi_readonly' }, allowedRoles: ['delphi-readonly'] };
    const ahead = { ...db([role(name, T + 5_000)]), sessions: [session] };
    expect(auditFindings(live, [ahead], T + 8_000)).toEqual([]);
    // Vault's lease is over too and its revocation has not come: a stale session --fix may end.
    const over = { ...live, now: T + 8_000, leases: [lease('l-live', T, T - 3_600_000, -8)] };
    expect(auditFindings(over, [ahead], T + 8_000)).toEqual([expect.objectContaining({ kind: 'stale-session', fixable: true })]);
  });

  it("tells a young user by Vault's clock, not the database's: one made 30 s ago by Vault is not dropped", () => {
    const young = `v-token-delphi-r-YoungYoungYoungYoun-${unix(T - 30_000)}`;
    const vault: VaultSide = { marker: ENGINE, now: T, leases: [], groups: { 'delphi-readonly': 'delphi_readonly' }, allowedRoles: ['delphi-readonly'] };
    // The primary's clock is 5 minutes ahead.
    expect(auditFindings(vault, [db([role(young, T + 3_605_000)])], T + 300_000)).toEqual([expect.objectContaining({ kind: 'orphan-role', fixable: false })]);
    expect(auditFindings({ ...vault, now: T + 300_000 }, [db([role(young, T + 3_605_000)])], T + 300_000)).toEqual([expect.objectContaining({ kind: 'orphan-role', fixable: true })]);
  });

  it('takes as its own only users marked with this Vault’s cluster id: another Vault with the same mount and connection names is not this one', () => {
    const vault: VaultSide = { marker: ENGINE, leases: [], groups: { 'delphi-readonly': 'delphi_readonly' }, allowedRoles: ['delphi-readonly'] };
    const name = `v-token-delphi-r-OtherVaultOtherVaul-${unix(T - 3_600_000)}`;
    // Another Vault's (or namespace's) users, in groups of the same names: that site's audit's, not this one's.
    expect(auditFindings(vault, [db([role(name, T + 60_000, ['delphi_readonly'], 'eos:0b0b0b0b-1111-2222-3333-444444444444/database/delphi-postgresql/delphi-readonly')])], T)).toEqual([]);
    expect(auditFindings(vault, [db([role(name, T + 60_000, ['delphi_readonly'], `eos:6f1c0a52-9d1e-4a7b-8f3e-2b5c7d9e0a11/team-b:/database/delphi-postgresql/delphi-readonly`)])], T)).toEqual([]);
    // A Vault that gave no cluster id: nothing is surely its own.
    expect(auditFindings({ ...vault, marker: undefined }, [db([role(name, T + 60_000)])], T)).toEqual([expect.objectContaining({ kind: 'orphan-role', fixable: false })]);
    expect(auditFindings(vault, [db([role(name, T + 60_000)])], T)).toEqual([expect.objectContaining({ kind: 'orphan-role', fixable: true })]);
  });

  it("leaves alone the users of a Vault role it does not audit (renamed since): their leases pair, and their marker names that role", () => {
    // engine.role was renamed delphi-reader; delphi-readonly still has users with live leases.
    const old = role(`v-approle-delphi-r-OldLiveOldLiveOldL-${unix(T - 3_600_000)}`, T + 3_605_000);
    const oldLease = { ...lease('database/creds/delphi-readonly/old', T + 3_600_000), role: 'delphi-readonly' };
    const vault: VaultSide = { marker: ENGINE, leases: [], otherLeases: [oldLease], groups: { 'delphi-reader': 'delphi_readonly' }, allowedRoles: ['delphi-reader'] };
    expect(auditFindings(vault, [db([old])], T)).toEqual([]);
    // Had its lease gone unseen, it would be reported — and still not dropped: its marker is another role's.
    expect(auditFindings({ ...vault, otherLeases: [] }, [db([old])], T)).toEqual([expect.objectContaining({ kind: 'orphan-role', fixable: false })]);
  });

  it('acts on nothing of the pairing when more than one host is out of recovery (an old primary not fenced)', () => {
    const vault: VaultSide = { marker: ENGINE, leases: [lease('after', T + 3_600_000), lease('before', T + 1_800_000)], groups: { 'delphi-readonly': 'delphi_readonly' }, allowedRoles: ['delphi-readonly'] };
    const before = role(`v-token-delphi-r-BeforeBeforeBefore-${unix(T - 1_800_000)}`, T + 1_805_000);
    const after = role(`v-token-delphi-r-AfterAfterAfterAfte-${unix(T)}`, T + 3_605_000);
    const oldPrimary = db([before]);
    const newPrimary = { ...db([before, after]), host: 'db2:5432' };
    const findings = auditFindings(vault, [oldPrimary, newPrimary], T);
    expect(findings.map((f) => `${f.kind} ${f.subject} ${f.fixable}`)).toEqual(['lease-without-role after false']);
    expect(fixPlan(findings)).toEqual([]);
    expect(findings[0]?.fix).toMatch(/\(not done by --fix: 2 hosts are out of recovery \(an old primary not fenced\?\): which one Vault writes to is not known\)$/);
    // Every host a standby: nothing either, and it says so.
    const standbys = auditFindings(vault, [{ ...oldPrimary, inRecovery: true }, { ...newPrimary, inRecovery: true }], T);
    expect(standbys.map((f) => `${f.fixable} ${f.fix.replace(/^.*\(not done by --fix: /, '')}`)).toEqual(['false no host is a primary (every one is in recovery), and a standby may lag behind)']);
  });

  it('audits users made before the groups by their names (no group, no marker), and drops none of them', () => {
    const vault: VaultSide = { marker: ENGINE, leases: [], groups: { 'delphi-readonly': 'delphi_readonly' }, allowedRoles: ['delphi-readonly'] };
    const seed = { ...role(`v-token-delphi-r-SeedEraSeedEraSeedE-${unix(T - 40 * 86_400_000)}`, T - 30 * 86_400_000, [], null), directGrants: ['SELECT ON public.alerts'] };
    const session = { host: 'db1:5432', pid: 7, user: seed.name, clientAddr: '10.0.0.9', application: 'report', state: 'idle', backendStart: iso(T - 40 * 86_400_000) };
    const findings = auditFindings(vault, [{ ...db([seed]), sessions: [session] }], T);
    expect(findings.map((f) => `${f.kind} ${f.fixable}`).sort()).toEqual(['excess-privilege false', 'expired-role false', 'stale-session false']);
  });

  it('does not drop a user younger than two minutes by Vault’s clock: its lease may still be on its way', () => {
    const vault: VaultSide = { marker: ENGINE, now: T, leases: [], groups: { 'delphi-readonly': 'delphi_readonly' }, allowedRoles: ['delphi-readonly'] };
    expect(auditFindings(vault, [db([role(`v-token-delphi-r-InFlightInFlightInF-${unix(T - 100_000)}`, T + 3_505_000)])], T)).toEqual([expect.objectContaining({ kind: 'orphan-role', fixable: false })]);
  });

  it('reports a lease without a role even when another engine’s user expires with it, and does not revoke it', () => {
    const vault: VaultSide = { marker: ENGINE, leases: [lease('l-mine', T + 3_600_000), lease('l-paired', T + 7_200_000)], groups: { 'delphi-readonly': 'delphi_readonly' }, allowedRoles: ['delphi-readonly'] };
    const paired = role(`v-token-delphi-r-PairedPairedPaired-${unix(T)}`, T + 7_205_000);
    const theirs = role(`v-token-billing-BillingBillingBilli-${unix(T - 3_600_000)}`, T + 3_605_000, ['billing_ro'], null);
    expect(auditFindings(vault, [db([paired, theirs])], T).map((f) => `${f.kind} ${f.subject} ${f.fixable}`)).toEqual(['lease-without-role l-mine false']);
    // Another engine whose Vault role has this one's name, its users in its own group and unmarked:
    // not audited (no orphan of ours), and it takes no lease of ours.
    const sameNames = role(`v-root-delphi-r-SameNameSameNameSam-${unix(T - 3_600_000)}`, T + 3_605_000, ['ro_other'], null);
    expect(auditFindings(vault, [db([paired, sameNames])], T).map((f) => `${f.kind} ${f.subject} ${f.fixable}`)).toEqual(['lease-without-role l-mine false']);
    // …or with the seed's statements for another database: no group, its grants there, not here.
    const seedElsewhere = role(`v-root-delphi-r-SeedElsewhereSeedEl-${unix(T - 3_600_000)}`, T + 3_605_000, [], null);
    expect(auditFindings(vault, [db([paired, seedElsewhere])], T).map((f) => `${f.kind} ${f.subject} ${f.fixable}`)).toEqual(['lease-without-role l-mine false']);
  });

  it('reports a role whose lease ended over a minute ago and was never revoked (a revocation that fails), and leaves it to the operator', () => {
    const vault: VaultSide = { marker: ENGINE, leases: [], groups: { 'delphi-readonly': 'delphi_readonly' }, allowedRoles: ['delphi-readonly'] };
    const name = `v-token-delphi-r-OwnsObjectsOwnsObje-${unix(T - 7_200_000)}`;
    const stuck = { ...lease('l-stuck', T - 3_600_000), revokeError: 'failed to revoke: pq: role "x" cannot be dropped because some objects depend on it' };
    const findings = auditFindings({ ...vault, leases: [stuck] }, [db([role(name, T - 3_595_000)])], T);
    expect(findings).toEqual([expect.objectContaining({ kind: 'expired-role', subject: name, fixable: false, evidence: expect.stringContaining("(Vault's last try: failed to revoke: pq: role"), fix: expect.stringMatching(/^find what stops the revocation .*REASSIGN OWNED BY "v-token-delphi-r-OwnsObjectsOwnsObje-\d+" TO <owner>; DROP OWNED BY .*; then vault lease revoke l-stuck$/) })]);
    // Ended a few seconds ago, no error yet: Vault's revocation is on its way.
    expect(auditFindings({ ...vault, leases: [lease('l-just', T - 10_000)] }, [db([role(name, T - 5_000)])], T)).toEqual([]);
  });

  it("keeps off a user that a copy of a role's statements made through another connection: its lease is the other role's", () => {
    const copy = role(`v-token-delphi-r-CopyCopyCopyCopyCopy-${unix(T - 3_600_000)}`, T + 3_605_000);
    const theirs = { ...lease('database/creds/delphi-analytics/l1', T + 3_600_000, T - 3_600_000), role: 'delphi-analytics' };
    const vault: VaultSide = { marker: ENGINE, leases: [], elsewhereLeases: [theirs], groups: { 'delphi-readonly': 'delphi_readonly' }, allowedRoles: ['delphi-readonly'] };
    // Not paired with it (it is not this connection's), but not dropped either.
    expect(auditFindings(vault, [db([copy])], T)).toEqual([expect.objectContaining({ kind: 'orphan-role', fixable: false })]);
    expect(auditFindings({ ...vault, elsewhereLeases: [] }, [db([copy])], T)).toEqual([expect.objectContaining({ kind: 'orphan-role', fixable: true })]);
  });

  it("audits this Vault's users of another mount or connection (moved, renamed), and drops none of them", () => {
    const vault: VaultSide = { marker: ENGINE, leases: [], groups: { 'delphi-readonly': 'delphi_readonly' }, allowedRoles: ['delphi-readonly'] };
    const moved = role(`v-token-delphi-r-MovedMovedMovedMove-${unix(T - 3_600_000)}`, T + 60_000, ['delphi_readonly'], 'eos:6f1c0a52-9d1e-4a7b-8f3e-2b5c7d9e0a11/old-database/delphi-postgresql/delphi-readonly');
    expect(auditFindings(vault, [db([moved])], T)).toEqual([expect.objectContaining({ kind: 'orphan-role', fixable: false })]);
  });

  it('finds counterparts by time as comparing each with each would: every pair fits, and a leftover is unsure exactly when some counterpart could be its', () => {
    // Seeded draws of small clusters 200 s apart, each with offsets on both sides of the bounds
    // (-3 s and one request, 90 s, + 3 s): a user and a lease, or two of one kind for one of the other.
    let seed = 7;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const offset = () => Math.round(-10_000 + random() * 120_000);
    const roles: AuditedDbRole[] = [];
    const leases: ReturnType<typeof lease>[] = [];
    for (let i = 0; i < 600; i++) {
      const made = T - 150_000_000 + i * 200_000;
      const validUntil = made + 3_605_000;
      const named = (tag: string, withTime: boolean) => `v-token-delphi-r-${tag}${String(i).padStart(19, '0')}${withTime ? `-${unix(made)}` : ''}`;
      // The lease as Vault records it: issued and ending some time after the user was made.
      const leaseFor = (id: string, expiryLag: number, issueLag: number) => lease(id, validUntil - 5000 + expiryLag, made + issueLag);
      switch (i % 3) {
        case 0: // one user, one lease: each bound tried alone
          roles.push(role(named('a', random() < 0.5), validUntil));
          leases.push(random() < 0.5 ? leaseFor(`l${i}`, offset(), 5_000_000) : leaseFor(`l${i}`, 5_000_000, offset()));
          break;
        case 1: // two users, one lease: the second is an orphan, unsure only inside the bounds
          roles.push(role(named('b', false), validUntil), role(named('c', random() < 0.5), validUntil + offset()));
          leases.push(leaseFor(`l${i}`, 0, 0));
          break;
        default: // one user, two leases: the second is lonely, unsure only inside the bounds
          roles.push(role(named('d', random() < 0.5), validUntil));
          leases.push(leaseFor(`l${i}`, 0, 0), leaseFor(`m${i}`, offset(), random() < 0.5 ? offset() : 5_000_000));
      }
    }
    const { pairs, orphanRoles, lonelyLeases, unsure } = pairRolesWithLeases(roles, leases);
    expect(pairs.size + orphanRoles.length).toBe(roles.length);
    expect(pairs.size + lonelyLeases.length).toBe(leases.length);
    for (const [r, l] of pairs) expect(expiryFits(r, l)).toBe(true);
    // No pair was missed: no leftover user fits a leftover lease.
    for (const r of orphanRoles) expect(lonelyLeases.filter((l) => expiryFits(r, l)).map((l) => l.id), r.name).toEqual([]);
    for (const r of orphanRoles) expect(unsure.has(r), r.name).toBe(leases.some((l) => couldBelong(r, l)));
    for (const l of lonelyLeases) expect(unsure.has(l), l.id).toBe(roles.some((r) => couldBelong(r, l)));
    // Both outcomes of each kind are drawn.
    expect(orphanRoles.filter((r) => unsure.has(r)).length).toBeGreaterThan(10);
    expect(orphanRoles.filter((r) => !unsure.has(r)).length).toBeGreaterThan(10);
    expect(lonelyLeases.filter((l) => unsure.has(l)).length).toBeGreaterThan(10);
    expect(lonelyLeases.filter((l) => !unsure.has(l)).length).toBeGreaterThan(10);
  });

  it('prints a step as SQL to paste: a hostile name stays one literal and one identifier, a $1 in it is not read as a parameter', () => {
    const name = `v-x'; DROP ROLE postgres; --$1"`;
    const [step] = fixPlan([{ kind: 'orphan-role', severity: 'high', subject: name, host: 'db1:5432', evidence: '', fix: '', fixable: true }]);
    expect(fixStepText(step as NonNullable<typeof step>)).toBe(`on db1:5432: SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'v-x''; DROP ROLE postgres; --$1"'; DROP ROLE IF EXISTS "v-x'; DROP ROLE postgres; --$1""";`);
    expect(fixStepText({ kind: 'revoke', finding: 'lease-without-role', subject: 'l', leaseId: 'database/creds/r/abc' })).toBe('revoke lease database/creds/r/abc');
  });

  it("with group-role statements: only the engine's groups' members, and their orphans may be dropped", () => {
    const vault: VaultSide = { marker: ENGINE, leases: [], groups: { 'delphi-readonly': 'delphi_readonly' }, allowedRoles: ['delphi-readonly'] };
    const mine = `v-token-delphi-r-AbCdEfGhIjKlMnOpQrSt-${Math.floor(T / 1000) - 3600}`;
    const findings = auditFindings(vault, [db([role(mine, T + 60_000), role('v-other-engine', T + 60_000, ['other_group'], null)])], T);
    expect(findings.map((f) => `${f.kind} ${f.subject} ${f.fixable}`)).toEqual([`orphan-role ${mine} true`]);
    expect(fixPlan(findings)).toHaveLength(1);
    // A name this engine's roles do not give, one made during the audit, or one without the marker
    // (another engine's with eos's default names): reported, not dropped.
    for (const r of [role('v-hand-made', T + 60_000), role(`v-token-delphi-r-AbCdEfGhIjKlMnOpQrSt-${Math.floor(T / 1000)}`, T + 60_000), role(mine, T + 60_000, ['delphi_readonly'], null)]) {
      expect(auditFindings(vault, [db([r])], T)).toEqual([expect.objectContaining({ kind: 'orphan-role', fixable: false })]);
    }
  });

  it('without groups (seed statements) every v-* role is looked at, but an orphan is not dropped by --fix: another engine may own it', () => {
    const vault: VaultSide = { marker: ENGINE, leases: [], groups: { 'delphi-readonly': null }, allowedRoles: ['delphi-readonly'] };
    const findings = auditFindings(vault, [db([role('v-someone', T + 60_000, [])])], T);
    expect(findings).toEqual([expect.objectContaining({ kind: 'orphan-role', subject: 'v-someone', fixable: false, fix: expect.stringMatching(/^make sure no other database engine made it, then drop it/) })]);
    expect(fixPlan(findings)).toEqual([]);
  });

  it('acts only on what a second look still sees: a role that found its lease meanwhile is left alone', () => {
    const vault: VaultSide = { marker: ENGINE, leases: [], groups: { 'delphi-readonly': 'delphi_readonly' }, allowedRoles: ['delphi-readonly'] };
    const left = `v-token-delphi-r-LeftLeftLeftLeftLeft-${Math.floor(T / 1000) - 3600}`;
    const fresh = `v-token-delphi-r-NewNewNewNewNewNewNe-${Math.floor(T / 1000) - 120}`;
    const first = auditFindings(vault, [db([role(fresh, T + 3_605_000), role(left, T + 90_000_000)])], T);
    // Meanwhile Vault's lease of the new role shows up (it was being issued during the first look).
    const second = auditFindings({ ...vault, leases: [lease('l-new', T + 3_600_000)] }, [db([role(fresh, T + 3_605_000), role(left, T + 90_000_000)])], T);
    expect(fixPlan(confirmedFindings(first, second)).map((s) => s.subject)).toEqual([left]);
  });

  it("reads the group of a creation statement as PostgreSQL would: quoted names whole, unquoted ones folded", () => {
    expect(groupOf(`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE "app-readers";`)).toBe('app-readers');
    expect(groupOf('CREATE ROLE "{{name}}" IN ROLE Readers;')).toBe('readers');
    expect(groupOf('CREATE ROLE "{{name}}" IN ROLE "we""ird";')).toBe('we"ird');
    expect(groupOf('CREATE ROLE "{{name}}" IN ROLE a, b;')).toBeNull();
    expect(groupOf('CREATE ROLE "{{name}}"; GRANT SELECT ON alerts TO "{{name}}";')).toBeNull();
  });

  it('a role without VALID UNTIL is reported, never dropped; a finding the second look no longer trusts is not acted on', () => {
    const vault: VaultSide = { marker: ENGINE, leases: [], groups: { 'delphi-readonly': 'delphi_readonly' }, allowedRoles: ['delphi-readonly'] };
    const name = `v-token-delphi-r-InfinityInfinityInf-${Math.floor(T / 1000) - 3600}`;
    expect(auditFindings(vault, [db([role(name, null)])], T)).toEqual([expect.objectContaining({ kind: 'orphan-role', fixable: false })]);
    const sure = auditFindings(vault, [db([role(`v-token-delphi-r-SureSureSureSureSure-${Math.floor(T / 1000) - 3600}`, T + 60_000)])], T);
    const doubted = sure.map((f) => ({ ...f, fixable: false }));
    expect(fixPlan(confirmedFindings(sure, doubted))).toEqual([]);
  });

  it("pairs leases with every v-* role (one made before the groups keeps its lease), and acts on nothing when no lease pairs at all", () => {
    const vault: VaultSide = { marker: ENGINE, leases: [lease('l-old', T + 3_600_000), lease('l-gone', T + 90_000_000)], groups: { 'delphi-readonly': 'delphi_readonly' }, allowedRoles: ['delphi-readonly'] };
    // A user made before the groups (the seed's statements: no group, no marker), named as this
    // engine's roles name theirs, its grants its own: audited (its grants are more than a group
    // gives), and its lease is not lonely.
    const old = `v-token-delphi-r-OldStyleOldStyleOld-${unix(T - 3_600_000)}`;
    const findings = auditFindings(vault, [db([{ ...role(old, T + 3_605_000, [], null), directGrants: ['SELECT ON public.alerts'] }])], T);
    expect(findings.map((f) => `${f.kind} ${f.subject} ${f.fixable}`)).toEqual(['lease-without-role l-gone true', `excess-privilege ${old} false`]);
    // Against a database that has none of this Vault's roles: every lease lonely, none revoked.
    const wrongCluster = auditFindings(vault, [db([])], T);
    expect(wrongCluster.map((f) => `${f.kind} ${f.fixable}`)).toEqual(['lease-without-role false', 'lease-without-role false']);
    expect(wrongCluster[0]?.fix).toMatch(/is this the database the engine manages\?/);
  });
});
