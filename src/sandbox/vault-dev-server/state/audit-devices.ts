import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import type { TokenEntry } from './tokens.js';

/**
 * OpenBao's `file` audit devices, as the dev server keeps them: declared when it starts (as
 * OpenBao declares them in its configuration: it refuses to enable one through the API), each
 * with a salt of its own, writing a request entry and a response entry per logical request as
 * JSON lines. Tokens, accessors and every string of the request's and the response's data are
 * written as `hmac-sha256:<hex>` of the device's salt (OpenBao's internal/audit); a lease id, the
 * path and the remote address are written as they are.
 */
export interface AuditDeviceOptions {
  /** The device's path, `file/` by default. */
  path?: string;
  filePath: string;
}

interface Device {
  path: string;
  filePath: string;
  salt: Buffer;
}

export interface AuditedRequest {
  operation: string;
  path: string;
  token: TokenEntry | undefined;
  tokenId: string | undefined;
  data: Record<string, unknown>;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
}

export interface AuditedResponse {
  status: number;
  body: unknown;
  errors?: string[];
}

export class AuditDevices {
  private readonly devices: Device[];

  constructor(declared: AuditDeviceOptions[] = []) {
    this.devices = declared.map((d) => ({ path: normalise(d.path ?? 'file/'), filePath: d.filePath, salt: randomBytes(32) }));
  }

  get any(): boolean {
    return this.devices.length > 0;
  }

  /** `sys/audit`: every device by its path. */
  table(): Record<string, unknown> {
    return Object.fromEntries(this.devices.map((d) => [d.path, { path: d.path, type: 'file', description: '', options: { file_path: d.filePath }, local: false }]));
  }

  has(path: string): boolean {
    return this.devices.some((d) => d.path === normalise(path));
  }

  /** `sys/audit-hash/<path>`: the input as that device writes it. */
  hash(path: string, input: string): string | undefined {
    const device = this.devices.find((d) => d.path === normalise(path));
    return device ? hashWith(device.salt, input) : undefined;
  }

  /** Writes the request entry; returns what writes the response entry once it is known. */
  begin(request: AuditedRequest): (response: AuditedResponse) => void {
    if (!this.any) return () => undefined;
    const id = randomUUID();
    const time = () => new Date().toISOString();
    for (const d of this.devices) appendLine(d, { time: time(), type: 'request', ...this.parts(d, request, id, undefined) });
    return (response) => {
      for (const d of this.devices) {
        const refused = response.status === 403;
        const body = response.body && typeof response.body === 'object' ? (response.body as { lease_id?: string; data?: unknown; warnings?: string[] | null }) : undefined;
        const error = response.errors && response.errors.length > 0 ? response.errors.join('; ') : undefined;
        appendLine(d, {
          time: time(),
          type: 'response',
          ...this.parts(d, request, id, refused),
          ...(response.status < 400
            ? {
                response: {
                  ...(body?.lease_id ? { secret: { lease_id: body.lease_id } } : {}),
                  ...(body?.data && typeof body.data === 'object' ? { data: hashStrings(d.salt, body.data) } : {}),
                  ...(body?.warnings && body.warnings.length > 0 ? { warnings: body.warnings } : {}),
                },
              }
            : {}),
          ...(error ? { error } : {}),
        });
      }
    };
  }

  private parts(d: Device, r: AuditedRequest, id: string, refused: boolean | undefined) {
    const t = r.token;
    const hashed = (value: string | undefined) => (value ? hashWith(d.salt, value) : undefined);
    return {
      ...(t
        ? {
            auth: {
              client_token: hashed(t.id),
              ...(t.accessor ? { accessor: hashed(t.accessor) } : {}),
              display_name: t.displayName,
              policies: t.policies,
              token_policies: t.policies,
              ...(refused === undefined ? {} : { policy_results: { allowed: !refused } }),
              token_type: t.type,
            },
          }
        : {}),
      request: {
        id,
        operation: r.operation,
        ...(r.tokenId ? { client_token: hashed(r.tokenId) } : {}),
        ...(t?.accessor ? { client_token_accessor: hashed(t.accessor) } : {}),
        namespace: { id: 'root' },
        path: r.path,
        ...(Object.keys(r.data).length > 0 ? { data: hashStrings(d.salt, r.data) } : {}),
        ...(r.remoteAddress ? { remote_address: r.remoteAddress } : {}),
        ...(r.remotePort ? { remote_port: r.remotePort } : {}),
      },
    };
  }
}

function normalise(path: string): string {
  return path.endsWith('/') ? path : `${path}/`;
}

function hashWith(salt: Buffer, value: string): string {
  return `hmac-sha256:${createHmac('sha256', salt).update(value).digest('hex')}`;
}

/** Every string inside, hashed; numbers, booleans and keys as they are (OpenBao's HashStructure). */
function hashStrings(salt: Buffer, value: unknown): unknown {
  if (typeof value === 'string') return hashWith(salt, value);
  if (Array.isArray(value)) return value.map((v) => hashStrings(salt, v));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, hashStrings(salt, v)]));
  return value;
}

function appendLine(d: Device, entry: object): void {
  try {
    appendFileSync(d.filePath, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
  } catch {
    // OpenBao fails the request when no device can log it; the dev server keeps serving.
  }
}
