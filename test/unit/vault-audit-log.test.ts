import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { summariseAuditLog } from '../../src/setup/vault-audit-log.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The summary of a Vault audit log, on a log OpenBao itself wrote (test/fixtures/openbao-audit.log,
 * recorded 2026-12-07 from OpenBao built from source with a config-declared `file` device: a
 * reader token issued delphi-readonly twice, renewed and revoked, and was refused delphi-worker;
 * root issued delphi-worker once).
 */
describe("a Vault audit log, summarised", () => {
  const recorded = path.join(REPO_ROOT, 'test', 'fixtures', 'openbao-audit.log');

  it("counts each role's requests, what was issued, and the refusal, by accessor and address", async () => {
    const summary = await summariseAuditLog(recorded, { mount: 'database', roles: ['delphi-readonly', 'delphi-worker'] });
    const readonly = summary.roles.find((r) => r.role === 'delphi-readonly');
    const worker = summary.roles.find((r) => r.role === 'delphi-worker');
    expect(readonly).toMatchObject({ requests: 2, issued: 2, refused: 0, errors: 0 });
    expect(readonly?.byAccessor).toHaveLength(1);
    expect(readonly?.byAccessor[0]?.accessor).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(readonly?.byAddress).toEqual([{ address: '127.0.0.1', requests: 2 }]);
    expect(worker).toMatchObject({ requests: 2, issued: 1, refused: 1, errors: 0 });
    // The refused token is the reader's: the same accessor as its two issues.
    expect(summary.refusals).toEqual([{ time: expect.any(String), path: 'database/creds/delphi-worker', accessor: readonly?.byAccessor[0]?.accessor, address: '127.0.0.1', error: '1 error occurred: * permission denied' }]);
    expect(summary.unreadable).toBe(0);
  });

  it('--since leaves out what came before; a broken line is counted, not fatal; a missing file is one usage error', async () => {
    const summary = await summariseAuditLog(recorded, { mount: 'database', roles: ['delphi-readonly'], since: Date.parse('2100-01-01T00:00:00Z') });
    expect(summary.roles[0]?.requests).toBe(0);
    // The header's count is the window's too.
    expect(summary.entries).toBe(0);
    const dir = tempDir('eos-audit-log-');
    const broken = path.join(dir, 'audit.log');
    writeFileSync(broken, '{"type":"response","request":{"path":"database/creds/r"},"response":{"secret":{"lease_id":"database/creds/r/x"}}}\nnot json\n');
    const partial = await summariseAuditLog(broken, { mount: 'database', roles: ['r'] });
    expect([partial.entries, partial.unreadable, partial.roles[0]?.issued]).toEqual([1, 1, 1]);
    await expect(summariseAuditLog(path.join(dir, 'nope.log'), { mount: 'database', roles: ['r'] })).rejects.toThrow(/the Vault audit log .*nope\.log cannot be read: ENOENT/);
  });
});
