import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVaultDevServer, type VaultDevServer } from '../../src/sandbox/vault-dev-server/server.js';
import { runCli } from '../helpers/cli.js';
import { clusterInfo, freshDatabase } from '../helpers/pg.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * eos's whole set-up inside a Vault namespace (issue 26), on the dev server: configure with
 * --namespace, the database location in the namespace's KV, the engine and eos's policies
 * applied there, and `test` passing with a reader token made in the namespace — while the root
 * namespace gets none of it.
 */
describe('eos set up inside a namespace', () => {
  let vault: VaultDevServer;
  let ns: string;
  const call = async (method: string, p: string, body?: unknown, namespace = ns) => {
    const res = await fetch(`${vault.addr}/v1/${p}`, {
      method,
      headers: { 'X-Vault-Token': vault.rootToken, ...(namespace ? { 'X-Vault-Namespace': namespace } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (res.status === 204 ? {} : await res.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  beforeAll(async () => {
    vault = await startVaultDevServer();
    ns = 'delphi-site';
    expect((await call('POST', `sys/namespaces/${ns}`, undefined, '')).status).toBe(200);
    // Step 0, inside the namespace.
    expect((await call('POST', 'sys/mounts/secret', { type: 'kv', options: { version: '2' } })).status).toBe(204);
  });
  afterAll(() => vault?.stop());

  it('configure, set delphi-db-config, set delphi-db-engine --apply, then test with a reader token of the namespace', async () => {
    const home = tempDir('eos-ns-');
    const { url } = await freshDatabase({ schema: true });
    const db = new URL(url);
    const run = clusterInfo();
    const env = { HOME: home, EOS_CONFIG: path.join(home, 'config.json'), DELPHI_DB_ADMIN_PASSWORD: run.adminPassword, DELPHI_DB_ADMIN_USER: run.adminUser };
    const eos = (args: string[], extra: NodeJS.ProcessEnv = {}, input?: string) => runCli(args, { env: { ...env, ...extra }, input });

    const configured = await eos(['self', 'secrets', 'configure', '--addr', vault.addr, '--namespace', ns, '--auth', 'token', '--token-stdin', '--yes'], {}, vault.rootToken);
    expect(configured.code, configured.stderr).toBe(0);
    const set = await eos(['self', 'secrets', 'set', 'delphi-db-config', '--host', db.hostname, '--port', db.port, '--database', db.pathname.slice(1), '--sslmode', 'disable']);
    expect(set.code, set.stderr).toBe(0);
    // Group roles are the whole cluster's, which other test files share: groups of its own.
    const engine = await eos(['self', 'secrets', 'set', 'delphi-db-engine', '--apply', '--group', 'ns_site_readonly', '--worker-group', 'ns_site_worker']);
    expect(engine.code, engine.stderr).toBe(0);

    // Everything landed in the namespace, nothing in the root.
    expect((await call('GET', 'secret/data/delphi/config/host')).json.data.data).toEqual({ value: db.hostname });
    expect((await call('GET', 'sys/policies/acl/eos-delphi-reader')).status).toBe(200);
    expect((await call('GET', 'sys/policies/acl/eos-delphi-reader', undefined, '')).status).toBe(404);
    expect(Object.keys((await call('GET', 'sys/mounts')).json.data)).toContain('database/');
    expect(Object.keys((await call('GET', 'sys/mounts', undefined, '')).json.data)).not.toContain('database/');
    // The users' marker names the namespace: another namespace with the same names is another site.
    const clusterId = (await call('GET', 'sys/health', undefined, '')).json.cluster_id as string;
    expect((await call('GET', 'database/roles/delphi-readonly')).json.data.creation_statements).toContain(`COMMENT ON ROLE "{{name}}" IS 'eos:${clusterId}/delphi-site:/database/delphi-postgresql/delphi-readonly';`);

    const reader = (await call('POST', 'auth/token/create', { policies: ['eos-delphi-reader'], no_default_policy: true, ttl: '1h' })).json.auth.client_token as string;
    const tested = await eos(['self', 'secrets', 'test', '--json'], { VAULT_TOKEN: reader });
    const steps = (JSON.parse(tested.stdout) as { steps: { id: string; status: string; detail?: string }[] }).steps;
    expect(tested.code, JSON.stringify(steps.filter((s) => s.status === 'fail'))).toBe(0);
    expect(steps.find((s) => s.id === 'issue')?.status).toBe('pass');
    // The lease was issued and revoked inside the namespace: none is left.
    expect((await call('LIST', 'sys/leases/lookup/database/creds/delphi-readonly')).status).toBe(404);
  }, 60_000);
});
