import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { credentialsFileText, WITHHELD_FROM_WORKER, workerBaseEnvironment, workerEnvironment } from '../../src/exec/worker-supervisor.js';

/** What `exec` keeps from its worker: eos's own secrets, and the config's identity-token variable. */
describe('the environment a worker starts from', () => {
  const env = { PATH: '/bin', HOME: '/home/w', VAULT_ADDR: 'https://vault:8200', CI_JOB_JWT: 'eyJ.job.token', ...Object.fromEntries(WITHHELD_FROM_WORKER.map((n) => [n, `secret-${n}`])) };

  it('drops every withheld variable and keeps the rest (VAULT_ADDR is no secret)', () => {
    expect(workerBaseEnvironment(env)).toEqual({ PATH: '/bin', HOME: '/home/w', VAULT_ADDR: 'https://vault:8200', CI_JOB_JWT: 'eyJ.job.token' });
  });

  it("withholds every secret the sandbox exports (its schema lists them): tokens, passwords, admin URLs", () => {
    const schema = JSON.parse(readFileSync(path.join(import.meta.dirname, '..', '..', 'docs', 'schemas', 'sandbox.schema.json'), 'utf8')) as { properties: Record<string, unknown> };
    const secrets = Object.keys(schema.properties).filter((n) => /_TOKEN$|_PASSWORD$|_PG_URL$/.test(n));
    expect(secrets.length).toBeGreaterThanOrEqual(6);
    expect(secrets.filter((n) => !(WITHHELD_FROM_WORKER as readonly string[]).includes(n))).toEqual([]);
  });

  it('drops the variable a JWT login reads its identity token from, and keeps what --pass-env names', () => {
    const base = workerBaseEnvironment(env, { also: ['CI_JOB_JWT'], pass: ['BAO_TOKEN', 'NOT_SET'] });
    expect(base.CI_JOB_JWT).toBeUndefined();
    expect(base.BAO_TOKEN).toBe('secret-BAO_TOKEN');
    expect(base.VAULT_TOKEN).toBeUndefined();
    expect('NOT_SET' in base).toBe(false);
  });
});

/**
 * The credentials file a signalled worker re-reads: sourced by sh, a value is text, never a
 * command. Its values were JSON strings, where `$(…)` and backticks run when sourced.
 */
describe('the credentials file', () => {
  it('sets every variable to its exact value when sourced by sh, and runs nothing inside a value', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'eos-credfile-'));
    try {
      const marker = path.join(dir, 'ran');
      const password = `p$(touch ${marker})\`touch ${marker}\`'"\\ end`;
      const file = path.join(dir, 'credentials.env');
      writeFileSync(file, credentialsFileText({ host: 'db.internal', port: 5432, database: 'delphi', user: 'v-token-x', password, sslmode: 'require', source: 'dynamic' }));
      const out = execFileSync('sh', ['-c', '. "$1"; printf "%s\\n%s\\n%s" "$PGPASSWORD" "$PGUSER" "$PGHOST"', 'sh', file], { encoding: 'utf8' });
      expect(out).toBe(`${password}\nv-token-x\ndb.internal`);
      expect(existsSync(marker)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('what a libpq worker is given for TLS', () => {
  it('names the CA file in PG_DSN and PGSSLROOTCERT, so verify-full works through libpq', () => {
    const env = workerEnvironment({}, { host: 'db.internal', port: 5432, database: 'delphi', user: 'u', password: 'p', sslmode: 'verify-full', sslrootcert: '/etc/eos/pg-ca.pem', source: 'dynamic' });
    expect(env.PGSSLROOTCERT).toBe('/etc/eos/pg-ca.pem');
    expect(env.PGSSLMODE).toBe('verify-full');
    expect(new URL(env.PG_DSN as string).searchParams.get('sslrootcert')).toBe('/etc/eos/pg-ca.pem');
    const none = workerEnvironment({}, { host: 'h', port: 5432, database: 'd', user: 'u', password: 'p', sslmode: 'require', source: 'env' });
    expect('PGSSLROOTCERT' in none).toBe(false);
  });
});
