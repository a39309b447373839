import type { Clock } from '../../../util/clock.js';
import { badRequest, boolField, envelope, goTime, listChildren, scanKeys, noContent, notFound, ok, unsupportedOperation, unsupportedPath, type VaultResponse } from '../wire.js';
import type { Backend, BackendRequest } from './backend.js';

interface Version {
  data: Record<string, unknown>;
  createdMs: number;
  deletionMs: number | null;
  destroyed: boolean;
}

interface Secret {
  versions: Map<number, Version>;
  current: number;
  /** 0 until max_versions first trims the history, as in OpenBao. */
  oldest: number;
  /** Counts metadata writes: 1 once metadata/ is written, 0 for a secret only ever written in data/. */
  metadataVersion: number;
  createdMs: number;
  updatedMs: number;
  maxVersions: number;
  casRequired: boolean;
  customMetadata: Record<string, string> | null;
}

function emptySecret(now: number): Secret {
  return { versions: new Map(), current: 0, oldest: 0, metadataVersion: 0, createdMs: now, updatedMs: now, maxVersions: 0, casRequired: false, customMetadata: null };
}

const V1_PATH_ON_V2 =
  "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv get' for this operation.";

/** KV version 2: versioned secrets under data/, metadata/, delete/, undelete/, destroy/ (§3); the one backend that takes PATCH. */
export class KvV2Backend implements Backend {
  private readonly secrets = new Map<string, Secret>();

  constructor(private readonly clock: Clock) {}

  exists(subpath: string): boolean | undefined {
    const match = /^(data|metadata)\/(.+)$/.exec(subpath);
    return match ? this.secrets.has(match[2] as string) : undefined;
  }

  async handle(request: BackendRequest): Promise<VaultResponse> {
    const { subpath } = request;
    const slash = subpath.indexOf('/');
    const area = slash === -1 ? subpath : subpath.slice(0, slash);
    const rest = slash === -1 ? '' : subpath.slice(slash + 1);
    // As asked: `data/x/` names the key `x/`, which is not `x` (a LIST keeps its folder slash in `rest`).
    const key = request.operation === 'list' ? rest.replace(/\/+$/, '') : rest;
    switch (area) {
      case 'data':
        return this.data(request, key);
      case 'metadata':
        return this.metadata(request, key, rest);
      case 'delete':
      case 'undelete':
      case 'destroy':
        if (request.operation !== 'update') throw unsupportedOperation();
        return this.changeVersions(area, key, request.body);
      case 'config':
        if (request.operation === 'read') return ok({ data: { cas_required: false, delete_version_after: '0s', max_versions: 0, metadata_cas_required: false } });
        return noContent();
      default:
        // A v1-style path on a v2 mount: 404 with a warning, as Vault answers.
        return { status: 404, body: envelope({ warnings: [V1_PATH_ON_V2] }) };
    }
  }

  private data(request: BackendRequest, key: string): VaultResponse {
    if (key === '') throw unsupportedPath();
    switch (request.operation) {
      case 'read': {
        const secret = this.secrets.get(key);
        if (!secret) throw notFound();
        const wanted = Number(request.query.get('version') ?? 0) || secret.current;
        const version = secret.versions.get(wanted);
        if (!version) throw notFound();
        const metadata = this.versionMetadata(secret, wanted, version);
        const gone = version.destroyed || (version.deletionMs !== null && version.deletionMs <= this.clock.now());
        // A deleted or destroyed version: 404 with a success-shaped body and no errors key.
        if (gone) return { status: 404, body: envelope({ data: { data: null, metadata } }) };
        return ok({ data: { data: version.data, metadata } });
      }
      case 'update': {
        const data = request.body.data;
        if (data === undefined || data === null || typeof data !== 'object' || Array.isArray(data)) throw badRequest('no data provided');
        const options = (request.body.options ?? {}) as Record<string, unknown>;
        const existing = this.secrets.get(key);
        const cas = options.cas === undefined ? undefined : Number(options.cas);
        if (existing?.casRequired && cas === undefined) throw badRequest('check-and-set parameter required for this call');
        if (cas !== undefined && cas !== (existing?.current ?? 0)) throw badRequest('check-and-set parameter did not match the current version');
        const now = this.clock.now();
        const secret: Secret = existing ?? emptySecret(now);
        const version = this.addVersion(secret, { ...(data as Record<string, unknown>) }, now);
        this.secrets.set(key, secret);
        return ok({ data: this.versionMetadata(secret, secret.current, version) });
      }
      case 'patch': {
        // JSON merge patch of the current version into a new one (vault kv patch).
        const secret = this.secrets.get(key);
        const current = secret?.versions.get(secret.current);
        // Nothing to patch: a bare 404, without even an errors list.
        if (!secret || !current || current.destroyed || current.deletionMs !== null) return { status: 404 };
        const data = request.body.data;
        if (data === undefined || data === null || typeof data !== 'object' || Array.isArray(data)) throw badRequest('no data provided');
        const merged: Record<string, unknown> = { ...current.data };
        for (const [field, value] of Object.entries(data)) {
          if (value === null) delete merged[field];
          else merged[field] = value;
        }
        const version = this.addVersion(secret, merged, this.clock.now());
        return ok({ data: this.versionMetadata(secret, secret.current, version) });
      }
      case 'delete': {
        const secret = this.secrets.get(key);
        const version = secret?.versions.get(secret.current);
        if (version && version.deletionMs === null) version.deletionMs = this.clock.now();
        return noContent();
      }
      default:
        throw unsupportedOperation();
    }
  }

