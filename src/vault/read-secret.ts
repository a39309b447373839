import type { VaultClient } from './client.js';
import { VaultNotFoundError } from './errors.js';
import { describeMount, kvFolderKeys, kvRead } from './kv.js';
import { parseSecret, type DataSchema } from './responses.js';

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
  // sys/ and auth/ are Vault's own: never a secrets engine, never KV.
  const mount = /^(sys|auth)\//.test(path) ? { path: `${path.split('/')[0]}/`, type: 'system', version: 1 as const } : await describeMount(client, path);
  if (mount.type === 'kv') {
    const secret = await kvRead(client, path, mount).catch(async (err: unknown) => {
      throw err instanceof VaultNotFoundError ? await folderOrNothing(client, path, err) : err;
    });
    return { kind: 'kv', kvVersion: mount.version, data: secret.data, lease: null, warnings: [] };
  }
  const body = await client.readRaw(path);
  const response = parseSecret(path, body);
  const isCreds = mount.type === 'database' && path.startsWith(`${mount.path}creds/`);
  // Most answers carry their fields in `data`; some (sys/health, sys/seal-status) are the fields.
  const data = response.data ?? (body !== null && typeof body === 'object' && !('data' in body) ? (body as Record<string, unknown>) : {});
  return {
    kind: isCreds ? 'database-creds' : 'other',
    data,
    lease: response.lease_id ? { id: response.lease_id, duration: response.lease_duration, renewable: response.renewable } : null,
    warnings: response.warnings ?? [],
  };
}

/** No secret at a path that is a folder: its keys are named, and how to read one. */
async function folderOrNothing(client: VaultClient, path: string, missing: VaultNotFoundError): Promise<VaultNotFoundError> {
  const keys = await kvFolderKeys(client, path);
  if (keys.length === 0) return missing;
  const shown = keys.slice(0, 8).join(', ') + (keys.length > 8 ? `, … (${keys.length} in all)` : '');
  return new VaultNotFoundError(path, `no secret here, but a folder holding ${shown}`, `read one of them: eos self secrets get ${path}/${keys[0]?.replace(/\/$/, '')}`);
}

/** A path's data, or null when Vault has nothing there (404); a refusal or an error is thrown. */
export async function readOrNull<D = Record<string, unknown>>(client: VaultClient, path: string, dataSchema?: DataSchema<D>): Promise<D | null> {
  try {
    return (await client.read(path, dataSchema)).data;
  } catch (err) {
    if (err instanceof VaultNotFoundError) return null;
    throw err;
  }
}

/** A LIST's keys, or none when Vault has nothing under the path (it answers 404, not an empty list). */
export async function listOrEmpty(client: VaultClient, path: string): Promise<string[]> {
  try {
    return await client.list(path);
  } catch (err) {
    if (err instanceof VaultNotFoundError) return [];
    throw err;
  }
}
