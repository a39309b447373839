/**
 * npm run bench:dev-server — the Vault-API dev server's own speed: 50 sequential requests to
 * sys/health over one kept-alive connection (as Vault clients send them), median and p95 in ms.
 * One JSON line.
 */
import http from 'node:http';
import { percentile } from './load.js';
import { startVaultDevServer } from '../src/sandbox/vault-dev-server/server.js';

const requests = Number(process.env.BENCH_REQUESTS ?? 50);
const server = await startVaultDevServer();
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = (path: string) =>
  new Promise<void>((resolve, reject) => {
    const req = http.get(`${server.addr}/v1/${path}`, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', reject);
  });
try {
  await get('sys/health'); // the connection, opened once
  const times: number[] = [];
  for (let i = 0; i < requests; i++) {
    const start = performance.now();
    await get('sys/health');
    times.push(performance.now() - start);
  }
  const round = (n: number) => Math.round(n * 100) / 100;
  process.stdout.write(`${JSON.stringify({ bench: 'dev-server', path: 'sys/health', keepAlive: true, requests, medianMs: round(percentile(times, 50)), p95Ms: round(percentile(times, 95)), maxMs: round(Math.max(...times)) })}\n`);
} finally {
  agent.destroy();
  await server.stop();
}
