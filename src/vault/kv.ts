import type { VaultClient } from './client.js';
import { VaultNotFoundError, VaultPermissionDeniedError, VaultTokenExpiredError } from './errors.js';
import { kvV2Schema, uiMountSchema, type TokenInfo } from './responses.js';

/**
 * KV v1 and v2 behind one interface: the version is detected per mount through
 * sys/internal/ui/mounts (404 → v1, as the Vault CLI assumes), so users give the same logical
 * path (`secret/delphi/database/password`) whichever version the mount runs.
 */

export interface KvMount {
  /** "secret/" */
  path: string;
  type: string;
  version: 1 | 2;
}

export interface KvSecret {
  data: Record<string, unknown>;
  version?: number;
}

export async function describeMount(client: VaultClient, logicalPath: string): Promise<KvMount> {
  const clean = logicalPath.replace(/^\/+/, '');
  const { status, body } = await client.readAllowingNotFound(`sys/internal/ui/mounts/${clean}`, uiMountSchema).catch(async (err: unknown) => {
    // Vault answers a path under no mount, and a mount the token may not use, alike with 403 (so
    // the endpoint cannot list mounts): even a root token meets it where nothing is mounted. One
    // look at the token tells the cases apart: refused itself, root, or another.
    if (err instanceof VaultPermissionDeniedError && !(err instanceof VaultTokenExpiredError)) {
      const self = await client.lookupSelf().catch((lookupErr: unknown) => lookupErr);
      if (self instanceof VaultPermissionDeniedError) throw new VaultTokenExpiredError(err.path, err.errors);
      if (self instanceof Error || !(self as TokenInfo).policies.includes('root')) {
        throw new VaultPermissionDeniedError(
          err.path,
          err.errors,
          `${logicalPath}: Vault refused the mount lookup (403): nothing is mounted there, or this token's policies do not cover it`,
          `vault secrets list (as an admin) shows the mounts; eos's policies grant read on ${clean.split('/')[0]}/delphi/config and …/database (eos self secrets set delphi-db-engine --apply writes them)`,
        );
      }
      throw new VaultNotFoundError(
        logicalPath,
        `no secrets engine is mounted there that this token may use (Vault answers 403 to ${`sys/internal/ui/mounts/${clean}`} for both)`,
        `vault secrets list shows the mounts; eos keeps its settings in KV v2: vault secrets enable -path=${clean.split('/')[0]} kv-v2`,
      );
    }
    throw err;
  });
  if (status === 404 || !body?.data) {
    // Older servers and tokens without access to the endpoint: assume v1 at the first segment.
    return { path: `${clean.split('/')[0]}/`, type: 'kv', version: 1 };
  }
  const data = body.data;
  return { path: data.path, type: data.type, version: data.options?.version === '2' ? 2 : 1 };
}

function relative(mount: KvMount, logicalPath: string): string {
  return logicalPath.replace(/^\/+/, '').slice(mount.path.length).replace(/\/+$/, '');
}

export async function kvRead(client: VaultClient, logicalPath: string, mount?: KvMount): Promise<KvSecret> {
  const m = mount ?? (await describeMount(client, logicalPath));
  const rel = relative(m, logicalPath);
  if (m.version === 1) {
    const { status, body } = await client.readAllowingNotFound(`${m.path}${rel}`);
    if (status === 404 || !body?.data) throw new VaultNotFoundError(logicalPath, 'no secret at this path');
    return { data: body.data };
  }
  const { status, body } = await client.readAllowingNotFound(`${m.path}data/${rel}`, kvV2Schema);
  if (status === 404) {
    const meta = body?.data?.metadata;
    if (meta?.destroyed) throw new VaultNotFoundError(logicalPath, `version ${meta.version} was destroyed`);
    if (meta?.deletion_time) throw new VaultNotFoundError(logicalPath, `version ${meta.version} was deleted at ${meta.deletion_time} (vault kv undelete restores it)`);
    throw new VaultNotFoundError(logicalPath, 'no secret at this path');
  }
  return { data: body?.data?.data ?? {}, version: body?.data?.metadata?.version };
}

export async function kvWrite(client: VaultClient, logicalPath: string, data: Record<string, unknown>, mount?: KvMount): Promise<void> {
  const m = mount ?? (await describeMount(client, logicalPath));
  const rel = relative(m, logicalPath);
  if (m.version === 1) await client.write(`${m.path}${rel}`, data);
  else await client.write(`${m.path}data/${rel}`, { data });
}

/**
 * The Eos layout: one secret per field, `<base>/<field>` = {"value": …}; also accepted, one
 * secret at `<base>` holding the fields. Missing fields are left out of the result.
 */
export async function readEosFields(client: VaultClient, base: string, fields: string[]): Promise<Record<string, string>> {
  const mount = await describeMount(client, base);
  const out: Record<string, string> = {};
  // The fields are independent secrets: read together, one round trip instead of one per field.
  const values = await Promise.all(
    fields.map((field) =>
      kvRead(client, `${base}/${field}`, mount).then(
        (secret) => secret.data.value,
        (err: unknown) => {
          if (err instanceof VaultNotFoundError) return undefined;
          throw err;
        },
      ),
    ),
  );
  fields.forEach((field, i) => {
    const value = values[i];
    if (value !== undefined && value !== null) out[field] = String(value);
  });
  if (Object.keys(out).length > 0) return out;
  try {
    const whole = await kvRead(client, base, mount);
    for (const field of fields) if (whole.data[field] !== undefined) out[field] = String(whole.data[field]);
  } catch (err) {
    if (!(err instanceof VaultNotFoundError || err instanceof VaultPermissionDeniedError)) throw err;
  }
  return out;
}

export async function writeEosFields(client: VaultClient, base: string, values: Record<string, string>): Promise<void> {
  const mount = await describeMount(client, base);
  for (const [field, value] of Object.entries(values)) await kvWrite(client, `${base}/${field}`, { value }, mount);
}

/**
 * For `get` of a path with no secret: the keys under it, when it is a folder (eos keeps its
 * settings one secret per field, under `secret/delphi/config/`). Asked only there — a LIST on
 * every miss would cost each command a request per absent field.
 */
export async function kvFolderKeys(client: VaultClient, logicalPath: string): Promise<string[]> {
  const m = await describeMount(client, logicalPath);
  const rel = relative(m, logicalPath);
  return client.list(m.version === 1 ? `${m.path}${rel}` : `${m.path}metadata/${rel}`).catch(() => [] as string[]);
}
