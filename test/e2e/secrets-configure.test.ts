import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { CLI, REPO_ROOT, runEos as runCli } from '../helpers/cli.js';
import { makeTestPki } from '../helpers/pki.js';
import { tempDir } from '../helpers/tmp.js';
import { startVaultFixture, type VaultFixture } from '../helpers/vault-fixture.js';

/** A user with an empty home; the config and the token file land there. */
function user() {
  const home = tempDir();
  const env = { HOME: home, XDG_STATE_HOME: path.join(home, 'state'), EOS_LOG_FILE: path.join(home, 'eos.log') };
  return { home, env, configFile: path.join(home, '.config', 'eos', 'config.json'), tokenFile: path.join(home, '.vault-token') };
}

describe('eos self secrets configure', () => {
  let vault: VaultFixture;
  let childToken: string;
  beforeAll(async () => {
    vault = await startVaultFixture();
    await vault.write('sys/policies/acl/delphi', { policy: 'path "secret/*" { capabilities = ["read"] }' });
    const created = (await vault.write('auth/token/create', { ttl: '1h', policies: ['delphi'] })) as { auth: { client_token: string } };
    childToken = created.auth.client_token;
  });
  afterAll(() => vault?.stop());

  it('saves a token configuration given by flags and stdin: token to ~/.vault-token (0600), never to the config', async () => {
    const u = user();
    const r = await runCli(['self', 'secrets', 'configure', '--addr', vault.addr, '--auth', 'token', '--token-stdin', '--yes'], { env: u.env, input: `${childToken}\n` });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/✓ Vault .* answers; token ok \(policies default, delphi, TTL \d+ s\)/);
    const config = JSON.parse(readFileSync(u.configFile, 'utf8'));
    expect(config.vault).toEqual({ address: vault.addr, auth: { method: 'token' } });
    // A host set up for Vault without a word on fallbacks fails closed: dynamic alone.
    expect(config.credentials).toEqual({ sources: ['dynamic'] });
    expect(readFileSync(u.tokenFile, 'utf8')).toBe(childToken);
    expect(statSync(u.tokenFile).mode & 0o777).toBe(0o600);
    expect(statSync(u.configFile).mode & 0o777).toBe(0o600);
    for (const text of [r.stdout, r.stderr, readFileSync(u.configFile, 'utf8'), readFileSync(u.env.EOS_LOG_FILE, 'utf8')]) expect(text).not.toContain(childToken);

    // --sources says otherwise, and a file that already says keeps it on the next configure.
    const withKv = await runCli(['self', 'secrets', 'configure', '--addr', vault.addr, '--sources', 'dynamic,kv', '--yes'], { env: u.env });
    expect(withKv.code, withKv.stderr).toBe(0);
    expect(JSON.parse(readFileSync(u.configFile, 'utf8')).credentials).toEqual({ sources: ['dynamic', 'kv'] });
    expect((await runCli(['self', 'secrets', 'configure', '--addr', vault.addr, '--yes'], { env: u.env })).code).toBe(0);
    expect(JSON.parse(readFileSync(u.configFile, 'utf8')).credentials).toEqual({ sources: ['dynamic', 'kv'] });
    // VAULT_SKIP_VERIFY from the environment is said as the flag is.
    const skipping = await runCli(['self', 'secrets', 'configure', '--addr', vault.addr, '--yes'], { env: { ...u.env, VAULT_SKIP_VERIFY: 'true' } });
    expect(skipping.stderr).toMatch(/^warning: TLS verification of .* is OFF \(VAULT_SKIP_VERIFY\): use it only for a test server$/m);
    const bad = await runCli(['self', 'secrets', 'configure', '--addr', vault.addr, '--sources', 'dynamic,vault', '--yes'], { env: u.env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: --sources "dynamic,vault" names an unknown source$/m);

    // The saved configuration works for the next command, with the token from the file.
    const get = await runCli(['self', 'secrets', 'get', 'secret/nothing'], { env: u.env });
    expect(get.stderr).toMatch(/secret\/nothing: no secret at this path/);
  });

  it('saves an AppRole configuration; the secret-id stays in its file', async () => {
    const u = user();
    const secretIdFile = path.join(u.home, 'secret-id');
    writeFileSync(secretIdFile, `${vault.approle.secretId}\n`, { mode: 0o600 });
    const r = await runCli(
      ['self', 'secrets', 'configure', '--addr', vault.addr, '--auth', 'approle', '--role-id', vault.approle.roleId, '--secret-id-file', secretIdFile, '--json'],
      { env: u.env },
    );
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ verified: true, auth: 'approle', tokenPolicies: ['default', 'delphi'], tokenFile: null });
    expect(JSON.parse(readFileSync(u.configFile, 'utf8')).vault.auth).toEqual({ method: 'approle', roleId: vault.approle.roleId, secretIdFile, mount: 'approle' });
    expect(existsSync(u.tokenFile)).toBe(false);
    expect(r.stdout + r.stderr + readFileSync(u.configFile, 'utf8')).not.toContain(vault.approle.secretId);
  });

  it('refuses an address where no Vault answers: exit 3, the hint, nothing saved', async () => {
    const u = user();
    const r = await runCli(['self', 'secrets', 'configure', '--addr', 'http://127.0.0.1:1', '--token-stdin', '--yes'], { env: { ...u.env, VAULT_MAX_RETRIES: '0' }, input: childToken });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^error: Vault at http:\/\/127\.0\.0\.1:1 is unreachable: ECONNREFUSED$/m);
    expect(r.stderr).toMatch(/^hint: check that Vault runs at that address \(curl http:\/\/127\.0\.0\.1:1\/v1\/sys\/health\)/m);
    // configure itself failed: its hint must not send the user back to configure.
    expect(r.stderr).not.toMatch(/eos self secrets configure/);
    expect(existsSync(u.configFile)).toBe(false);
    expect(existsSync(u.tokenFile)).toBe(false);
  });

  it('an AppRole login with a wrong secret-id is refused (exit 4, not 1); a secret-id file others may read is named', async () => {
    const u = user();
    const secretIdFile = path.join(u.home, 'secret-id');
    writeFileSync(secretIdFile, 'not-the-secret-id-1234\n', { mode: 0o600 });
    const args = ['self', 'secrets', 'configure', '--yes', '--addr', vault.addr, '--auth', 'approle', '--role-id', vault.approle.roleId, '--secret-id-file', secretIdFile];
    const wrong = await runCli(args, { env: u.env });
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toMatch(/^error: Vault refused the AppRole login at auth\/approle\/login: /m);
    expect(wrong.stderr + wrong.stdout).not.toContain('not-the-secret-id-1234');
    expect(existsSync(u.configFile)).toBe(false);

    // The right one, in a file as `vault write … > file` leaves it under a 022 umask.
    writeFileSync(secretIdFile, `${vault.approle.secretId}\n`);
    chmodSync(secretIdFile, 0o644);
    const open = await runCli(args, { env: u.env });
    expect(open.code, open.stderr).toBe(0);
    expect(open.stderr).toMatch(new RegExp(`^warning: the AppRole secret-id file ${secretIdFile} is mode 0644: others on this machine may read it \\(chmod 600 `, 'm'));
  });

  it('names the real fix: AppRole not enabled at the mount (exit 4), a token file that does not exist (exit 2)', async () => {
    const u = user();
    const secretIdFile = path.join(u.home, 'secret-id');
    writeFileSync(secretIdFile, `${vault.approle.secretId}\n`, { mode: 0o600 });
    const wrongMount = await runCli(
      ['self', 'secrets', 'configure', '--yes', '--addr', vault.addr, '--auth', 'approle', '--role-id', vault.approle.roleId, '--secret-id-file', secretIdFile, '--approle-mount', 'ci-approle'],
      { env: u.env },
    );
    expect(wrongMount.code).toBe(4);
    // OpenBao answers a login where nothing is mounted with 403 (a login sends no token), as the dev server now does.
    expect(wrongMount.stderr).toMatch(/^error: no AppRole auth method at auth\/ci-approle\/, or this host is locked out of it \(Vault answered 403 to auth\/ci-approle\/login\)$/m);
    expect(wrongMount.stderr).toMatch(/^hint: enable it \(vault auth enable -path=ci-approle approle\)/m);
    expect(wrongMount.stderr).not.toMatch(/KV paths/);

    const noFile = await runCli(['self', 'secrets', 'configure', '--yes', '--addr', vault.addr, '--auth', 'token-file', '--token-file', '/nope'], { env: u.env });
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toMatch(/^error: the token file \/nope does not exist$/m);
    expect(noFile.stderr).not.toMatch(/VAULT_TOKEN is not set/);
    expect(existsSync(u.configFile)).toBe(false);
  });

  it('refuses a bad token: exit 4, nothing saved; --force saves anyway', async () => {
    const u = user();
    const args = ['self', 'secrets', 'configure', '--addr', vault.addr, '--token-stdin', '--yes'];
    const r = await runCli(args, { env: u.env, input: 'hvs.not-a-valid-token-000000' });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^error: Vault denied access to auth\/token\/lookup-self: permission denied$/m);
    expect(r.stderr).not.toContain('hvs.not-a-valid-token-000000');
    expect(existsSync(u.configFile)).toBe(false);

    const forced = await runCli([...args, '--force'], { env: u.env, input: 'hvs.not-a-valid-token-000000' });
    expect(forced.code).toBe(0);
    expect(forced.stderr).toMatch(/warning: saving anyway \(--force\)/);
    expect(JSON.parse(readFileSync(u.configFile, 'utf8')).vault.address).toBe(vault.addr);
  });

  it('refuses a server whose CA is unknown: exit 3 with the VAULT_CACERT hint; works with --ca-cert', async () => {
    const pki = makeTestPki();
    // A TLS front that forwards to the dev server, so the certificate is the only difference.
    const front = createServer({ key: pki.key, cert: pki.cert }, async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const upstream = await fetch(`${vault.addr}${req.url}`, {
        method: req.method,
        headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith('x-vault') || k === 'content-type')) as Record<string, string>,
        body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
      });
      res.writeHead(upstream.status, { 'Content-Type': 'application/json' });
      res.end(Buffer.from(await upstream.arrayBuffer()));
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    const addr = `https://127.0.0.1:${(front.address() as AddressInfo).port}`;
    try {
      const u = user();
      const r = await runCli(['self', 'secrets', 'configure', '--addr', addr, '--token-stdin', '--yes'], { env: u.env, input: childToken });
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/^error: the TLS certificate of https:\/\/127\.0\.0\.1:\d+ is not trusted/m);
      expect(r.stderr).toMatch(/^hint: set VAULT_CACERT/m);
      expect(existsSync(u.configFile)).toBe(false);

      const ok = await runCli(['self', 'secrets', 'configure', '--addr', addr, '--ca-cert', pki.caFile, '--token-stdin', '--yes'], { env: u.env, input: childToken });
      expect(ok.code).toBe(0);
      expect(JSON.parse(readFileSync(u.configFile, 'utf8')).vault).toMatchObject({ address: addr, caCert: pki.caFile });
    } finally {
      front.close();
      pki.remove();
    }
  });

  it('without a terminal, a missing value is exit 2 naming the flag', async () => {
    const u = user();
    const noAddr = await runCli(['self', 'secrets', 'configure', '--yes'], { env: u.env });
    expect(noAddr.code).toBe(2);
    expect(noAddr.stderr).toMatch(/^error: no terminal to ask for the Vault address: pass --addr \(or set VAULT_ADDR\)$/m);
    const noRole = await runCli(['self', 'secrets', 'configure', '--addr', vault.addr, '--auth', 'approle'], { env: u.env });
    expect(noRole.code).toBe(2);
    expect(noRole.stderr).toMatch(/^error: --role-id is required with --auth approle$/m);
    expect(existsSync(u.configFile)).toBe(false);
  });

  it('asks on a terminal: address, method, hidden token, CA, namespace (driven through a pseudo-terminal)', async () => {
    const u = user();
    // util-linux `script` gives the CLI a real pseudo-terminal; we type into it.
    const child = spawn('script', ['-qfec', `${process.execPath} ${CLI} self secrets configure`, '/dev/null'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, TERM: 'xterm', ...u.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let screen = '';
    let everything = '';
    const collect = (d: Buffer) => {
      screen += d;
      everything += d;
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    onTestFinished(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    const answer = async (prompt: RegExp, keys: string) => {
      await expect.poll(() => screen, { timeout: 15_000 }).toMatch(prompt);
      screen = screen.slice(screen.search(prompt) + 1);
      child.stdin.write(keys);
    };
    await answer(/Vault address/, `${vault.addr}\r`);
    await answer(/How does eos authenticate/, '\r'); // the default: a token
    await answer(/Vault token \(hidden/, `${childToken}\r`);
    await answer(/CA bundle/, '\r');
    await answer(/Namespace/, '\r');
    // Which fallbacks this host allows: asked, with failing closed (dynamic alone) as the default.
    await answer(/Credential sources, in order/, `${'\u007f'.repeat(7)}dynamic,kv\r`);
    expect(await exited).toBe(0);
    expect(screen).toMatch(/saved .*config\.json and the token to .*\.vault-token/);
    const saved = JSON.parse(readFileSync(u.configFile, 'utf8'));
    expect(saved.vault).toEqual({ address: vault.addr, auth: { method: 'token' } });
    expect(saved.credentials).toEqual({ sources: ['dynamic', 'kv'] });
    expect(readFileSync(u.tokenFile, 'utf8')).toBe(childToken);
    // The token was typed into a hidden prompt: the terminal never shows it.
    expect(everything).not.toContain(childToken);
  }, 60_000);

  for (const [how, act] of [
    ['Ctrl-C', (child: ReturnType<typeof spawn>) => child.stdin?.write('\u0003')],
    ['Ctrl-D', (child: ReturnType<typeof spawn>) => child.stdin?.write('\u0004')],
    ['an outside SIGINT', () => process.kill(promptPid(), 'SIGINT')],
  ] as const) {
    it(`${how} at a prompt: "cancelled", exit 130, the terminal's echo back, nothing saved`, async () => {
      const u = user();
      // The shell inside the pseudo-terminal reports eos's exit status, then the terminal's mode.
      const child = spawn('script', ['-qfec', `sh -c '${process.execPath} ${CLI} self secrets configure; echo "eos-exit=$?"; stty -a'`, '/dev/null'], {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH, TERM: 'xterm', ...u.env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let screen = '';
      child.stdout.on('data', (d) => (screen += d));
      child.stderr.on('data', (d) => (screen += d));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      onTestFinished(() => {
        if (child.exitCode === null) child.kill('SIGKILL');
      });
      await expect.poll(() => screen, { timeout: 15_000 }).toMatch(/Vault address/);
      act(child);
      await exited;
      expect(screen).toMatch(/error: cancelled\r?$/m);
      expect(screen).toMatch(/eos-exit=130/);
      expect(screen).not.toMatch(/unexpected failure|force closed/);
      // stty lists "-echo" when echo is off: the prompt's raw mode was undone.
      expect(screen).toMatch(/(^|\s)echo(\s|$)/m);
      expect(existsSync(u.configFile)).toBe(false);
    }, 60_000);
  }
});

/** The pid of the eos process waiting at its prompt (started through script and sh). */
function promptPid(): number {
  const pid = readdirSync('/proc').find((p) => {
    if (!/^\d+$/.test(p)) return false;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      return cmd[0] === process.execPath && cmd.includes('configure');
    } catch {
      return false;
    }
  });
  return Number(pid);
}
