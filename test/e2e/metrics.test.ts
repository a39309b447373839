import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import parsePrometheusTextFormat, { type MetricFamily } from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { freePort } from '../../src/sandbox/postgres.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { CLI, REPO_ROOT } from '../helpers/cli.js';

/** `exec --metrics-listen` on a sandbox with 3 s / 8 s leases: /metrics and /healthz as Prometheus and a probe see them. */
describe('metrics and health of eos self secrets exec', () => {
  let sandbox: Sandbox;
  let home: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    sandbox = await startSandbox({ ttl: 3, maxTtl: 8, sampleAlerts: 0 });
    home = mkdtempSync(path.join(tmpdir(), 'eos-metrics-'));
    env = { PATH: process.env.PATH, HOME: home, EOS_CONFIG: sandbox.configFile, VAULT_TOKEN: sandbox.workerToken, EOS_LOG_FILE: path.join(home, 'eos.log') };
  });
  afterAll(async () => {
    await sandbox?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  async function execWithMetrics(extra: string[]) {
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'self', 'secrets', 'exec', '--metrics-listen', String(port), ...extra, '--', 'sh', '-c', 'echo "worker password $PGPASSWORD"; exec sleep 600'], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    onTestFinished(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    const run = { stdout: '', stderr: '', child, base: `http://127.0.0.1:${port}` };
    child.stdout.on('data', (d) => (run.stdout += d));
    child.stderr.on('data', (d) => (run.stderr += d));
    await expect.poll(() => run.stderr, { timeout: 15_000 }).toMatch(new RegExp(`metrics at http://127\\.0\\.0\\.1:${port}/metrics`));
    return run;
  }

  const value = (families: MetricFamily[], name: string, labels: Record<string, string> = {}) =>
    (families.find((f) => f.name === name)?.metrics ?? [])
      .filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
      .reduce((sum, m) => sum + Number(m.value ?? 0), 0);

  it('counts renewals, rotations and worker restarts, moves the lease TTL, and never shows a password', async () => {
    const run = await execWithMetrics([]);
    const scrapes: string[] = [];
    const parsed: MetricFamily[][] = [];
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 3500));
      const res = await fetch(`${run.base}/metrics`);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      scrapes.push(text);
      parsed.push(parsePrometheusTextFormat(text));
    }
    const ttls = parsed.map((p) => value(p, 'eos_lease_ttl_seconds', { role: 'delphi-worker' }));
    expect(new Set(ttls).size).toBeGreaterThan(1);
    for (const ttl of ttls) expect(ttl).toBeGreaterThanOrEqual(0);
    const last = parsed[2] as MetricFamily[];
    expect(value(last, 'eos_lease_renewals_total', { result: 'ok' })).toBeGreaterThan(0);
    expect(value(last, 'eos_rotations_total')).toBeGreaterThanOrEqual(1);
    expect(value(last, 'eos_worker_events_total', { event: 'restart' })).toBeGreaterThanOrEqual(1);
    expect(value(last, 'eos_credential_source', { source: 'dynamic' })).toBe(1);
    expect(value(last, 'eos_vault_requests_total', { path: 'sys/leases/renew/database/creds/…', status: '200' })).toBeGreaterThan(0);
    expect(last.some((f) => f.name === 'eos_process_resident_memory_bytes')).toBe(true);

    // The leak check only counts if it has the worker's passwords to look for.
    const passwords = [...run.stdout.matchAll(/^worker password (\S+)$/gm)].map((m) => m[1] as string);
    expect(passwords.length).toBeGreaterThanOrEqual(2);
    for (const text of scrapes) {
      for (const pw of passwords) expect(text).not.toContain(pw);
      expect(text).not.toContain(sandbox.workerToken);
      expect(text).not.toMatch(/v-token-eo-delphi-w-/); // no username in any label
    }
    run.child.kill('SIGTERM');
  }, 40_000);

  it('/healthz is 503 while Vault is frozen past the lease\'s expiry with --source dynamic, and 200 again after', async () => {
    const run = await execWithMetrics(['--source', 'dynamic']);
    const health = async () => {
      const res = await fetch(`${run.base}/healthz`);
      return { status: res.status, body: (await res.json()) as { ok: boolean; reason: string } };
    };
    // Not healthy before credentials are held; healthy once they are.
    await expect.poll(async () => (await health()).status, { timeout: 10_000, interval: 100 }).toBe(200);
    expect((await health()).body.reason).toMatch(/^credentials from dynamic, lease \d+ s left$/);
    await fetch(`${sandbox.vaultAddr}/__dev/pause`, { method: 'POST', headers: { 'X-Vault-Token': sandbox.rootToken }, body: JSON.stringify({ seconds: 8 }) });
    await expect.poll(async () => (await health()).status, { timeout: 8_000, interval: 200 }).toBe(503);
    expect((await health()).body.reason).toMatch(/lease expired at .* and no allowed source replaced it/);
    await expect.poll(async () => (await health()).status, { timeout: 10_000, interval: 200 }).toBe(200);
    run.child.kill('SIGTERM');
  }, 40_000);

  it('survives 2 000 malformed, hostile and random requests on the metrics port: still serving, healthy, holding its lease', async () => {
    const run = await execWithMetrics([]);
    const port = Number(new URL(run.base).port);
    // A seeded generator: the same 2 000 requests every run.
    let seed = 0x2545f491;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const pick = <T,>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
    const HOSTILE = [
      'GET http://[ HTTP/1.1\r\nHost: x\r\n\r\n', // the request that ended eos before (Node wants a Host first)
      'GET //metrics HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET * HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET http://metrics/healthz HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET ?x HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /%zz%ff HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /metrics?%%% HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /healthz HTTP/9.9\r\n\r\n',
      'POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello',
      'DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n',
      'OPTIONS * HTTP/1.1\r\n\r\n',
      'CONNECT 127.0.0.1:1 HTTP/1.1\r\n\r\n',
      'GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nzz',
      `GET /metrics HTTP/1.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET http://[ HTTP/1.1\r\nHost: x\r\n\r\n', // pipelined
      'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', // a good one now and then
      'HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n',
    ];
    const payload = (i: number): Buffer => {
      if (i % 3 === 0) return Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 4096) }, () => Math.floor(rand() * 256)));
      return Buffer.from(pick(HOSTILE), 'latin1');
    };
    const send = (data: Buffer, slow: boolean) =>
      new Promise<void>((resolve) => {
        const socket = connect(port, '127.0.0.1');
        const done = () => {
          clearTimeout(timer);
          socket.destroy();
          resolve();
        };
        const timer = setTimeout(done, slow ? 1_500 : 3_000);
        socket.on('error', done);
        socket.on('close', done);
        socket.on('data', () => undefined);
        socket.on('connect', () => {
          // A slow client sends half a request and waits; the others send all and close their side.
          if (slow) socket.write(data.subarray(0, Math.max(1, data.length >> 1)));
          else socket.end(data);
        });
      });
    let sent = 0;
    const worker = async () => {
      while (sent < 2_000) {
        const i = sent++;
        await send(payload(i), i % 100 === 7);
      }
    };
    await Promise.all(Array.from({ length: 24 }, worker));

    // Still there, still healthy, still answering, and its lease still held.
    expect(run.child.exitCode).toBeNull();
    const health = await fetch(`${run.base}/healthz`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { source: string }).source).toBe('dynamic');
    expect((await fetch(`${run.base}/metrics`)).status).toBe(200);
    expect((await fetch(`${run.base}/metrics`, { method: 'POST' })).status).toBe(405);
    const leases = ((await (await fetch(`${sandbox.vaultAddr}/__dev/leases`, { headers: { 'X-Vault-Token': sandbox.rootToken } })).json()) as { leases: { id: string }[] }).leases;
    expect(leases.some((l) => l.id.includes('/creds/delphi-worker/'))).toBe(true);
    expect(run.stderr).not.toMatch(/unexpected failure|TypeError|Invalid URL/);
    run.child.kill('SIGTERM');
    // exec exits as its worker did: killed by the SIGTERM it forwarded, 128 + 15.
    expect(await new Promise((resolve) => run.child.on('exit', resolve))).toBe(143);
  }, 90_000);
});
