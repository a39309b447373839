import { describe, expect, it } from 'vitest';
import { WITHHELD_FROM_WORKER, workerBaseEnvironment } from '../../src/exec/worker-supervisor.js';

/** What `exec` keeps from its worker: eos's own secrets, and the config's identity-token variable. */
describe('the environment a worker starts from', () => {
  const env = { PATH: '/bin', HOME: '/home/w', VAULT_ADDR: 'https://vault:8200', CI_JOB_JWT: 'eyJ.job.token', ...Object.fromEntries(WITHHELD_FROM_WORKER.map((n) => [n, `secret-${n}`])) };

  it('drops every withheld variable and keeps the rest (VAULT_ADDR is no secret)', () => {
    expect(workerBaseEnvironment(env)).toEqual({ PATH: '/bin', HOME: '/home/w', VAULT_ADDR: 'https://vault:8200', CI_JOB_JWT: 'eyJ.job.token' });
  });

  it('drops the variable a JWT login reads its identity token from, and keeps what --pass-env names', () => {
    const base = workerBaseEnvironment(env, { also: ['CI_JOB_JWT'], pass: ['BAO_TOKEN', 'NOT_SET'] });
    expect(base.CI_JOB_JWT).toBeUndefined();
    expect(base.BAO_TOKEN).toBe('secret-BAO_TOKEN');
    expect(base.VAULT_TOKEN).toBeUndefined();
    expect('NOT_SET' in base).toBe(false);
  });
});
