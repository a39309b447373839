import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interruptController } from '../../src/commands/interrupt.js';
import { runEos, startEos, type CliResult } from '../helpers/cli.js';
import { makeTestPki } from '../helpers/pki.js';
import { startVaultFixture, type VaultFixture } from '../helpers/vault-fixture.js';

/**
 * Bad input, as a careless or hostile user gives it, across every command (issue 29): each case
 * is one command line with its environment and input, and what eos must answer — the one
 * `error:` line, the gist of its hint, the documented exit code — and what it must not do:
 * reach "this is a bug in eos", echo a huge input back, print a secret, or change anything
 * (the config's bytes, the files under HOME, the dev server's leases, PostgreSQL's roles). A
 * case with `interrupt` waits on something that never answers and is sent a signal: it must end
 * within a second of it.
 *
 * Adding a case is one line in CASES.
 */

interface Case {
  argv: string[];
  env?: Record<string, string | undefined>;
  input?: string;
  code: number;
  error: RegExp;
  hint?: RegExp;
  /** Fire this signal after 300 ms; the command must end within 1 s of it. */
  interrupt?: NodeJS.Signals;
}

const BIG = 'x'.repeat(100_000);
const MEG = 'y'.repeat(1_000_000);

/** Filled in once the fixture runs: addresses of a dev server, a server that never answers, one that is not Vault. */
const at = { vault: '', blackhole: '', notVault: '', closed: 'http://127.0.0.1:1' };

const status = ['self', 'secrets', 'status'];
const test = ['self', 'secrets', 'test'];
const get = ['self', 'secrets', 'get'];
const env = ['self', 'secrets', 'env'];
const exec = ['self', 'secrets', 'exec'];
const configure = ['self', 'secrets', 'configure'];
const setConfig = ['self', 'secrets', 'set', 'delphi-db-config'];
const setEngine = ['self', 'secrets', 'set', 'delphi-db-engine'];
const dashboard = ['delphi', 'dashboard'];
const schemaStatus = ['delphi', 'schema', 'status'];
const schemaApply = ['delphi', 'schema', 'apply'];
const configShow = ['self', 'config', 'show'];

