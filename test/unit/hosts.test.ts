import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runEos } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { loadConfig } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { dbCredentials, toDsn } from '../../src/db/credentials.js';
import { fits } from '../../src/db/host-locator.js';
import { formatHostList, MAX_HOSTS, parseHostList, splitHostsOfUrl } from '../../src/db/hosts.js';
import { isValidHost, resolveDatabaseTarget } from '../../src/db/target.js';
import { workerEnvironment } from '../../src/exec/worker-supervisor.js';
import { buildEnginePlan } from '../../src/setup/engine-plan.js';


const origin = { host: '--host', port: '--port' };

describe('a list of database hosts, libpq’s way', () => {
  it('pairs hosts and ports: one port for all, or one per host', () => {
    expect(parseHostList('a,b', '5432', isValidHost, origin)).toEqual([{ host: 'a', port: 5432 }, { host: 'b', port: 5432 }]);
    expect(parseHostList('a,b', '5432,5433', isValidHost, origin)).toEqual([{ host: 'a', port: 5432 }, { host: 'b', port: 5433 }]);
    expect(parseHostList('10.0.0.5', 5432, isValidHost, origin)).toEqual([{ host: '10.0.0.5', port: 5432 }]);
    expect(formatHostList([{ host: 'a', port: 5432 }, { host: 'b', port: 5432 }])).toEqual({ host: 'a,b', port: '5432' });
    expect(formatHostList([{ host: 'a', port: 5432 }, { host: 'b', port: 5433 }])).toEqual({ host: 'a,b', port: '5432,5433' });
  });

  it.each([
    ['a,b,c', '1,2', /3 database hosts but 2 ports \(from --port\)/],
    ['a,db;rm -rf', '5432', /^--host "db;rm -rf" is not a host name or an IP address$/],
    ['a,', '5432', /^--host "" is not a host name/],
    ['a,b', '5432,x', /database port "5432,x" \(from --port\) is not a port number list/],
    ['a,b', '5432,70000', /is not a port number list/],
    ['a,a', '5432', /name one server twice/],
    [Array.from({ length: MAX_HOSTS + 1 }, (_, i) => `h${i}`).join(','), '5432', /17 database hosts \(from --host\); eos takes at most 16/],
  ])('refuses %s / %s with one line', (hosts, ports, message) => {
    expect(() => parseHostList(hosts, ports, isValidHost, origin)).toThrow(message);
  });

  it('the target from a hostile KV value is refused, naming the KV path', () => {
    const config = loadConfig({ env: { HOME: '/nonexistent' } }).config;
    expect(() => resolveDatabaseTarget({}, { HOME: '/nonexistent' }, { host: "a,b' OR 1=1", port: '5432' }, config)).toThrow(/from Vault KV secret\/delphi\/config\/host/);
    expect(() => resolveDatabaseTarget({}, { HOME: '/nonexistent' }, { host: 'a,b', port: '5432', target_session_attrs: 'master' }, config)).toThrow(/target_session_attrs "master" is not valid/);
  });

  it('several hosts default to read-write; a value set anywhere wins; one host stays any', () => {
    const config = loadConfig({ env: { HOME: '/nonexistent' } }).config;
    const resolve = (kv: Record<string, string>, env: NodeJS.ProcessEnv = {}) => resolveDatabaseTarget({}, { HOME: '/nonexistent', ...env }, kv, config);
    const two = resolve({ host: 'db1,db2', port: '5432,5433' });
    expect(two.hosts).toEqual([{ host: 'db1', port: 5432 }, { host: 'db2', port: 5433 }]);
    expect([two.host, two.port, two.targetSessionAttrs]).toEqual(['db1', 5432, 'read-write']);
    expect(resolve({ host: 'db1,db2', port: '5432', target_session_attrs: 'prefer-standby' }).targetSessionAttrs).toBe('prefer-standby');
    expect(resolve({ host: 'db1,db2', port: '5432' }, { PGTARGETSESSIONATTRS: 'primary' }).targetSessionAttrs).toBe('primary');
    expect(resolve({ host: 'db1', port: '5432' }).targetSessionAttrs).toBe('any');
    // A KV field set empty (set-config back to one host) means none, whatever a local config kept.
    const kept = configSchema.parse({ database: { targetSessionAttrs: 'standby' } });
    expect(resolveDatabaseTarget({}, { HOME: '/nonexistent' }, { host: 'db1', port: '5432', target_session_attrs: '' }, kept).targetSessionAttrs).toBe('any');
    expect(resolveDatabaseTarget({}, { HOME: '/nonexistent' }, { host: 'db1', port: '5432' }, kept).targetSessionAttrs).toBe('standby');
  });
});

describe('which host fits target_session_attrs (libpq’s rules)', () => {
  const primary = { standby: false, readOnly: false };
  const standby = { standby: true, readOnly: true };
  const readOnlyPrimary = { standby: false, readOnly: true };
  it.each([
    ['any', [true, true, true]],
    ['read-write', [true, false, false]],
    ['read-only', [false, true, true]],
    ['primary', [true, false, true]],
    ['standby', [false, true, false]],
    ['prefer-standby', [false, true, false]],
  ] as const)('%s', (want, expected) => {
    expect([primary, standby, readOnlyPrimary].map((s) => fits(want, s))).toEqual(expected);
  });
});

