import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/credentials/open-database.js';
import { DashboardModel } from '../../src/delphi/dashboard.js';
import { sandboxConfig, startSandbox, startSimulation, type Sandbox } from '../../src/sandbox/sandbox.js';

describe('the dashboard over half a minute of rotations (TTL 3 s, max 7 s: one about every 6.4 s) with the simulator running', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ ttl: 3, maxTtl: 7, sampleAlerts: 2000 });
  });
  afterAll(() => sandbox?.stop());

  it('shows no query error and at least 3 rotations in 30 s', async () => {
    const simulation = await startSimulation(sandbox, { intervalMs: 500 });
    const { config, env } = await sandboxConfig(sandbox);
    const db = await openDatabase({ config, env, command: 'test dashboard' });
    const model = new DashboardModel(db, { intervalMs: 500 });
    const errors: string[] = [];
    model.on('update', () => model.error && errors.push(model.error));
    await model.start();
    await new Promise((resolve) => setTimeout(resolve, 30_000));
    await model.stop();
    const rotations = db.pool.stats().rotations;
    const refreshes = model.refreshes;
    await db.close();
    await simulation.stop();
    expect(errors).toEqual([]);
    expect(rotations).toBeGreaterThanOrEqual(3);
    expect(refreshes).toBeGreaterThan(30);
    // The simulator wrote through its own rotations without a failed write.
    expect(simulation.simulator.errors).toBe(0);
    expect(simulation.simulator.ticks).toBeGreaterThan(30);
  }, 90_000);
});
