import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_DATABASE, startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { REPO_ROOT } from '../helpers/cli.js';

const run = promisify(execFile);

/**
 * A client nobody here wrote: the seed's Python worker snippet, on hvac and psycopg from PyPI
 * (pinned in test/clients/python/requirements.txt), against the sandbox with the token that
 * holds only eos-delphi-reader — the dev server as a real worker meets it, and the policy as
 * a real worker needs it.
 */
describe('a Python worker on hvac and psycopg', () => {
  let sandbox: Sandbox;
  let python: string;

  beforeAll(async () => {
    // .ci/run installs them first; a fresh `npm test` installs them here (a few seconds).
    const installed = await run(path.join(REPO_ROOT, 'tools', 'python-clients.sh'), [], { cwd: REPO_ROOT, timeout: 240_000 });
    python = installed.stdout.trim();
    sandbox = await startSandbox({ ttl: 30, maxTtl: 120, sampleAlerts: 25 });
  }, 300_000);
  afterAll(() => sandbox?.stop());

  it('gets credentials (the seed\'s read and generate_credentials), SELECTs, renews, revokes; the worker role is refused', async () => {
    const { stdout } = await run(python, [path.join(REPO_ROOT, 'test', 'clients', 'python', 'worker.py')], {
      env: {
        PATH: process.env.PATH,
        VAULT_ADDR: sandbox.vaultAddr,
        VAULT_TOKEN: sandbox.readerToken,
        DB_HOST: sandbox.postgres.host,
        DB_PORT: String(sandbox.postgres.port),
        DB_NAME: SANDBOX_DATABASE,
      },
      timeout: 60_000,
    }).catch((err: { stdout?: string; stderr?: string }) => {
      throw new Error(`worker.py failed: ${err.stdout ?? ''}${err.stderr ?? ''}`);
    });
    const steps = Object.fromEntries(
      stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { step: string })
        .map((s) => [s.step, s]),
    );
    expect(steps.error).toBeUndefined();
    expect(steps.authenticated).toEqual({ step: 'authenticated', ok: true });
    expect(steps.initialized).toEqual({ step: 'initialized', ok: true });
    expect(steps.leader).toEqual({ step: 'leader', ha_enabled: false });
    expect(steps['seed-read']).toMatchObject({ username: expect.stringMatching(/^v-token-eo-delphi-r-/), lease_duration: 30 });
    expect(steps.generate_credentials).toMatchObject({ lease_duration: 30, renewable: true });
    const user = (steps.generate_credentials as unknown as { username: string }).username;
    expect(steps.select).toEqual({ step: 'select', alerts: 25, current_user: user });
    // The increment asked for (60 s) is granted: it stays under the role's max_ttl of 120 s.
    expect(steps.renew).toEqual({ step: 'renew', lease_duration: 60, lease_id_matches: true });
    expect(steps.lookup).toMatchObject({ ttl: expect.any(Number) });
    expect(steps.revoked).toMatchObject({ login_refused: true, reason: expect.stringMatching(/password authentication failed|does not exist/) });
    expect(steps['worker-role']).toEqual({ step: 'worker-role', refused: true });

    // Nothing left behind: no lease in Vault, no lease role in PostgreSQL.
    const leases = (await (await fetch(`${sandbox.vaultAddr}/__dev/leases`, { headers: { 'X-Vault-Token': sandbox.rootToken } })).json()) as { leases: unknown[] };
    expect(leases.leases).toEqual([]);
    const admin = new pg.Client({ connectionString: sandbox.adminUrl });
    await admin.connect();
    try {
      const { rows } = await admin.query(`SELECT rolname FROM pg_roles WHERE rolname LIKE 'v-%'`);
      expect(rows).toEqual([]);
    } finally {
      await admin.end();
    }
  }, 90_000);
});
