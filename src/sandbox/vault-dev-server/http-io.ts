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

/** OpenBao's default `max_request_size`: a larger body is refused before anything reads it. */
export const MAX_REQUEST_BYTES = 32 * 1024 * 1024;

/** A body over MAX_REQUEST_BYTES: OpenBao answers 413 `http: request body too large`. */
export class BodyTooLargeError extends Error {
  constructor() {
    super('http: request body too large');
  }
}

export async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    // Stop holding it in memory at once: a client that sends gigabytes gets nothing more read.
    if (size > MAX_REQUEST_BYTES) {
      req.resume();
      throw new BodyTooLargeError();
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  if (isForm(text, req.headers['content-type'] ?? '')) return Object.fromEntries(new URLSearchParams(text));
  const parsed: unknown = JSON.parse(text);
  // `bao write -f` and the Go client's Write(path, nil) send `null`: Vault takes it as {}.
  if (parsed === null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
  return parsed as Record<string, unknown>;
}

/**
 * OpenBao's rule, which errs on the side of JSON: a body is a form only when its media type is
 * exactly application/x-www-form-urlencoded and it does not start (after JSON's whitespace) with
 * `{` or `[` — curl's `-d '{…}'` sends JSON under the form type, and is read as JSON.
 */
export function isForm(text: string, contentType: string): boolean {
  const media = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  if (media !== 'application/x-www-form-urlencoded') return false;
  const first = text.replace(/^[ \t\n\r]+/, '')[0];
  return first !== '{' && first !== '[';
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
