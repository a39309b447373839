import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { makeThrowawayCa } from '../../src/sandbox/throwaway-ca.js';

describe('the sandbox\'s throwaway CA', () => {
  it('signs server certificates a client verifies by IP address and name, and nothing else vouches for them', async () => {
    const now = Date.UTC(2026, 11, 7);
    const ca = await makeThrowawayCa({ now });
    const other = await makeThrowawayCa({ now });
    const server = await ca.issueServer(['127.0.0.1', 'localhost']);
    const caCert = new X509Certificate(ca.certPem);
    const cert = new X509Certificate(server.certPem);

    expect(caCert.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.verify(new X509Certificate(other.certPem).publicKey)).toBe(false);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkHost('vault.example.com')).toBeUndefined();
    expect(cert.subjectAltName).toBe('IP Address:127.0.0.1, DNS:localhost');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // serverAuth only
    // The key is the certificate's, and the certificate outlives `test`'s 30-day warning.
    expect(cert.checkPrivateKey(createPrivateKey(server.keyPem))).toBe(true);
    expect(Date.parse(cert.validTo) - now).toBeGreaterThan(30 * 86_400_000);
    expect(Date.parse(cert.validFrom)).toBeLessThan(now);
    // Two certificates, two keys and two serials: nothing is shared but the CA.
    const second = await ca.issueServer(['127.0.0.1']);
    expect(new X509Certificate(second.certPem).serialNumber).not.toBe(cert.serialNumber);
    expect(second.keyPem).not.toBe(server.keyPem);
    await expect(ca.issueServer([])).rejects.toThrow(/at least one name/);
  });

  it('signs client certificates for a user name, for TLS client authentication only', async () => {
    const ca = await makeThrowawayCa();
    const client = new X509Certificate((await ca.issueClient('delphi_static')).certPem);
    expect(client.subject).toBe('CN=delphi_static');
    expect(client.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // clientAuth
    expect(client.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
  });
});