  private metadata(request: BackendRequest, key: string, rest: string): VaultResponse {
    switch (request.operation) {
      case 'list':
        return listChildren([...this.secrets.keys()], rest);
      case 'scan':
        return scanKeys([...this.secrets.keys()], rest);
      case 'read': {
        const secret = this.secrets.get(key);
        if (!secret) throw notFound();
        const versions: Record<string, unknown> = {};
        for (const [n, v] of secret.versions) {
          versions[String(n)] = { created_time: goTime(v.createdMs), deletion_time: v.deletionMs === null ? '' : goTime(v.deletionMs), destroyed: v.destroyed };
        }
        return ok({
          data: {
            cas_required: secret.casRequired,
            created_time: goTime(secret.createdMs),
            current_version: secret.current,
            custom_metadata: secret.customMetadata,
            delete_version_after: '0s',
            current_metadata_version: secret.metadataVersion,
            max_versions: secret.maxVersions,
            metadata_cas_required: false,
            oldest_version: secret.oldest,
            updated_time: goTime(secret.updatedMs),
            versions,
          },
        });
      }
      case 'update':
      case 'patch': {
        // PATCH (vault kv metadata patch) changes only the fields given, and needs the key.
        const now = this.clock.now();
        const existing = this.secrets.get(key);
        if (request.operation === 'patch' && !existing) return { status: 404 };
        const secret = existing ?? emptySecret(now);
        if (request.body.max_versions !== undefined) secret.maxVersions = Number(request.body.max_versions);
        secret.casRequired = boolField(request.body, 'cas_required', secret.casRequired);
        if (request.body.custom_metadata !== undefined) secret.customMetadata = request.body.custom_metadata as Record<string, string>;
        secret.metadataVersion += 1;
        secret.updatedMs = now;
        this.secrets.set(key, secret);
        return noContent();
      }
      case 'delete':
        this.secrets.delete(key);
        return noContent();
    }
  }

  /** A new current version; past max_versions (default 10) the oldest go, as OpenBao trims. */
  private addVersion(secret: Secret, data: Record<string, unknown>, now: number): Version {
    secret.current += 1;
    secret.updatedMs = now;
    const version: Version = { data, createdMs: now, deletionMs: null, destroyed: false };
    secret.versions.set(secret.current, version);
    const max = secret.maxVersions > 0 ? secret.maxVersions : 10;
    if (secret.current - secret.oldest >= max) {
      const last = secret.current - max;
      for (let n = secret.oldest; n <= last; n += 1) secret.versions.delete(n);
      secret.oldest = last + 1;
    }
    return version;
  }

  private changeVersions(area: 'delete' | 'undelete' | 'destroy', key: string, body: Record<string, unknown>): VaultResponse {
    const versions = Array.isArray(body.versions) ? body.versions.map(Number) : [];
    if (versions.length === 0) throw badRequest('no version number provided');
    const secret = this.secrets.get(key);
    for (const n of versions) {
      const version = secret?.versions.get(n);
      if (!version) continue;
      if (area === 'delete' && version.deletionMs === null) version.deletionMs = this.clock.now();
      if (area === 'undelete' && !version.destroyed) version.deletionMs = null;
      if (area === 'destroy') {
        version.destroyed = true;
        version.data = {};
      }
    }
    return noContent();
  }

  private versionMetadata(secret: Secret, n: number, version: Version) {
    return {
      created_time: goTime(version.createdMs),
      custom_metadata: secret.customMetadata,
      deletion_time: version.deletionMs === null ? '' : goTime(version.deletionMs),
      destroyed: version.destroyed,
      version: n,
    };
  }
}
