import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface FetchedResponse {
  status: number;
  text: string;
  json<T = unknown>(): T;
}

/**
 * A request that trusts a given CA, as `curl --cacert` does: Node's global fetch reads extra CAs
 * only at start-up (NODE_EXTRA_CA_CERTS), and the tests make theirs later.
 */
export function fetchWithCa(url: string, options: { ca?: string | Buffer; method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<FetchedResponse> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(target, { method: options.method ?? 'GET', headers: options.headers, ...(options.ca ? { ca: options.ca } : {}) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, json: <T,>() => JSON.parse(text) as T }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}