describe('several hosts, handed on', () => {
  const c = dbCredentials({ host: 'db1', port: 5432, hosts: [{ host: 'db1', port: 5432 }, { host: 'db2', port: 5433 }], targetSessionAttrs: 'read-write', database: 'delphi', sslmode: 'verify-full', user: 'v-w', password: 'p@ss', source: 'dynamic' });

  it('a worker gets libpq’s lists and target_session_attrs, in PG_DSN and the PG* variables', () => {
    const env = workerEnvironment({}, c);
    expect(env.PGHOST).toBe('db1,db2');
    expect(env.PGPORT).toBe('5432,5433');
    expect(env.PGTARGETSESSIONATTRS).toBe('read-write');
    expect(toDsn(c)).toBe('postgresql://v-w:p%40ss@db1:5432,db2:5433/delphi?sslmode=verify-full&target_session_attrs=read-write');
    const one = workerEnvironment({}, dbCredentials({ ...c, password: 'p', hosts: undefined }));
    expect([one.PGHOST, one.PGPORT, 'PGTARGETSESSIONATTRS' in one]).toEqual(['db1', '5432', false]);
  });

  it('the engine’s connection lists every host and asks for the one that accepts writes', () => {
    const config = loadConfig({ env: { HOME: '/nonexistent' } }).config;
    const target = resolveDatabaseTarget({}, { HOME: '/nonexistent' }, { host: 'db1,db2', port: '5432,5433', sslmode: 'verify-full' }, config);
    const plan = buildEnginePlan({ target, mount: 'database', connection: 'delphi-postgresql', adminUser: 'postgres', style: 'group', roles: [{ name: 'delphi-readonly', group: 'delphi_readonly', access: 'read' }] });
    expect(plan.connection.connection_url).toBe('postgresql://{{username}}:{{password}}@db1:5432,db2:5433/delphi?sslmode=verify-full&target_session_attrs=read-write');
    // Read back as pgx (the dev server's plugin) and the env source read it.
    const split = splitHostsOfUrl(plan.connection.connection_url.replace('{{username}}', 'u').replace('{{password}}', 'p'));
    expect(split?.hosts).toEqual([{ host: 'db1', port: 5432 }, { host: 'db2', port: 5433 }]);
    expect(split?.want).toBe('read-write');
    expect(split?.urlFor({ host: 'db2', port: 5433 })).toBe('postgresql://u:p@db2:5433/delphi?sslmode=verify-full');
  });
});

describe('set delphi-db-config with a host list', () => {
  it('stores the list and target_session_attrs; back to one host, a stored target_session_attrs goes unless given again', async () => {
    const home = tempDir('eos-hosts-');
    const env = { HOME: home, EOS_CONFIG: path.join(home, 'eos.json') };
    const base = ['self', 'secrets', 'set', 'delphi-db-config', '--local', '--yes', '--database', 'delphi', '--sslmode', 'disable'];
    const two = await runEos([...base, '--host', 'db1,db2', '--port', '5432,5433', '--target-session-attrs', 'standby'], { env });
    expect(two.code, two.stderr).toBe(0);
    expect(two.stdout).toMatch(/^saved db1:5432,db2:5433\/delphi \(sslmode=disable, target_session_attrs=standby\)/);
    expect(JSON.parse(readFileSync(env.EOS_CONFIG, 'utf8')).database).toMatchObject({ host: 'db1,db2', port: '5432,5433', targetSessionAttrs: 'standby' });
    const one = await runEos([...base, '--host', 'db1', '--port', '5432'], { env });
    expect(one.code, one.stderr).toBe(0);
    const stored = JSON.parse(readFileSync(env.EOS_CONFIG, 'utf8')).database;
    expect(stored).toMatchObject({ host: 'db1', port: 5432 });
    expect(stored.targetSessionAttrs).toBeUndefined();
    const mismatched = await runEos([...base, '--host', 'a,b,c', '--port', '1,2'], { env });
    expect([mismatched.code, mismatched.stderr.split('\n')[0]]).toEqual([2, 'error: 3 database hosts but 2 ports (from --port)']);
    const attrs = await runEos([...base, '--host', 'a,b', '--port', '1', '--target-session-attrs', 'master'], { env });
    expect([attrs.code, attrs.stderr.split('\n')[0]]).toEqual([2, "error: option '--target-session-attrs <attrs>' argument 'master' is invalid. Allowed choices are any, read-write, read-only, primary, standby, prefer-standby."]);
    const readFrom = await runEos(['delphi', 'dashboard', '--once', '--read-from', 'nowhere'], { env });
    expect([readFrom.code, readFrom.stderr.split('\n')[0]]).toEqual([2, "error: option '--read-from <where>' argument 'nowhere' is invalid. Allowed choices are primary, standby, any."]);
    // Each refusal left the stored configuration as it was.
    expect(JSON.parse(readFileSync(env.EOS_CONFIG, 'utf8')).database).toMatchObject({ host: 'db1', port: 5432 });
  });
});
