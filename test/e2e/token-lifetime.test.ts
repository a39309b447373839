import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { CLI, REPO_ROOT, runEos as runCli } from '../helpers/cli.js';

/**
 * A token that cannot outlive the lease (token auth, explicit_max_ttl shorter than the lease's
 * TTL), as OpenBao hands one out: eos says so at start, with the time; when the token dies it
 * says so once, and does not loop renew → issue → permission denied against Vault.
 */
describe('a Vault token that dies before its lease', () => {
  let sandbox: Sandbox;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let shortToken: string;
  const requests = async () => ((await (await fetch(`${sandbox.vaultAddr}/__dev/stats`, { headers: { 'X-Vault-Token': sandbox.rootToken } })).json()) as { requests: number }).requests;

  beforeAll(async () => {
    sandbox = await startSandbox({ ttl: 20, maxTtl: 60, sampleAlerts: 0 });
    const created = await fetch(`${sandbox.vaultAddr}/v1/auth/token/create`, {
      method: 'POST',
      headers: { 'X-Vault-Token': sandbox.rootToken },
      body: JSON.stringify({ ttl: '4s', explicit_max_ttl: '4s', renewable: true, policies: ['eos-delphi-reader'], no_default_policy: true }),
    });
    shortToken = ((await created.json()) as { auth: { client_token: string } }).auth.client_token;
    home = mkdtempSync(path.join(tmpdir(), 'eos-token-'));
    env = { PATH: process.env.PATH, HOME: home, EOS_CONFIG: sandbox.configFile, VAULT_TOKEN: shortToken, EOS_LOG_FILE: path.join(home, 'eos.log') };
  });
  afterAll(async () => {
    await sandbox?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('warns at start with the time, reports the death once, then leaves Vault alone; get exits 4 naming the token', async () => {
    const child = spawn(process.execPath, [CLI, 'self', 'secrets', 'exec', '--source', 'dynamic', '--role', 'delphi-readonly', '--', 'sleep', '600'], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    onTestFinished(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    await expect.poll(() => stderr, { timeout: 10_000 }).toMatch(/^warning: the token expires in [34] s, before the lease \(20 s\), and cannot be renewed: Vault will revoke the lease with it \(at \d{4}-\d\d-\d\dT[\d:.]+Z\)$/m);

    // The token dies at 4 s; the keeper meets it at the lease's first renewal (~15 s).
    await expect.poll(() => stderr, { timeout: 25_000, interval: 250 }).toMatch(/^warning: Vault token expired \(or was revoked\): /m);
    const after = await requests();
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    expect((await requests()) - after).toBeLessThanOrEqual(3); // no loop against Vault
    const log = readFileSync(env.EOS_LOG_FILE as string, 'utf8');
    expect(log.match(/"event":"token-expired"/g)).toHaveLength(1);
    expect(log).toMatch(/"level":"error",.*"event":"token-expired".*Vault token expired/);

    const get = await runCli(['self', 'secrets', 'get', 'database/creds/delphi-readonly'], { env });
    expect(get.code).toBe(4);
    expect(get.stderr).toMatch(/^error: Vault token expired, revoked or used up \(num_uses\): Vault refused /m);
    child.kill('SIGTERM');
  }, 60_000);
});
