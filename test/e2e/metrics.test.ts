import { spawn } from 'node:child_process';
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
    expect(value(last, 'eos_vault_requests_total', { path: 'sys/leases/renew', status: '200' })).toBeGreaterThan(0);
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
    await fetch(`${sandbox.vaultAddr}/__dev/pause`, { method: 'POST', body: JSON.stringify({ seconds: 8 }) });
    await expect.poll(async () => (await health()).status, { timeout: 8_000, interval: 200 }).toBe(503);
    expect((await health()).body.reason).toMatch(/lease expired at .* and no allowed source replaced it/);
    await expect.poll(async () => (await health()).status, { timeout: 10_000, interval: 200 }).toBe(200);
    run.child.kill('SIGTERM');
  }, 40_000);
});
