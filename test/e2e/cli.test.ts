import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli as runBuiltCli, runEos as runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const { version } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };

/** An isolated user: own HOME, own state and log directory. */
function user() {
  const home = tempDir();
  return { home, env: { HOME: home, XDG_STATE_HOME: path.join(home, 'state') } };
}

describe('eos as a user runs it', () => {
  it('--help lists the command groups and exits 0', async () => {
    const r = await runCli(['--help'], user());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: eos/);
    for (const group of ['self', 'delphi', 'sandbox']) expect(r.stdout).toMatch(new RegExp(`^\\s+${group}\\b`, 'm'));
    expect(r.stdout).toMatch(/^Exit codes: 0 ok · 1 a check or operation failed · 2 usage/m);
    expect(r.stdout).toMatch(/5 database unreachable/);
    expect(r.stdout).toMatch(/^Documentation: README\.md and docs\//m);
    expect(r.stderr).toBe('');
  });

  it('a command\'s help shows its examples and its defaults in one style', async () => {
    const r = await runCli(['self', 'secrets', 'set', 'delphi-db-engine', '--help'], user());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Examples:\n {2}\$ eos self secrets set delphi-db-engine/m);
    expect(r.stdout).toMatch(/--group <role> [^]*?\(default:\s+delphi_readonly\)/);
    expect(r.stdout).not.toMatch(/\(default: "/);
  });

  it('--version prints the package version', async () => {
    const r = await runCli(['--version'], user());
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it('validates durations the same way everywhere: dashboard --sandbox --ttl abc is exit 2 before anything starts', async () => {
    for (const args of [['delphi', 'dashboard', '--sandbox', '--ttl', 'abc'], ['sandbox', '--ttl', 'abc']]) {
      const r = await runCli(args, user());
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^error: --ttl "abc" is not a duration of at least 1s$/m);
      expect(r.stderr).not.toMatch(/starting PostgreSQL/);
    }
    const inverted = await runCli(['delphi', 'dashboard', '--sandbox', '--ttl', '10m', '--max-ttl', '1m'], user());
    expect(inverted.code).toBe(2);
    expect(inverted.stderr).toMatch(/^error: --max-ttl "1m" is shorter than --ttl "10m"$/m);
  });

  it('the live dashboard without a terminal is exit 2 at once, naming --once and --json; nothing starts', async () => {
    const r = await runCli(['delphi', 'dashboard', '--sandbox'], user());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: the live dashboard needs a terminal; use --once or --json$/m);
    expect(r.stderr).not.toMatch(/starting PostgreSQL|Raw mode|unexpected failure/);
  });

  it('sandbox --port on a busy port is exit 2 naming it, from the built CLI (its bundle runs from the code cache)', async () => {
    const { createServer } = await import('node:net');
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = await runBuiltCli(['sandbox', '--port', String(port), '--plain'], user());
      expect(r.stderr.split('\n')[0]).toBe(`error: --port ${port} cannot be used: something already listens there`);
      expect(r.code).toBe(2);
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
    // The class of the bug: no dynamic import() of a Node module in the bundle (V8's code cache has no loader for it).
    expect(readFileSync(path.join(REPO_ROOT, 'dist', 'eos.cjs'), 'utf8')).not.toMatch(/\bimport\("node:/);
  });

  it('--metrics-listen: a bad value or a busy port is exit 2 naming it, before any credentials are asked for', async () => {
    const bad = await runCli(['self', 'secrets', 'exec', '--metrics-listen', 'nine', '--', 'true'], user());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: --metrics-listen "nine" is not a port or host:port$/m);
    const { createServer } = await import('node:net');
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const taken = await runCli(['self', 'secrets', 'exec', '--metrics-listen', String(port), '--', 'true'], user());
      expect(taken.code).toBe(2);
      expect(taken.stderr).toMatch(new RegExp(`^error: --metrics-listen 127\\.0\\.0\\.1:${port}: EADDRINUSE$`, 'm'));
      expect(taken.stderr).not.toMatch(/credential source/);
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });

  it('repeats a huge or multi-line value cut and escaped, on one line', async () => {
    const u = user();
    const base = ['self', 'secrets', 'set', 'delphi-db-config', '--local', '--yes', '--port', '5432', '--database', 'delphi', '--sslmode', 'disable'];
    const huge = await runCli([...base, '--host', 'h'.repeat(100_000)], u);
    expect(huge.code).toBe(2);
    expect(huge.stderr).toMatch(/^error: --host "h{100}… \(99900 more characters\)" is not a host name or an IP address$/m);
    expect(huge.stderr.length).toBeLessThan(400);
    const twoLines = await runCli([...base, '--host', 'db\nerror: forged'], u);
    expect(twoLines.code).toBe(2);
    expect(twoLines.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^error: --host "db\\nerror: forged" is not a host name/), expect.stringMatching(/^hint: /)]);
  });

  it('an unknown command exits 2 with one error line and a hint', async () => {
    const r = await runCli(['sefl'], user());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: unknown command 'sefl'/m);
    expect(r.stderr).toMatch(/^hint: run 'eos --help' for usage$/m);
    expect(r.stdout).toBe('');
  });

  it('a bad option exits 2 and names the command to ask for help', async () => {
    const r = await runCli(['self', 'config', 'show', '--bogus'], user());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: unknown option '--bogus'/m);
    expect(r.stderr).toMatch(/^hint: run 'eos self config show --help' for usage$/m);
  });

  it('a bad value for a global option exits 2', async () => {
    const r = await runCli(['--log-level', 'loud', 'self', 'config', 'show'], user());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/argument 'loud' is invalid/);
  });

  it('a group without a subcommand shows its help and exits 2', async () => {
    const r = await runCli(['self'], user());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Usage: eos self/);
  });

  it('config show reports the file found and the Vault settings with their origins', async () => {
    const u = user();
    const file = path.join(u.home, '.config', 'eos', 'config.json');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ vault: { address: 'https://file.example:8200' }, kv: { mount: 'kv' } }));
    const r = await runCli(['self', 'config', 'show', '--json'], { env: { ...u.env, VAULT_NAMESPACE: 'team-a', VAULT_TOKEN: 'hvs.shouldnotappear0123456789' } });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.file).toEqual({ path: file, origin: 'xdg', present: true });
    expect(report.vault).toMatchObject({ address: 'https://file.example:8200', namespace: 'team-a', token: 'set' });
    expect(report.vault.origins).toMatchObject({ address: 'file', namespace: 'env', token: 'env' });
    expect(r.stdout + r.stderr).not.toContain('shouldnotappear');

    const flagged = await runCli(['--config', file, 'self', 'config', 'show', '--json'], { env: { ...u.env, VAULT_ADDR: 'http://127.0.0.1:8200' } });
    expect(JSON.parse(flagged.stdout).vault).toMatchObject({ address: 'http://127.0.0.1:8200' });
    expect(JSON.parse(flagged.stdout).file.origin).toBe('--config');
  });

  it('configure and set delphi-db-config create a file named by --config or EOS_CONFIG (0600, new directory 0700)', async () => {
    const u = user();
    const byFlag = path.join(u.home, 'new', 'by-flag.json');
    const set = await runCli(['--config', byFlag, 'self', 'secrets', 'set', 'delphi-db-config', '--local', '--yes', '--host', 'db.example', '--port', '5432', '--database', 'delphi', '--sslmode', 'require'], u);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(readFileSync(byFlag, 'utf8')).database).toEqual({ host: 'db.example', port: 5432, name: 'delphi', sslmode: 'require' });
    expect(statSync(byFlag).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(byFlag)).mode & 0o777).toBe(0o700);

    const byEnv = path.join(u.home, 'other', 'by-env.json');
    const configure = await runCli(['self', 'secrets', 'configure', '--yes', '--addr', 'http://127.0.0.1:1', '--auth', 'token', '--force'], { env: { ...u.env, EOS_CONFIG: byEnv, VAULT_MAX_RETRIES: '0' } });
    expect(configure.code, configure.stderr).toBe(0);
    expect(JSON.parse(readFileSync(byEnv, 'utf8')).vault).toMatchObject({ address: 'http://127.0.0.1:1', auth: { method: 'token' } });

    // A command that only reads still refuses a missing file, and names the command that makes it.
    const missing = path.join(u.home, 'nowhere.json');
    const show = await runCli(['--config', missing, 'self', 'config', 'show'], u);
    expect(show.code).toBe(2);
    expect(show.stderr).toContain(`hint: create it: eos --config ${missing} self secrets configure writes it`);
  });

  describe('a broken configuration exits 2, names the file and the problem, and is left unchanged', () => {
    const cases: Record<string, { content?: string; directory?: boolean; expected: RegExp }> = {
      'bad JSON': { content: '{ "vault": { "address": "https://v:8200", } }', expected: /not valid JSON: unexpected "}" at line 1, column 43/ },
      'a wrong type': { content: '{ "database": { "port": "5432" } }', expected: /database\.port: / },
      'an unknown auth method': { content: '{ "vault": { "auth": { "method": "kerberos" } } }', expected: /vault\.auth\.method: must be one of "token", "token-file", "approle"/ },
      'an unreadable file': { directory: true, expected: /cannot read the file: it is a directory/ },
    };
    for (const [name, c] of Object.entries(cases)) {
      it(name, async () => {
        const u = user();
        const file = path.join(u.home, 'eos.json');
        if (c.directory) mkdirSync(file);
        else writeFileSync(file, c.content as string);
        const r = await runCli(['self', 'config', 'show'], { env: { ...u.env, EOS_CONFIG: file } });
        expect(r.code).toBe(2);
        const lines = r.stderr.trim().split('\n');
        expect(lines).toHaveLength(2);
        expect(lines[0]).toMatch(new RegExp(`^error: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
        expect(lines[0]).toMatch(c.expected);
        expect(lines[1]).toMatch(/^hint: /);
        // The fix, not a circle: configure refuses a broken file as well.
        expect(lines[1]).not.toMatch(/rewrite it with/);
        expect(r.stdout).toBe('');
        if (!c.directory) expect(readFileSync(file, 'utf8')).toBe(c.content);
      });
    }
  });

  it('a malformed Vault variable is a usage error naming it', async () => {
    const r = await runCli(['self', 'config', 'show'], { env: { ...user().env, VAULT_SKIP_VERIFY: 'maybe' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: VAULT_SKIP_VERIFY="maybe" is not a boolean$/m);
  });
});
