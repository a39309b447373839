import { describe, expect, it } from 'vitest';
import { DASHBOARD_QUERIES, SnapshotShapeError, takeSnapshot } from '../../src/delphi/snapshot.js';

/** Rows as node-postgres would hand them back for each dashboard query of a healthy database. */
const GOOD: Record<keyof typeof DASHBOARD_QUERIES, Record<string, unknown>[]> = {
  flow: [{ state: 'new', count: 3, oldest_s: 120, avg_s: 60.4, health_status: 'Healthy' }],
  throughput: [{ ingested: 2, sent: 1 }],
  bottlenecks: [{ state: 'new', h1: 0, m30: 0, m10: 1, total: 3 }],
  parsers: [{ prompt_type: 'triage', parser_used: 'json', attempts: 4, rate: 75, avg_ms: 12.5, last_used: new Date('2026-11-29T04:00:00Z') }],
  parserErrors: [{ prompt_type: 'triage', parser_used: 'json', parser_error: 'no sections found', n: 1 }],
  failures: [{ id: 7, state: 'failed', agent_id: '001', failure_reason: 'parse', error: null, age: 30 }],
  failureSummary: [{ failure_type: 'parse', count: 1, newest_failure: null }],
  agentsTop: [{ id: '001', name: 'web-1', status_text: 'active', last_seen: null, n: 3 }],
  agentsByStatus: [{ status: 'active', n: 1 }],
  server: [{ standby: true, lag_s: 0.42 }],
  dynamicRoles: [{ alive: 3, expired: 1, sessions: 4, stale: 1 }],
  dynamicSessions: [{ role: 'v-old', n: 1, expired: true }, { role: 'v-new', n: 3, expired: false }],
};

function queryWith(rows: typeof GOOD) {
  return async (text: string) => {
    const name = (Object.keys(DASHBOARD_QUERIES) as (keyof typeof DASHBOARD_QUERIES)[]).find((k) => DASHBOARD_QUERIES[k] === text);
    if (!name) throw new Error(`unknown query: ${text}`);
    return { rows: rows[name] };
  };
}

describe('the dashboard snapshot reads typed rows', () => {
  it('maps rows of the documented shape into the snapshot', async () => {
    const snap = await takeSnapshot(queryWith(GOOD), null);
    expect(snap.flow[0]).toEqual({ state: 'new', count: 3, oldestSeconds: 120, avgAgeSeconds: 60, health: 'Healthy' });
    expect(snap.parsers[0]?.lastUsed).toBe('2026-11-29T04:00:00.000Z');
    expect(snap.throughput).toEqual({ ingested5m: 2, sent5m: 1 });
    expect(snap.server).toEqual({ host: null, standby: true, replayLagSeconds: 0.4 });
    expect(snap.dynamicRoles).toEqual({ alive: 3, expired: 1, sessions: 4, staleSessions: 1, perRole: [{ role: 'v-old', sessions: 1, expired: true }, { role: 'v-new', sessions: 3, expired: false }] });
  });

  it('names the query, the row and the column when the database answers in another shape', async () => {
    const bad = { ...GOOD, parsers: [{ ...GOOD.parsers[0], attempts: '4' }] };
    const err = await takeSnapshot(queryWith(bad), null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SnapshotShapeError);
    expect((err as Error).message).toMatch(/parsers query .*row 0, column attempts/);
  });

  it('refuses a health verdict the view does not produce', async () => {
    const bad = { ...GOOD, flow: [{ ...GOOD.flow[0], health_status: 'fine' }] };
    await expect(takeSnapshot(queryWith(bad), null)).rejects.toThrow(/flow query .*column health_status/);
  });
});
