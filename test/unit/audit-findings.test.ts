import { describe, expect, it } from 'vitest';
import { auditFindings, confirmedFindings, fixPlan, groupOf, pairRolesWithLeases, type AuditedDbRole, type DatabaseSide, type VaultSide } from '../../src/setup/audit.js';

const T = Date.parse('2026-12-07T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const MARK = 'eos:database/delphi-postgresql';
const role = (name: string, validUntil: number | null, memberOf: string[] = ['delphi_readonly'], marker: string | null = MARK): AuditedDbRole => ({ host: 'db1:5432', name, marker, validUntil: validUntil === null ? null : iso(validUntil), attributes: [], memberOf, directGrants: [] });
const db = (roles: AuditedDbRole[]): DatabaseSide => ({ host: 'db1:5432', inRecovery: false, serverNow: T, roles, sessions: [], roleless: [], loggingProblems: [], logDestination: { destinations: 'stderr', collector: false } });
const lease = (id: string, expire: number) => ({ id, role: 'delphi-readonly', issueTime: iso(expire - 3_600_000), expireTime: iso(expire), renewable: true });

/** How the audit pairs roles with leases, and which roles it may drop. */
describe('the audit’s reckoning', () => {
  it('pairs a role with the lease whose expiry + 5 s is its VALID UNTIL (within 3 s), each once', () => {
    const roles = [role('v-a', T + 3_605_000), role('v-b', T + 3_605_000), role('v-c', T + 7_205_000)];
    const { orphanRoles, lonelyLeases } = pairRolesWithLeases(roles, [lease('l1', T + 3_600_000), lease('l2', T + 3_601_000), lease('l3', T + 9_000_000)]);
    expect(orphanRoles.map((r) => r.name)).toEqual(['v-c']);
    expect(lonelyLeases.map((l) => l.id)).toEqual(['l3']);
  });

  it('a leftover near a counterpart in time is reported but not fixed; one far from any is', () => {
    const vault: VaultSide = { marker: MARK, leases: [lease('l-lonely', T + 3_600_000), lease('l-far', T + 90_000_000), lease('l-paired', T + 7_200_000)], groups: { 'delphi-readonly': 'delphi_readonly' }, allowedRoles: ['delphi-readonly'] };
    // The role's VALID UNTIL is 4 s off l-lonely's expiry + 5 s: outside the slack, inside twice it.
    const near = `v-token-delphi-r-NearNearNearNearNear-${Math.floor(T / 1000) - 3600}`;
    const findings = auditFindings(vault, [db([role(near, T + 3_609_000), role('v-token-delphi-r-PairedPairedPaired-1', T + 7_205_000)])], T);
    expect(findings.map((f) => `${f.kind} ${f.subject} ${f.fixable}`).sort()).toEqual(['lease-without-role l-far true', 'lease-without-role l-lonely false', `orphan-role ${near} false`]);
    const onStandby = auditFindings(vault, [{ ...db([]), inRecovery: true }], T);
    expect(onStandby.every((f) => !f.fixable)).toBe(true);
  });

  it("with group-role statements: only the engine's groups' members, and their orphans may be dropped", () => {
    const vault: VaultSide = { marker: MARK, leases: [], groups: { 'delphi-readonly': 'delphi_readonly' }, allowedRoles: ['delphi-readonly'] };
    const mine = `v-token-delphi-r-AbCdEfGhIjKlMnOpQrSt-${Math.floor(T / 1000) - 3600}`;
    const findings = auditFindings(vault, [db([role(mine, T + 60_000), role('v-other-engine', T + 60_000, ['other_group'])])], T);
    expect(findings.map((f) => `${f.kind} ${f.subject} ${f.fixable}`)).toEqual([`orphan-role ${mine} true`]);
    expect(fixPlan(findings)).toHaveLength(1);
    // A name this engine's roles do not give, one made during the audit, or one without the marker
    // (another engine's with eos's default names): reported, not dropped.
    for (const r of [role('v-hand-made', T + 60_000), role(`v-token-delphi-r-AbCdEfGhIjKlMnOpQrSt-${Math.floor(T / 1000)}`, T + 60_000), role(mine, T + 60_000, ['delphi_readonly'], null)]) {
      expect(auditFindings(vault, [db([r])], T)).toEqual([expect.objectContaining({ kind: 'orphan-role', fixable: false })]);
    }
  });

  it('without groups (seed statements) every v-* role is looked at, but an orphan is not dropped by --fix: another engine may own it', () => {
    const vault: VaultSide = { marker: MARK, leases: [], groups: { 'delphi-readonly': null }, allowedRoles: ['delphi-readonly'] };
    const findings = auditFindings(vault, [db([role('v-someone', T + 60_000, [])])], T);
    expect(findings).toEqual([expect.objectContaining({ kind: 'orphan-role', subject: 'v-someone', fixable: false, fix: expect.stringMatching(/^make sure no other database engine made it, then drop it/) })]);
    expect(fixPlan(findings)).toEqual([]);
  });

  it('acts only on what a second look still sees: a role that found its lease meanwhile is left alone', () => {
    const vault: VaultSide = { marker: MARK, leases: [], groups: { 'delphi-readonly': 'delphi_readonly' }, allowedRoles: ['delphi-readonly'] };
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
    const vault: VaultSide = { marker: MARK, leases: [], groups: { 'delphi-readonly': 'delphi_readonly' }, allowedRoles: ['delphi-readonly'] };
    const name = `v-token-delphi-r-InfinityInfinityInf-${Math.floor(T / 1000) - 3600}`;
    expect(auditFindings(vault, [db([role(name, null)])], T)).toEqual([expect.objectContaining({ kind: 'orphan-role', fixable: false })]);
    const sure = auditFindings(vault, [db([role(`v-token-delphi-r-SureSureSureSureSure-${Math.floor(T / 1000) - 3600}`, T + 60_000)])], T);
    const doubted = sure.map((f) => ({ ...f, fixable: false }));
    expect(fixPlan(confirmedFindings(sure, doubted))).toEqual([]);
  });

  it("pairs leases with every v-* role (one made before the groups keeps its lease), and acts on nothing when no lease pairs at all", () => {
    const vault: VaultSide = { marker: MARK, leases: [lease('l-old', T + 3_600_000), lease('l-gone', T + 90_000_000)], groups: { 'delphi-readonly': 'delphi_readonly' }, allowedRoles: ['delphi-readonly'] };
    // v-old-style predates the group: not in scope, but its lease is not lonely.
    const findings = auditFindings(vault, [db([role('v-old-style', T + 3_605_000, [])])], T);
    expect(findings.map((f) => `${f.kind} ${f.subject} ${f.fixable}`)).toEqual(['lease-without-role l-gone true']);
    // Against a database that has none of this Vault's roles: every lease lonely, none revoked.
    const wrongCluster = auditFindings(vault, [db([])], T);
    expect(wrongCluster.map((f) => `${f.kind} ${f.fixable}`)).toEqual(['lease-without-role false', 'lease-without-role false']);
    expect(wrongCluster[0]?.fix).toMatch(/is this the database the engine manages\?/);
  });
});
