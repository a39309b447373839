import { readdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { LATEST_SCHEMA_VERSION, loadMigrations, MIGRATION_FILES, objectsOf, splitSteps } from '../../src/delphi/migrations.js';

const ALL_VERSIONS = MIGRATION_FILES.map((_, i) => i + 1);
import { applyMigrations, readSchemaState, withProgress } from '../../src/delphi/schema-migrator.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { freshDatabase } from '../helpers/pg.js';

describe('the shipped migrations', () => {
  it('lists every file of src/delphi/migrations, in order, and each splits into titled steps', async () => {
    const files = readdirSync(path.join(REPO_ROOT, 'src', 'delphi', 'migrations')).filter((f) => f.endsWith('.sql')).sort();
    expect([...MIGRATION_FILES]).toEqual(files);
    for (const m of await loadMigrations()) {
      expect(m.steps.length).toBeGreaterThan(1);
      for (const step of m.steps) {
        expect(step.title).not.toBe('');
        expect(step.sql).not.toBe('');
      }
      expect(m.checksum).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('cuts a file at its step lines and finds what it creates', () => {
    const sql = '-- header\n-- step: one\nCREATE TABLE eos_a (x int);\n-- step: two\nCREATE OR REPLACE VIEW eos_b AS SELECT 1;\nCREATE INDEX IF NOT EXISTS eos_c ON eos_a (x);\n';
    expect(splitSteps(sql)).toEqual([
      { title: 'one', sql: 'CREATE TABLE eos_a (x int);' },
      { title: 'two', sql: 'CREATE OR REPLACE VIEW eos_b AS SELECT 1;\nCREATE INDEX IF NOT EXISTS eos_c ON eos_a (x);' },
    ]);
    expect(objectsOf(sql)).toEqual([
      { kind: 'table', name: 'eos_a' },
      { kind: 'view', name: 'eos_b' },
      { kind: 'index', name: 'eos_c' },
    ]);
  });
});

describe('applying them', () => {
  const clients: pg.Client[] = [];
  const connect = async (url: string) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    clients.push(c);
    return c;
  };
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
  });

  it('gives up after the lock timeout while a writer holds alerts, and changes nothing', async () => {
    const { url } = await freshDatabase({ schema: true });
    const [writer, admin] = [await connect(url), await connect(url)];
    await writer.query(`INSERT INTO agents (id, name, registered) VALUES ('001', 'a', now())`);
    // A pipeline transaction in flight: its ROW EXCLUSIVE lock blocks the apply's hold.
    await writer.query('BEGIN');
    await writer.query(`INSERT INTO alerts (alert_hash, agent_id, rule_id, rule_level, rule_desc, raw) VALUES ('h', '001', 1, 1, 'x', '{}')`);
    const started = performance.now();
    const err = await applyMigrations(admin, { lockTimeoutS: 1 }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('could not lock alerts and parser_metrics within 1s: another session holds them (nothing was changed)');
    expect(performance.now() - started).toBeLessThan(10_000);
    await writer.query('COMMIT');
    const state = await readSchemaState(admin);
    expect(state.version).toBe(0);
    expect((await admin.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'eos\\_%'`)).rows[0].n).toBe(0);
    // Once the writer is done, the same apply goes through and counts its alert.
    await applyMigrations(admin, { lockTimeoutS: 1 });
    expect((await admin.query(`SELECT alerts::int FROM eos_alert_state_totals WHERE state = 'new'`)).rows).toEqual([{ alerts: 1 }]);
  });

  it('two applies at once: one installs, the other waits and finds nothing to do', async () => {
    const { url } = await freshDatabase({ schema: true });
    const [a, b] = [await connect(url), await connect(url)];
    const [ra, rb] = await Promise.all([applyMigrations(a), applyMigrations(b)]);
    expect([ra.applied.length, rb.applied.length].sort()).toEqual([0, LATEST_SCHEMA_VERSION]);
    expect([ra.to, rb.to]).toEqual([LATEST_SCHEMA_VERSION, LATEST_SCHEMA_VERSION]);
    const { rows } = await a.query('SELECT version FROM eos_schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(ALL_VERSIONS);
  });
});

describe('progress of a long step', () => {
  it('says every 2 s how long it has run and, from a second session, how far an index build is', async () => {
    const lines: string[] = [];
    const watch = {
      query: async () => ({ rows: [{ index: 'eos_alerts_failures', phase: 'building index: scanning table', blocks_done: 37, blocks_total: 100, tuples_done: 0, tuples_total: 0 }] }),
    };
    const slow = new Promise<number>((resolve) => setTimeout(() => resolve(2300), 2300));
    expect(await withProgress(slow, 4242, watch, (l) => lines.push(l))).toBe(2300);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ {2}… [23] s: building index: scanning table 37 %$/);
    // A step shorter than 2 s says nothing more than its own line.
    const quiet: string[] = [];
    await withProgress(Promise.resolve(5), 4242, watch, (l) => quiet.push(l));
    expect(quiet).toEqual([]);
  });
});
