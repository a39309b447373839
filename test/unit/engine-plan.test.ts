import { describe, expect, it } from 'vitest';
import { buildEnginePlan, renderCommands, type EngineSetup } from '../../src/setup/engine-plan.js';
import { defaultPrivilegesProblem } from '../../src/setup/self-test.js';

const setup = (over: Partial<EngineSetup> = {}): EngineSetup => ({
  target: { host: 'db.example', port: 5432, hosts: [{ host: 'db.example', port: 5432 }], targetSessionAttrs: 'any', database: 'delphi', sslmode: 'require', origins: { host: 'flag', port: 'flag', database: 'flag', sslmode: 'flag' } },
  mount: 'database',
  connection: 'delphi-postgresql',
  adminUser: 'vault_admin',
  style: 'group',
  defaultTtl: 3600,
  maxTtl: 86400,
  roles: [
    { name: 'delphi-readonly', group: 'delphi_readonly', access: 'read' },
    { name: 'delphi-worker', group: 'delphi_worker', access: 'write' },
  ],
  ...over,
});

describe('the engine plan', () => {
  it('gives each lease role membership of a group, and revocation that ends sessions and drops it', () => {
    const plan = buildEnginePlan(setup());
    expect(plan.roles['delphi-readonly']?.creation_statements).toEqual([`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE "delphi_readonly";`, `COMMENT ON ROLE "{{name}}" IS 'eos:database/delphi-postgresql/delphi-readonly';`]);
    expect(plan.roles['delphi-readonly']?.revocation_statements.at(-1)).toBe('DROP ROLE IF EXISTS "{{name}}";');
    expect(plan.sql).toContain('ALTER DEFAULT PRIVILEGES IN SCHEMA "public" GRANT SELECT, INSERT, UPDATE ON TABLES TO "delphi_worker";');
    expect(plan.connection).toMatchObject({ connection_url: 'postgresql://{{username}}:{{password}}@db.example:5432/delphi?sslmode=require', allowed_roles: ['delphi-readonly', 'delphi-worker'] });
    expect(defaultPrivilegesProblem(plan.roles['delphi-readonly']?.creation_statements ?? [], plan.roles['delphi-readonly']?.revocation_statements ?? [])).toBeUndefined();
  });

  it("marks each user with the Vault's cluster id, mount and connection; an id that is not one is left out, and a printed plan without it says so", () => {
    const id = '6f1c0a52-9d1e-4a7b-8f3e-2b5c7d9e0a11';
    expect(buildEnginePlan(setup({ vaultClusterId: id })).roles['delphi-worker']?.creation_statements[1]).toBe(`COMMENT ON ROLE "{{name}}" IS 'eos:${id}/database/delphi-postgresql/delphi-worker';`);
    // In a namespace, the namespace too (two namespaces may use the same names).
    expect(buildEnginePlan(setup({ vaultClusterId: id, vaultNamespace: '/team-a/prod/' })).roles['delphi-worker']?.creation_statements[1]).toBe(`COMMENT ON ROLE "{{name}}" IS 'eos:${id}/team-a/prod:/database/delphi-postgresql/delphi-worker';`);
    // A hostile Vault's cluster id goes into no statement.
    expect(buildEnginePlan(setup({ vaultClusterId: "x'; DROP ROLE postgres; --" })).roles['delphi-worker']?.creation_statements[1]).toBe(`COMMENT ON ROLE "{{name}}" IS 'eos:database/delphi-postgresql/delphi-worker';`);
    expect(renderCommands(buildEnginePlan(setup()))).toMatch(/^# Vault did not answer, so each user's marker \(COMMENT ON ROLE\) names no Vault/m);
    expect(renderCommands(buildEnginePlan(setup({ vaultClusterId: id })))).not.toMatch(/Vault did not answer/);
  });

  it("puts the Vault host's TLS files in the connection's URL, each one parameter whatever its path holds; a relative path or a control character is refused", () => {
    const plan = buildEnginePlan(setup({ pluginTls: { sslrootcert: "/etc/vault/it's a&b#c?d=e%f+g.pem", sslcert: '/etc/vault/c.pem', sslkey: '/etc/vault/c.key' } }));
    const url = plan.connection.connection_url;
    const query = new URLSearchParams(url.slice(url.indexOf('?') + 1));
    expect([...query.keys()]).toEqual(['sslmode', 'sslrootcert', 'sslcert', 'sslkey']);
    expect(query.get('sslrootcert')).toBe("/etc/vault/it's a&b#c?d=e%f+g.pem");
    expect(url).toContain('sslcert=/etc/vault/c.pem&sslkey=/etc/vault/c.key');
    // Printed for a shell, the URL stays one word.
    expect(renderCommands(plan)).toContain(`connection_url='postgresql://{{username}}:{{password}}@db.example:5432/delphi?sslmode=require&sslrootcert=/etc/vault/it'\\''s%20a%26b%23c%3Fd%3De%25f%2Bg.pem`);
    expect(() => buildEnginePlan(setup({ pluginTls: { sslrootcert: 'relative/ca.pem' } }))).toThrow(/--vault-sslrootcert "relative\/ca\.pem" is not allowed/);
    expect(() => buildEnginePlan(setup({ pluginTls: { sslkey: '/etc/a\nb' } }))).toThrow(/--vault-sslkey/);
  });

  it('in seed style keeps the seed\'s grants and adds the revocation that undoes them', () => {
    const plan = buildEnginePlan(setup({ style: 'seed' }));
    const role = plan.roles['delphi-readonly'];
    expect(plan.sql).toEqual([]);
    expect(role?.creation_statements[0]).toContain('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO "{{name}}"');
    expect(role?.revocation_statements[0]).toBe('ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT ON TABLES FROM "{{name}}";');
    expect(defaultPrivilegesProblem(role?.creation_statements ?? [], role?.revocation_statements ?? [])).toBeUndefined();
    expect(defaultPrivilegesProblem(role?.creation_statements ?? [], [])).toMatch(/2BP01/);
    expect(defaultPrivilegesProblem(role?.creation_statements ?? [], ['DROP ROLE "{{name}}";'])).toMatch(/never revoke them/);
  });

  it('prints commands whose quoting survives the shell, with the password only as a variable', () => {
    const text = renderCommands(buildEnginePlan(setup()));
    expect(text).toContain(`creation_statements='CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '\\''{{password}}'\\'' VALID UNTIL '\\''{{expiration}}'\\'' IN ROLE "delphi_readonly";'`);
    // The admin password reaches the Vault CLI on stdin, never in an argument `ps` could show.
    expect(text).toMatch(/^printf '%s' "\$DELPHI_DB_ADMIN_PASSWORD" \| vault write database\/config\/\S+ \\$/m);
    expect(text).toMatch(/^ {4}password=-$/m);
    expect(text).not.toMatch(/^(?!PGPASSWORD=|printf ).*\$DELPHI_DB_ADMIN_PASSWORD/m);
    expect(text).toMatch(/PGPASSWORD="\$DELPHI_DB_ADMIN_PASSWORD" psql -v ON_ERROR_STOP=1 'host=db.example port=5432 dbname=delphi user=vault_admin sslmode=require' <<'SQL'/);
    // The test read revokes what it issued (eos's get does at exit; a bare vault read left the lease).
    expect(text).toMatch(/^eos self secrets get database\/creds\/delphi-readonly$/m);
    expect(text).not.toMatch(/^vault read .*\/creds\//m);
  });

  it('refuses names that could escape a path, a statement or a command line', () => {
    for (const bad of [{ mount: '../sys' }, { connection: 'x;y' }, { adminUser: 'Admin' }, { target: { ...setup().target, host: 'db;rm' } }, { roles: [{ name: 'r', group: 'g"x', access: 'read' as const }] }, { defaultTtl: 10, maxTtl: 5 }]) {
      expect(() => buildEnginePlan(setup(bad))).toThrow(/not allowed|not valid|is not a Vault (role name|mount path)/);
    }
  });
});
