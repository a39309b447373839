import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { makeThrowawayCa } from '../../src/sandbox/throwaway-ca.js';
import { startVaultDevServer } from '../../src/sandbox/vault-dev-server/server.js';
import { fetchWithCa } from '../helpers/https.js';

/** The dev server's HTTPS listener, as `eos sandbox` runs it by default. */
describe('the Vault-API dev server over HTTPS', () => {
  it('answers over TLS with the CA that signed it, LIST included, and not without the CA', async () => {
    const ca = await makeThrowawayCa();
    const server = await startVaultDevServer({ tls: await ca.issueServer(['127.0.0.1']) });
    try {
      expect(server.addr).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const health = await fetchWithCa(`${server.addr}/v1/sys/health`, { ca: ca.certPem });
      expect(health.json<{ initialized: boolean }>().initialized).toBe(true);
      // The Vault CLI's LIST method, rewritten inside the TLS stream as on plain HTTP.
      await fetchWithCa(`${server.addr}/v1/sys/policies/acl/p1`, { ca: ca.certPem, method: 'PUT', headers: { 'X-Vault-Token': server.rootToken }, body: JSON.stringify({ policy: 'path "a" { capabilities = ["read"] }' }) });
      const listed = await fetchWithCa(`${server.addr}/v1/sys/policies/acl`, { ca: ca.certPem, method: 'LIST', headers: { 'X-Vault-Token': server.rootToken } });
      expect(listed.json<{ data: { keys: string[] } }>().data.keys).toContain('p1');
      await expect(fetchWithCa(`${server.addr}/v1/sys/health`)).rejects.toThrow(/certificate/);
    } finally {
      await server.stop();
    }
  });

  it('stops at once with a connection stalled before its TLS handshake', async () => {
    const ca = await makeThrowawayCa();
    const server = await startVaultDevServer({ tls: await ca.issueServer(['127.0.0.1']) });
    const stalled = connect({ host: '127.0.0.1', port: server.port });
    stalled.on('error', () => undefined);
    await new Promise((resolve) => stalled.once('connect', resolve));
    // Without tracking such sockets, close() waits out Node's 120 s handshake timeout.
    const outcome = await Promise.race([server.stop().then(() => 'stopped'), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 20_000))]);
    expect(outcome).toBe('stopped');
  }, 30_000);
});
