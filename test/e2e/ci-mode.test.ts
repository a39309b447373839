import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, hasAnsi, REPO_ROOT, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

/** Runs eos on a pseudo-terminal (util-linux `script`), as a CI runner with a TTY would. */
function onTerminal(args: string[], env: NodeJS.ProcessEnv, stopWhen?: RegExp): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const command = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: REPO_ROOT, env: { PATH: process.env.PATH, TERM: 'xterm-256color', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    const take = (d: Buffer) => {
      output += d.toString();
      if (stopWhen?.test(output)) child.kill('SIGKILL');
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', reject);
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/**
 * CI=true means no person is there, even on a terminal: no prompt, no live screen, no colour.
 * (Every run through runCli — CI=true, no terminal — is also checked for escapes and schemas.)
 */
describe('CI=true on a terminal', () => {
  const env = () => {
    const home = tempDir();
    return { HOME: home, XDG_STATE_HOME: path.join(home, 'state'), CI: 'true' };
  };

  it('configure does not prompt: the missing address is a usage error naming its flag and variable', async () => {
    const r = await onTerminal(['self', 'secrets', 'configure'], env());
    expect(r.code).toBe(2);
    expect(r.output).toMatch(/error: no terminal to ask for the Vault address: pass --addr \(or set VAULT_ADDR\)/);
    expect(hasAnsi(r.output)).toBe(false);
  });

  it('set delphi-db-config does not prompt either', async () => {
    const r = await onTerminal(['self', 'secrets', 'set', 'delphi-db-config', '--local'], env());
    expect(r.code).toBe(2);
    expect(r.output).toMatch(/error: no terminal to ask for the database host: pass --host/);
    expect(hasAnsi(r.output)).toBe(false);
  });

  it('the dashboard does not draw its live screen', async () => {
    const r = await onTerminal(['delphi', 'dashboard'], env());
    expect(r.code).toBe(2);
    expect(r.output).toMatch(/error: the live dashboard needs a terminal; use --once or --json/);
    expect(r.output).toMatch(/CI=true counts as no terminal/);
    expect(hasAnsi(r.output)).toBe(false);
  });

  it('without CI, the same terminal gets the prompt (the check above is about CI, not the terminal)', async () => {
    const { CI: _, ...interactive } = env();
    // The prompt appears (and the run is cut off there: no answer would come).
    const r = await onTerminal(['self', 'secrets', 'configure'], interactive, /Vault address/);
    expect(r.output).toMatch(/Vault address/);
  });

  it('a failure under --json is one JSON document on stdout, and the error line on stderr', async () => {
    const r = await runCli(['self', 'secrets', 'get', 'secret/x', '--json'], { env: { ...env(), VAULT_ADDR: 'http://127.0.0.1:1', VAULT_TOKEN: 'hvs.x', VAULT_MAX_RETRIES: '0' } });
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout)).toEqual({ schemaVersion: 1, error: { message: expect.stringMatching(/^Vault at http:\/\/127\.0\.0\.1:1 is unreachable/), hint: expect.any(String) }, exitCode: 3 });
    expect(r.stderr).toMatch(/^error: Vault at http:\/\/127\.0\.0\.1:1 is unreachable/m);
    const usage = await runCli(['self', 'secrets', 'status', '--json', '--bogus'], { env: env() });
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stdout)).toEqual({ schemaVersion: 1, error: { message: "unknown option '--bogus'", hint: 'run with --help for usage' }, exitCode: 2 });
  });
});
