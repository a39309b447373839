import type { VaultClient } from './client.js';
import { describeMount, kvRead } from './kv.js';

/**
 * Reads any logical path the way a user means it: KV v1 or v2 without saying which, database
 * credentials (which issue a lease), or anything else as a plain read.
 */
export interface ReadSecret {
  kind: 'kv' | 'database-creds' | 'other';
  kvVersion?: 1 | 2;
  data: Record<string, unknown>;
  lease: { id: string; duration: number; renewable: boolean } | null;
  warnings: string[];
}

export async function readSecret(client: VaultClient, logicalPath: string): Promise<ReadSecret> {
  const path = logicalPath.replace(/^\/+|\/+$/g, '');
  const mount = await describeMount(client, path);
  if (mount.type === 'kv') {
    const secret = await kvRead(client, path, mount);
    return { kind: 'kv', kvVersion: mount.version, data: secret.data, lease: null, warnings: [] };
  }
  const response = await client.read(path);
  const isCreds = mount.type === 'database' && path.startsWith(`${mount.path}creds/`);
  return {
    kind: isCreds ? 'database-creds' : 'other',
    data: response.data ?? {},
    lease: response.lease_id ? { id: response.lease_id, duration: response.lease_duration, renewable: response.renewable } : null,
    warnings: response.warnings ?? [],
  };
}
