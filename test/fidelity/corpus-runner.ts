import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { normalizeAnswer, type NormalizedAnswer } from './normalize.js';

/**
 * Runs the request corpus (corpus.json) against a Vault-API server — OpenBao when recording,
 * the dev server when replaying — in order, and returns each answer normalised. Requests are
 * sent as bytes on the wire (the path exactly as written: `//`, `..` and `%2e` are not resolved
 * by a URL parser first), so both servers see the same request.
 */

export interface CorpusRequest {
  /** Unique; the key recordings and allowed differences are filed under. */
  id: string;
  method: string;
  /** Below /v1/, with <<name>> placeholders: <<run>> (this run's tag) and saved values (Vault's own {{username}} passes). */
  path: string;
  /** JSON body (an object), or a raw string sent as it is. */
  body?: unknown;
  headers?: Record<string, string>;
  /** "root" (default), null for none, or a <<name>> placeholder. */
  token?: string | null;
  /** Values to keep from the answer for later requests: name → dotted path in its JSON. */
  save?: Record<string, string>;
  /** Why this request is in the corpus (a class of difference, a client's call). */
  why?: string;
}

/** A cross product, expanded into plain requests: every path × method × token. */
export interface CorpusMatrix {
  matrix: { prefix: string; paths: string[]; methods: string[]; tokens: (string | null)[]; why?: string };
}

export interface Corpus {
  requests: (CorpusRequest | CorpusMatrix)[];
}

export interface Target {
  addr: string;
  rootToken: string;
  /** The CA of an HTTPS server (a production-mode one). */
  ca?: string | Buffer;
  /** Admin URL of a PostgreSQL database the server's database engine can reach. */
  pgUrl: string;
}

export function expandCorpus(corpus: Corpus): CorpusRequest[] {
  const out: CorpusRequest[] = [];
  for (const entry of corpus.requests) {
    if (!('matrix' in entry)) {
      out.push(entry);
      continue;
    }
    const { prefix, paths, methods, tokens, why } = entry.matrix;
    for (const path of paths) {
      for (const method of methods) {
        for (const token of tokens) {
          out.push({ id: `${prefix}:${method} ${path}${token === null ? ' (no token)' : ''}`, method, path, token, why });
        }
      }
    }
  }
  const seen = new Set<string>();
  for (const r of out) {
    if (seen.has(r.id)) throw new Error(`corpus: the id ${JSON.stringify(r.id)} is used twice`);
    seen.add(r.id);
  }
  return out;
}

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

function send(target: Target, method: string, path: string, headers: Record<string, string>, body: string | undefined): Promise<RawAnswer> {
  const url = new URL(target.addr);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        // As written: no URL parser between the corpus and the wire.
        path: `/v1/${path}`,
        headers: { ...headers, ...(body === undefined ? {} : { 'Content-Length': String(Buffer.byteLength(body)) }) },
        ...(target.ca ? { ca: target.ca } : {}),
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.setTimeout(15_000, () => req.destroy(new Error(`${method} ${path}: no answer in 15 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

function pick(json: unknown, dotted: string): unknown {
  let value: unknown = json;
  for (const key of dotted.split('.')) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  return value;
}

/** Runs every request in order; a saved value missing from an answer is an error of the corpus. */
export async function runCorpus(target: Target, requests: CorpusRequest[], run: string, extra: Record<string, string> = {}): Promise<NormalizedAnswer[]> {
  const values: Record<string, string> = { run, ...extra };
  // Values that name this run or its secrets are masked in the answers, whatever key holds them.
  const fill = (text: string) =>
    text.replace(/<<(\w+)>>/g, (_m, name: string) => {
      if (values[name] === undefined) throw new Error(`corpus: <<${name}>> is used before it is saved`);
      return values[name] as string;
    });
  const answers: NormalizedAnswer[] = [];
  for (const r of requests) {
    const token = r.token === undefined || r.token === 'root' ? target.rootToken : r.token === null ? undefined : fill(r.token);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.headers ?? {})) headers[k] = fill(v);
    if (token !== undefined) headers['X-Vault-Token'] = token;
    let body: string | undefined;
    if (typeof r.body === 'string') body = fill(r.body);
    else if (r.body !== undefined) {
      body = fill(JSON.stringify(r.body));
      headers['Content-Type'] ??= 'application/json';
    }
    const raw = await send(target, r.method, fill(r.path), headers, body);
    let json: unknown = null;
    try {
      json = raw.text === '' ? null : JSON.parse(raw.text);
    } catch {
      json = null;
    }
    for (const [name, dotted] of Object.entries(r.save ?? {})) {
      const value = pick(json, dotted);
      if (typeof value !== 'string' || value === '') throw new Error(`corpus: ${r.id} answered ${raw.status} without ${dotted} to save as <<${name}>>: ${raw.text.slice(0, 300)}`);
      values[name] = value;
    }
    answers.push(normalizeAnswer(r.id, raw.status, raw.headers, raw.text, json, values));
  }
  return answers;
}