function cases(): [string, Case][] {
  const list: [string, Case][] = [];
  const add = (name: string, c: Case) => list.push([name, c]);

  // 1. A Vault that accepts connections and never answers: every command ends on a signal
  //    within a second, and reports the client timeout by its name.
  for (const [what, argv] of [
    ['status', status],
    ['test', test],
    ['get', [...get, 'secret/delphi/database/username']],
    ['env', [...env, '--source', 'dynamic']],
    ['exec', [...exec, '--source', 'dynamic', '--', 'true']],
    ['dashboard --once', [...dashboard, '--once', '--source', 'dynamic']],
    ['set delphi-db-config', [...setConfig, '--host', 'db.internal', '--port', '5432', '--database', 'delphi', '--sslmode', 'require']],
    ['schema status', [...schemaStatus, '--source', 'dynamic']],
  ] as const) {
    add(`SIGTERM while Vault never answers: ${what}`, { argv: [...argv], env: { VAULT_ADDR: '@blackhole' }, interrupt: 'SIGTERM', code: 143, error: /^interrupted by SIGTERM$/ });
    add(`SIGINT while Vault never answers: ${what}`, { argv: [...argv], env: { VAULT_ADDR: '@blackhole' }, interrupt: 'SIGINT', code: 130, error: /^interrupted by SIGINT$/ });
  }
  for (const [what, argv] of [
    ['get', [...get, 'secret/delphi/database/username']],
    ['env', [...env, '--source', 'dynamic']],
    ['set delphi-db-config', [...setConfig, '--host', 'db.internal', '--port', '5432', '--database', 'delphi', '--sslmode', 'require']],
  ] as const) {
    add(`a Vault that never answers, reported after VAULT_CLIENT_TIMEOUT: ${what}`, {
      argv: [...argv],
      env: { VAULT_ADDR: '@blackhole', VAULT_CLIENT_TIMEOUT: '1s' },
      code: 3,
      error: /did not answer within 1 s \(VAULT_CLIENT_TIMEOUT\)/,
      // env's hint is the credential chain's (which sources were allowed); the others name the setting.
      ...(what === 'env' ? {} : { hint: /VAULT_CLIENT_TIMEOUT/ }),
    });
  }

  // 2. Ordinary input that reached "this is a bug in eos".
  for (const [what, token] of [
    ['a line break inside', 'hvs.abc\ndef'],
    ['a tab inside', 'hvs.abc\tdef'],
    ['a carriage return inside', 'hvs.abc\rdef'],
    ['a NUL', 'hvs.abc\u0000def'],
    ['a space inside', 'hvs.abc def'],
    ['a non-ASCII letter', 'hvs.tökén'],
    ['100 KB', `hvs.${BIG}`],
  ] as const) {
    for (const argv of [status, [...get, 'secret/delphi/database/username'], test]) {
      add(`VAULT_TOKEN with ${what}: ${argv.slice(2).join(' ')}`, { argv: [...argv], env: { VAULT_TOKEN: token }, code: 2, error: /^the Vault token from VAULT_TOKEN (holds|is)/, hint: /token/ });
    }
  }
  add('a token file with a line break inside', { argv: [...get, 'secret/delphi/database/username'], env: { VAULT_TOKEN: undefined, '@tokenFile': 'hvs.abc\nsecond-line\n' }, code: 2, error: /^the Vault token from .*\.vault-token holds/ });
  for (const addr of ['http://a b', 'http://[::1', 'http://', 'ftp://vault:8200', 'vault.example.com:8200', 'http://exa mple.com:8200/x', `http://${BIG}.example`]) {
    add(`configure --addr ${JSON.stringify(addr.slice(0, 30))}`, { argv: [...configure, '--addr', addr, '--yes'], code: 2, error: /^Vault address .* is not an http:\/\/ or https:\/\/ URL/ });
    add(`VAULT_ADDR=${JSON.stringify(addr.slice(0, 30))}: status`, { argv: [...status], env: { VAULT_ADDR: addr }, code: 2, error: /^Vault address .* is not an http:\/\/ or https:\/\/ URL/ });
  }
  add('--log-file naming a directory', { argv: [...configShow, '--log-file', '@home'], code: 2, error: /^the log file .* is a directory/ });
  add('EOS_LOG_FILE naming a directory', { argv: [...status], env: { EOS_LOG_FILE: '@home' }, code: 2, error: /^the log file .* is a directory/ });
  add('--log-file under a file', { argv: [...status, '--log-file', '@home/afile/eos.log'], code: 2, error: /^the log file .* cannot be created/ });

  // 3. Values saved unchecked, and files changed that should not be.
  for (const [what, value, error] of [
    ['not a certificate', '/etc/passwd', /^the CA certificate \/etc\/passwd holds no PEM certificate/],
    ['missing', '/nonexistent/ca.pem', /^cannot read the CA certificate \/nonexistent\/ca\.pem: ENOENT/],
    ['a directory', '/etc', /^cannot read the CA certificate \/etc: EISDIR/],
  ] as const) {
    add(`configure --ca-cert ${what}`, { argv: [...configure, '--addr', '@vault', '--ca-cert', value, '--yes'], code: 2, error });
  }
  for (const ns of ['../../x', 'a//b', '/', 'ns1/../root', 'a b', BIG]) {
    add(`configure --namespace ${JSON.stringify(ns.slice(0, 20))}`, { argv: [...configure, '--addr', '@vault', '--namespace', ns, '--yes'], code: 2, error: /^the namespace .* is not a Vault namespace path/ });
    add(`VAULT_NAMESPACE=${JSON.stringify(ns.slice(0, 20))}: status`, { argv: [...status], env: { VAULT_NAMESPACE: ns }, code: 2, error: /^the namespace .* is not a Vault namespace path/ });
  }

  // 4. Names that become paths.
  for (const role of ['../../sys/seal-status', '../creds/other', 'a/b', '..', '.', '', 'role?x=1', 'role#frag', `r${BIG}`]) {
    add(`exec --role ${JSON.stringify(role.slice(0, 24))}`, { argv: [...exec, '--role', role, '--', 'true'], code: 2, error: /^the role .* is not a Vault role name/, hint: /letters, digits/ });
    add(`env --role ${JSON.stringify(role.slice(0, 24))}`, { argv: [...env, '--role', role], code: 2, error: /^the role .* is not a Vault role name/ });
    add(`test --role ${JSON.stringify(role.slice(0, 24))}`, { argv: [...test, '--role', role], code: 2, error: /^the role .* is not a Vault role name/ });
  }
  for (const mount of ['../sys', 'a/../b', '', '/', 'db//x', 'db/']) {
    add(`set delphi-db-engine --mount ${JSON.stringify(mount)}`, { argv: [...setEngine, '--mount', mount], code: 2, error: /^the mount .* is not a Vault mount path/ });
  }
  for (const p of ['../sys/seal-status', 'secret/../sys/health', 'secret/./x', '', `secret/${BIG}`]) {
    add(`get ${JSON.stringify(p.slice(0, 24))}`, { argv: [...get, p], code: 2, error: /^(the path (.* )?(is not|is too long)|a path is required)/ });
  }

  // 5. Oversized input: a clear limit, never the input echoed whole.
  add('configure --token-stdin with 1 MB', { argv: [...configure, '--addr', '@vault', '--auth', 'token', '--token-stdin', '--yes'], input: MEG, code: 2, error: /^the Vault token from standard input is 1000000 bytes long/ });
  add('configure --token-stdin with two lines', { argv: [...configure, '--addr', '@vault', '--auth', 'token', '--token-stdin', '--yes'], input: 'hvs.first\nhvs.second\n', code: 2, error: /^the Vault token from standard input holds a line break/ });
  add('get --field of 100 KB', { argv: [...get, 'secret/delphi/database/username', '--field', BIG], code: 2, error: /has no field/ });
  add('set delphi-db-config --host of 100 KB', { argv: [...setConfig, '--host', BIG, '--port', '5432', '--database', 'delphi', '--local'], code: 2, error: /host/ });
  add('set delphi-db-config --database of 100 KB', { argv: [...setConfig, '--host', 'db', '--port', '5432', '--database', BIG, '--local'], code: 2, error: /database/ });

  // 6. Values accepted but absurd.
  for (const [flag, value] of [['--interval', '3000000s'], ['--interval', '0s'], ['--interval', '-5s'], ['--interval', 'soon'], ['--interval', '1e400s']] as const) {
    add(`dashboard ${flag} ${value}`, { argv: [...dashboard, '--once', flag, value], code: 2, error: new RegExp(`^--interval`) });
  }
  for (const [flag, value] of [['--grace', '99999999999999999999s'], ['--grace', '-1s'], ['--grace', 'x']] as const) {
    add(`exec ${flag} ${value}`, { argv: [...exec, flag, value, '--', 'true'], code: 2, error: /^--grace/ });
  }
  for (const [flag, value] of [['--default-ttl', '99999999999999999999999s'], ['--max-ttl', '99999999999999999999s'], ['--default-ttl', '0s'], ['--max-ttl', '-1h'], ['--default-ttl', 'forever']] as const) {
    add(`set delphi-db-engine ${flag} ${value}`, { argv: [...setEngine, flag, value], code: 2, error: new RegExp(`^${flag}`) });
  }
  for (const [flag, value] of [['--ttl', '99999999999999999999s'], ['--max-ttl', '0s'], ['--alerts', '-1'], ['--alerts', '1e12'], ['--port', '70000'], ['--port', 'http']] as const) {
    add(`sandbox ${flag} ${value}`, { argv: ['sandbox', flag, value], code: 2, error: new RegExp(`^--${flag.slice(2)}`) });
  }
  add('sandbox --port that something listens on: refused before PostgreSQL starts', { argv: ['sandbox', '--port', '@busyPort'], code: 2, error: /^--port \d+ cannot be used: something already listens there$/ });
  for (const [name, value] of [['VAULT_CLIENT_TIMEOUT', 'abc'], ['VAULT_CLIENT_TIMEOUT', '-1s'], ['VAULT_CLIENT_TIMEOUT', '99999999999999s'], ['VAULT_MAX_RETRIES', 'x'], ['VAULT_MAX_RETRIES', '-1'], ['VAULT_MAX_RETRIES', '1e9'], ['VAULT_SKIP_VERIFY', 'maybe']] as const) {
    add(`${name}=${value}: status`, { argv: [...status], env: { [name]: value }, code: 2, error: new RegExp(`^${name}=`) });
  }
  for (const [flag, value] of [['--port', '0'], ['--port', '65536'], ['--port', 'abc'], ['--port', '5432x'], ['--sslmode', 'sometimes'], ['--host', 'a b'], ['--host', "db'; DROP"], ['--database', 'x;y'], ['--database', '']] as const) {
    add(`set delphi-db-config ${flag} ${JSON.stringify(value)}`, {
      argv: [...setConfig, '--host', 'db', '--port', '5432', '--database', 'delphi', '--local', flag, value],
      code: 2,
      error: /./,
    });
  }
  for (const [name, value] of [['DELPHI_DB_PORT', '99999'], ['DELPHI_DB_PORT', 'five'], ['DELPHI_DB_HOST', 'a b'], ['DELPHI_DB_SSLMODE', 'yes'], ['DELPHI_DB_NAME', 'a"b']] as const) {
    add(`${name}=${value}: env`, { argv: [...env, '--source', 'env'], env: { [name]: value, DELPHI_DB_USER: 'u', DELPHI_DB_PASSWORD: 'p' }, code: 2, error: new RegExp(name) });
  }

  for (const [flag, value] of [['--lock-timeout', '0s'], ['--lock-timeout', '2h'], ['--lock-timeout', 'later']] as const) {
    add(`schema apply ${flag} ${value}`, { argv: [...schemaApply, '--dry-run', flag, value], env: { DELPHI_DB_ADMIN_PASSWORD: 'x' }, code: 2, error: /^--lock-timeout/ });
  }
  // Sent in PostgreSQL's start-up message, never into SQL: refused by the server as any unknown user.
  add('schema apply --admin-user with a quote', { argv: [...schemaApply, '--dry-run', '--admin-user', "adm'in"], env: { DELPHI_DB_ADMIN_PASSWORD: 'x' }, code: 4, error: /^PostgreSQL refused the admin user adm'in/, hint: /DELPHI_DB_ADMIN_PASSWORD/ });

  // Something that is not Vault at VAULT_ADDR (a web server's page): one cause, one message, whatever the command.
  for (const [what, argv, code] of [
    ['get', [...get, 'secret/delphi/database/username'], 3],
    ['env', [...env, '--source', 'dynamic'], 3],
    ['set delphi-db-config', [...setConfig, '--host', 'db', '--port', '5432', '--database', 'delphi'], 3],
    ['configure', [...configure, '--addr', '@notVault', '--yes'], 3],
  ] as const) {
    add(`not Vault at the address: ${what}`, { argv: [...argv], env: { VAULT_ADDR: '@notVault' }, code, error: /is not a Vault server|not Vault/, hint: /VAULT_ADDR/ });
  }

  // The same failures asked for as JSON: the error document on stdout, the line on stderr.
  add('--json: status with a token holding a line break', { argv: [...status, '--json'], env: { VAULT_TOKEN: 'hvs.a\nb' }, code: 2, error: /^the Vault token from VAULT_TOKEN holds a line break/ });
  add('--json: get of a path with ..', { argv: [...get, 'secret/../sys/health', '--json'], code: 2, error: /^the path .* is not a Vault path/ });
  add('--json: env --format json with a role that is a path', { argv: [...env, '--format', 'json', '--role', '../x'], code: 2, error: /^the role .* is not a Vault role name/ });
  add('--json: test with a bad namespace', { argv: [...test, '--json'], env: { VAULT_NAMESPACE: '../x' }, code: 2, error: /^the namespace .* is not a Vault namespace path/ });
  add('--json: schema status with an absurd timeout', { argv: [...schemaStatus, '--json'], env: { VAULT_CLIENT_TIMEOUT: '1e9s' }, code: 2, error: /^VAULT_CLIENT_TIMEOUT=/ });

  for (const [what, file, error] of [
    ['not a certificate', '/etc/passwd', /^--sslrootcert "\/etc\/passwd" holds no PEM certificate$/],
    ['missing', '/nonexistent/root.crt', /^--sslrootcert "\/nonexistent\/root\.crt" cannot be read: ENOENT$/],
  ] as const) {
    add(`set delphi-db-config --sslrootcert ${what}`, { argv: [...setConfig, '--host', 'db', '--port', '5432', '--database', 'delphi', '--sslmode', 'verify-full', '--local', '--sslrootcert', file], code: 2, error });
  }

  // Flags and arguments commander rejects: usage, exit 2.
  for (const argv of [[...status, '--bogus'], [...get], ['self', 'secrets', 'nope'], ['--log-level', 'loud', ...status], [...env, '--format', 'xml'], [...configure, '--auth', 'kerberos', '--yes']]) {
    add(`usage: ${argv.join(' ')}`, { argv, code: 2, error: /./ });
  }
  return list;
}

/** Everything a case could change: files under HOME (path, mode, bytes), the dev server's leases, PostgreSQL's login roles. */
async function snapshot(home: string, fixture: VaultFixture): Promise<string> {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (p.startsWith(path.join(home, 'log'))) continue;
      if (entry.isDirectory()) walk(p);
      else files.push(`${path.relative(home, p)} ${statSync(p).mode.toString(8)} ${createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 12)}`);
    }
  };
  walk(home);
  const leases = (await (await fetch(`${fixture.addr}/__dev/leases`, { headers: { 'X-Vault-Token': fixture.rootToken } })).json()) as { leases: { id: string }[] };
  const db = new pg.Client({ connectionString: fixture.dbUrl });
  await db.connect();
  // Roles are the cluster's, shared with the other test files: only the members of this fixture's group count.
  const roles = await db
    .query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE g.rolname = $1`, [`ro_${fixture.dbName}`])
    .finally(() => db.end());
  return JSON.stringify({ files: files.sort(), leases: leases.leases.map((l) => l.id).sort(), roles: roles.rows[0]?.n });
}

describe('bad input: one line, the documented exit code, nothing changed', () => {
  let fixture: VaultFixture;
  let home: string;
  let baseEnv: Record<string, string>;
  let blackhole: Server;
  const held: Socket[] = [];
  let notVault: HttpServer;

  beforeAll(async () => {
    fixture = await startVaultFixture();
    await fixture.write('secret/data/delphi/database/username', { data: { value: 'delphi_static' } });
    home = mkdtempSync(path.join(tmpdir(), 'eos-bad-input-'));
    mkdirSync(path.join(home, 'log'));
    writeFileSync(path.join(home, 'afile'), 'a plain file\n');
    blackhole = createServer((socket) => held.push(socket.on('error', () => undefined)));
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
    notVault = createHttpServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html><body>It works!</body></html>');
    });
    await new Promise<void>((resolve) => notVault.listen(0, '127.0.0.1', resolve));
    at.vault = fixture.addr;
    at.blackhole = `http://127.0.0.1:${(blackhole.address() as { port: number }).port}`;
    at.notVault = `http://127.0.0.1:${(notVault.address() as { port: number }).port}`;
    const db = new URL(fixture.dbUrl);
    baseEnv = {
      HOME: home,
      XDG_STATE_HOME: path.join(home, 'state'),
      XDG_CACHE_HOME: path.join(home, 'cache'),
      EOS_LOG_FILE: path.join(home, 'log', 'eos.log'),
      VAULT_ADDR: fixture.addr,
      VAULT_TOKEN: fixture.rootToken,
      DELPHI_DB_HOST: db.hostname,
      DELPHI_DB_PORT: db.port,
      DELPHI_DB_NAME: fixture.dbName,
      DELPHI_DB_SSLMODE: 'disable',
    };
    // A configured host: the config file is one of the things no bad input may change.
    const configured = await runEos([...configure, '--addr', fixture.addr, '--yes'], { env: baseEnv });
    expect(configured.code, configured.stderr).toBe(0);
  });
  afterAll(async () => {
    for (const s of held) s.destroy();
    blackhole?.close();
    notVault?.close();
    await fixture?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  const resolve = (value: string) =>
    value === '@busyPort'
      ? at.blackhole.replace(/^.*:/, '')
      : value.startsWith('@')
        ? value.replace(/^@(vault|blackhole|notVault|closed|home)/, (_m, k: string) => (k === 'home' ? home : at[k as keyof typeof at]))
        : value;

  // The signal for real: the CLI process, its handler, and its exit while a request still hangs.
  it.each([
    ['SIGTERM', 143, [...dashboard, '--once', '--source', 'dynamic']],
    ['SIGINT', 130, [...status]],
    ['SIGTERM', 143, [...exec, '--source', 'dynamic', '--', 'true']],
  ] as const)('the eos process ends within a second of %s (exit %i) while Vault never answers: %s', async (signal, code, argv) => {
    const eos = startEos([...argv], { env: { PATH: process.env.PATH, CI: 'true', ...baseEnv, VAULT_ADDR: at.blackhole } });
    await new Promise((r) => setTimeout(r, 1500));
    expect(eos.child.exitCode).toBeNull();
    const sent = performance.now();
    eos.child.kill(signal);
    expect(await eos.exited).toBe(code);
    expect(performance.now() - sent).toBeLessThan(1500);
    expect(eos.output.stderr).toMatch(new RegExp(`^error: interrupted by ${signal}$`, 'm'));
    expect(eos.output.stderr).not.toMatch(/bug in eos/);
  });

  it.each([[150], [350], [550]])('exec signalled while its credentials are issued (after %i ms): no worker runs, no lease is left', async (after) => {
    const control = (path: string, body: unknown) => fetch(`${fixture.addr}/__dev/${path}`, { method: 'POST', headers: { 'X-Vault-Token': fixture.rootToken }, body: JSON.stringify(body) });
    await control('latency', { ms: 600, path: 'database/creds' });
    const marker = path.join(home, `worker-ran-${after}`);
    const interrupt = interruptController();
    const timer = setTimeout(() => interrupt.fire('SIGTERM'), after);
    try {
      const r = await runEos([...exec, '--source', 'dynamic', '--role', 'delphi-readonly', '--', 'sh', '-c', `touch ${marker}`], { env: baseEnv, deps: { interrupt } });
      expect(r.code, r.stderr).toBe(143);
    } finally {
      clearTimeout(timer);
      await control('latency', { ms: 0 });
    }
    expect(existsSync(marker)).toBe(false);
    const leases = async () => ((await (await fetch(`${fixture.addr}/__dev/leases`, { headers: { 'X-Vault-Token': fixture.rootToken } })).json()) as { leases: unknown[] }).leases;
    await expect.poll(leases, { timeout: 3000 }).toEqual([]);
  });

  it("set delphi-db-config keeps a CA path across runs, and --sslrootcert '' forgets it, in KV and the file", async () => {
    const pki = makeTestPki();
    const configFile = path.join(home, '.config', 'eos', 'config.json');
    const before = readFileSync(configFile);
    const set = (extra: string[]) => runEos([...setConfig, '--host', '127.0.0.1', '--port', '5432', '--database', 'delphi', '--sslmode', 'verify-full', ...extra], { env: baseEnv });
    const kvRoot = async () => ((await (await fetch(`${fixture.addr}/v1/secret/data/delphi/config/sslrootcert`, { headers: { 'X-Vault-Token': fixture.rootToken } })).json()) as { data?: { data: { value: string } } }).data?.data.value;
    try {
      expect((await set(['--sslrootcert', pki.caFile])).code).toBe(0);
      expect(JSON.parse(readFileSync(configFile, 'utf8')).database.sslrootcert).toBe(pki.caFile);
      expect(await kvRoot()).toBe(pki.caFile);
      expect((await set([])).code).toBe(0);
      expect(JSON.parse(readFileSync(configFile, 'utf8')).database.sslrootcert).toBe(pki.caFile);
      expect((await set(['--sslrootcert', ''])).code).toBe(0);
      expect(JSON.parse(readFileSync(configFile, 'utf8')).database.sslrootcert).toBeUndefined();
      expect(await kvRoot()).toBe('');
    } finally {
      writeFileSync(configFile, before);
      await fetch(`${fixture.addr}/v1/secret/metadata/delphi/config`, { method: 'DELETE', headers: { 'X-Vault-Token': fixture.rootToken } });
      pki.remove();
    }
  });

  it('has at least 150 cases', () => {
    expect(cases().length).toBeGreaterThanOrEqual(150);
  });

  it.each(cases())('%s', async (_name, c) => {
    const before = await snapshot(home, fixture);
    const env: Record<string, string> = { ...baseEnv };
    let tokenFile: string | undefined;
    for (const [k, v] of Object.entries(c.env ?? {})) {
      if (k === '@tokenFile' && v !== undefined) {
        tokenFile = path.join(home, '.vault-token');
        writeFileSync(tokenFile, v, { mode: 0o600 });
      } else if (v === undefined) delete env[k];
      else env[k] = resolve(v);
    }
    const argv = c.argv.map(resolve);
    const interrupt = c.interrupt ? interruptController() : undefined;
    let fired = 0;
    const timer = c.interrupt
      ? setTimeout(() => {
          fired = performance.now();
          interrupt?.fire(c.interrupt as NodeJS.Signals);
        }, 300)
      : undefined;
    let result: CliResult;
    try {
      result = await runEos(argv, { env, input: c.input, deps: interrupt ? { interrupt } : undefined });
    } finally {
      clearTimeout(timer);
      if (tokenFile) rmSync(tokenFile, { force: true });
    }
    if (c.interrupt) expect(performance.now() - fired, 'ended within 1 s of the signal').toBeLessThan(1000);

    const lines = result.stderr.split('\n');
    const errors = lines.filter((l) => l.startsWith('error: '));
    expect(result.code, result.stderr.slice(0, 600)).toBe(c.code);
    expect(result.stderr).not.toMatch(/this is a bug in eos/);
    expect(errors.length, result.stderr.slice(0, 600)).toBe(1);
    expect(errors[0]?.slice('error: '.length)).toMatch(c.error);
    if (c.hint) expect(lines.find((l) => l.startsWith('hint: ')) ?? '').toMatch(c.hint);
    if (argv.includes('--json') || argv.join(' ').includes('--format json')) {
      const document = JSON.parse(result.stdout) as { error: { message: string }; exitCode: number };
      expect(document.exitCode).toBe(c.code);
      expect(document.error.message).toBe(errors[0]?.slice('error: '.length));
    }
    // Never the huge input echoed back; never a secret.
    expect(result.stderr.length + result.stdout.length).toBeLessThan(4000);
    expect(result.stderr + result.stdout).not.toContain(fixture.rootToken);
    expect(await snapshot(home, fixture)).toBe(before);
  });
});
