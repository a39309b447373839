import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { applySchema } from '../../src/delphi/schema.js';
import { loadSampleData } from '../../src/sandbox/sample-data.js';
import { LOOPBACK, startPostgresCluster, type PostgresCluster } from '../../src/sandbox/postgres.js';
import { makeThrowawayCa } from '../../src/sandbox/throwaway-ca.js';
import { startVaultDevServer, type VaultDevServer } from '../../src/sandbox/vault-dev-server/server.js';
import { fetchWithCa } from './https.js';

/**
 * A site shaped like production, before anyone has set eos up: a Vault-API dev server on HTTPS
 * with nothing mounted but what every Vault has (no KV, no AppRole: `operator init` leaves it
 * so) and a root token without a TTL, and a PostgreSQL that accepts TLS connections only,
 * holding the pipeline's tables and some alerts. Both certificates come from a private CA made
 * here; `otherCaFile` is a second CA that signed neither, to prove a check really happens.
 */
export interface TlsSite {
  dir: string;
  caFile: string;
  otherCaFile: string;
  vault: VaultDevServer;
  postgres: PostgresCluster;
  /** The admin's URL of the `delphi` database (verify-full against the CA). */
  adminUrl: string;
  /** With `clientCertificates`: a client certificate for eos's host (CN eos-host) and its key (0600). */
  client?: { certFile: string; keyFile: string };
  /** A request to Vault as root, as the site's Vault admin makes it. */
  asRoot(method: string, p: string, body?: unknown): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export async function startTlsSite(options: { alerts?: number; clientCertificates?: boolean } = {}): Promise<TlsSite> {
  const dir = mkdtempSync(path.join(tmpdir(), 'eos-tls-site-'));
  chmodSync(dir, 0o755);
  const ca = await makeThrowawayCa({ commonName: 'Delphi site CA' });
  const other = await makeThrowawayCa({ commonName: 'someone else' });
  const caFile = path.join(dir, 'site-ca.pem');
  const otherCaFile = path.join(dir, 'other-ca.pem');
  writeFileSync(caFile, ca.certPem);
  writeFileSync(otherCaFile, other.certPem);
  const names = [LOOPBACK, 'localhost'];
  let postgres: PostgresCluster | undefined;
  let vault: VaultDevServer | undefined;
  const stop = async () => {
    await vault?.stop({ revokeLeases: true }).catch(() => undefined);
    await postgres?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  let client: TlsSite['client'];
  let clientCertificates: { adminCertFile: string; adminKeyFile: string } | undefined;
  if (options.clientCertificates) {
    const write = async (name: string, cn: string) => {
      const issued = await ca.issueClient(cn);
      writeFileSync(path.join(dir, `${name}.pem`), issued.certPem);
      writeFileSync(path.join(dir, `${name}.key`), issued.keyPem, { mode: 0o600 });
      return { certFile: path.join(dir, `${name}.pem`), keyFile: path.join(dir, `${name}.key`) };
    };
    client = await write('client', 'eos-host');
    const dba = await write('dba', 'dba');
    clientCertificates = { adminCertFile: dba.certFile, adminKeyFile: dba.keyFile };
  }
  try {
    postgres = await startPostgresCluster({ tls: { ...(await ca.issueServer(names)), caFile, clientCertificates } });
    const adminUrl = await postgres.createDatabase('delphi');
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      await applySchema(admin);
      await loadSampleData(admin, { alerts: options.alerts ?? 50 });
    } finally {
      await admin.end();
    }
    vault = await startVaultDevServer({ tls: await ca.issueServer(names) });
    const { addr, rootToken } = vault;
    const ca_ = ca.certPem;
    const asRoot = async (method: string, p: string, body?: unknown) => {
      const res = await fetchWithCa(`${addr}/v1/${p}`, { method, ca: ca_, headers: { 'X-Vault-Token': rootToken }, body: body === undefined ? undefined : JSON.stringify(body) });
      if (res.status >= 400) throw new Error(`${method} ${p}: ${res.status} ${res.text}`);
      return (res.text === '' ? {} : res.json()) as Record<string, unknown>;
    };
    return { dir, caFile, otherCaFile, vault, postgres, adminUrl, client, asRoot, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
