import type { IncomingMessage, ServerResponse } from 'node:http';
import type { VaultResponse } from './wire.js';

/** Reading a Vault request and writing a Vault answer over Node's HTTP. */

export function tokenOf(req: IncomingMessage): string | undefined {
  const header = req.headers['x-vault-token'];
  if (typeof header === 'string' && header !== '') return header;
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice('Bearer '.length).trim();
  return undefined;
}

export async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  const type = req.headers['content-type'] ?? '';
  if (type.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(text));
  const parsed: unknown = JSON.parse(text);
  // `bao write -f` and the Go client's Write(path, nil) send `null`: Vault takes it as {}.
  if (parsed === null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
  return parsed as Record<string, unknown>;
}

export function send(res: ServerResponse, response: VaultResponse, req: IncomingMessage): void {
  res.setHeader('Cache-Control', 'no-store');
  const namespace = req.headers['x-vault-namespace'];
  if (typeof namespace === 'string') res.setHeader('X-Vault-Namespace', namespace);
  if (response.body === undefined || response.status === 204) {
    res.writeHead(response.status);
    res.end();
    return;
  }
  res.setHeader('Content-Type', 'application/json');
  res.writeHead(response.status);
  res.end(req.method === 'HEAD' ? undefined : `${JSON.stringify(response.body)}\n`);
}

export function isTrue(value: string | null): boolean {
  return value !== null && ['1', 't', 'true', 'True', 'TRUE'].includes(value);
}
