import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { startSandbox } from '../../src/sandbox/sandbox.js';

describe('the sandbox', () => {
  it('sets up KV, the engine and both group roles, and revokes every lease when it stops', async () => {
    const sandbox = await startSandbox({ ttl: 60, maxTtl: 300 });
    const admin = new pg.Client({ connectionString: sandbox.adminUrl });
    try {
      const get = async (path: string) => {
        const res = await fetch(`${sandbox.vaultAddr}/v1/${path}`, { headers: { 'X-Vault-Token': sandbox.rootToken } });
        return { status: res.status, json: (await res.json()) as { data: Record<string, unknown> } };
      };
      expect((await get('secret/data/delphi/config/database')).json.data.data).toEqual({ value: 'delphi' });
      expect((await get('secret/data/delphi/database/username')).json.data.data).toEqual({ value: 'delphi_static' });
      const reader = (await get('database/creds/delphi-readonly')).json.data as { username: string };
      const worker = (await get('database/creds/delphi-worker')).json.data as { username: string };

      await admin.connect();
      const members = await admin.query(
        `SELECT r.rolname AS member, g.rolname AS grp FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member JOIN pg_roles g ON g.oid = m.roleid
         WHERE r.rolname = ANY($1) ORDER BY g.rolname`,
        [[reader.username, worker.username]],
      );
      expect(members.rows).toEqual([
        { member: reader.username, grp: 'delphi_readonly' },
        { member: worker.username, grp: 'delphi_worker' },
      ]);

      // Stopping the dev server revokes its leases while PostgreSQL is still up.
      await sandbox.vault.stop({ revokeLeases: true });
      const left = await admin.query(`SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE 'v-%'`);
      expect(left.rows[0].n).toBe(0);
    } finally {
      await admin.end().catch(() => undefined);
      await sandbox.stop();
    }
  });
});
