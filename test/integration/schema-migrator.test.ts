import { randomBytes } from 'node:crypto';
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
      { kind: 'table', schema: 'public', name: 'eos_a' },
      { kind: 'view', schema: 'public', name: 'eos_b' },
      { kind: 'index', schema: 'public', name: 'eos_c' },
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
    expect((await admin.query(`SELECT to_regnamespace('eos') AS s`)).rows[0].s).toBeNull();
    // Once the writer is done, the same apply goes through and counts its alert.
    await applyMigrations(admin, { lockTimeoutS: 1 });
    expect((await admin.query(`SELECT alerts::int FROM eos.alert_state_totals WHERE state = 'new'`)).rows).toEqual([{ alerts: 1 }]);
  });

  it('two applies at once: one installs, the other waits and finds nothing to do', async () => {
    const { url } = await freshDatabase({ schema: true });
    const [a, b] = [await connect(url), await connect(url)];
    const [ra, rb] = await Promise.all([applyMigrations(a), applyMigrations(b)]);
    expect([ra.applied.length, rb.applied.length].sort()).toEqual([0, LATEST_SCHEMA_VERSION]);
    expect([ra.to, rb.to]).toEqual([LATEST_SCHEMA_VERSION, LATEST_SCHEMA_VERSION]);
    const { rows } = await a.query('SELECT version FROM eos.schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(ALL_VERSIONS);
  });
});

describe('a schema eos or public that someone else controls', () => {
  it('refuses a schema eos made while the apply waited for its lock, and changes nothing', async () => {
    const { url } = await freshDatabase({ schema: true });
    const squatter = `squat_${randomBytes(3).toString('hex')}`;
    const [admin, mallory] = [new pg.Client({ connectionString: url }), new pg.Client({ connectionString: url })];
    await Promise.all([admin.connect(), mallory.connect()]);
    try {
      await mallory.query(`CREATE ROLE ${squatter} NOLOGIN`);
      // Anyone may take the apply's advisory lock; the apply then waits for it without a timeout.
      await mallory.query('SELECT pg_advisory_lock(7306080, 0)');
      const applying = applyMigrations(admin).catch((err: unknown) => err);
      for (let i = 0; i < 100; i++) {
        const { rows } = await mallory.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`);
        if (rows[0].n > 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await mallory.query(`CREATE SCHEMA eos AUTHORIZATION ${squatter}`);
      await mallory.query('SELECT pg_advisory_unlock(7306080, 0)');
      const err = await applying;
      expect((err as Error).message).toMatch(new RegExp(`^refusing to install: the schema eos already exists, owned by ${squatter}`));
      expect((await admin.query(`SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'eos'::regnamespace`)).rows[0].n).toBe(0);
      expect((await admin.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'eos\\_%'`)).rows[0].n).toBe(0);
    } finally {
      await admin.query('DROP SCHEMA IF EXISTS eos').catch(() => undefined);
      await admin.query(`DROP ROLE IF EXISTS ${squatter}`).catch(() => undefined);
      await Promise.all([admin.end(), mallory.end()]);
    }
  });

  it("refuses a database whose public belongs to another role (PostgreSQL 15's pg_database_owner: the database's owner)", async () => {
    const { url, name } = await freshDatabase({ schema: true });
    const owner = `dbowner_${randomBytes(3).toString('hex')}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`CREATE ROLE ${owner} NOLOGIN`);
      await admin.query(`ALTER DATABASE ${name} OWNER TO ${owner}`);
      const err = await applyMigrations(admin).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(new RegExp(`^refusing to install: the schema public belongs to ${owner}, who may create objects there`));
      expect((err as { hint?: string }).hint).toMatch(new RegExp(`run eos delphi schema apply as ${owner} \\(--admin-user\\)`));
      expect((await admin.query(`SELECT to_regnamespace('eos') AS s`)).rows[0].s).toBeNull();
    } finally {
      await admin.query(`ALTER DATABASE ${name} OWNER TO CURRENT_USER`).catch(() => undefined);
      await admin.query(`DROP ROLE IF EXISTS ${owner}`).catch(() => undefined);
      await admin.end();
    }
  });
});

describe('an install made before eos had a schema of its own (version 3)', () => {
  it('moves into the schema eos with its counts, its record and its readers, and keeps counting', async () => {
    const { url } = await freshDatabase({ schema: true });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    const reader = `old_reader_${randomBytes(3).toString('hex')}`;
    try {
      // What eos 3 left: its record and objects in public, and a reader granted its tables.
      const migrations = await loadMigrations();
      await admin.query(`CREATE TABLE public.eos_schema_migrations (version int PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(), applied_by text NOT NULL DEFAULT current_user, duration_ms int NOT NULL)`);
      await admin.query(`INSERT INTO agents (id, name, registered) VALUES ('001', 'a', now())`);
      await admin.query(`INSERT INTO alerts (alert_hash, agent_id, rule_id, rule_level, rule_desc, raw, state, parser_success) VALUES
        ('h1', '001', 1, 1, 'x', '{}', 'new', NULL), ('h2', '001', 1, 1, 'x', '{}', 'failed', false)`);
      for (const m of migrations.slice(0, 3)) {
        await admin.query(m.sql);
        await admin.query('INSERT INTO public.eos_schema_migrations (version, name, checksum, duration_ms) VALUES ($1, $2, $3, 0)', [m.version, m.name, m.checksum]);
      }
      await admin.query(`CREATE ROLE ${reader} NOLOGIN`);
      await admin.query(`GRANT SELECT ON alerts TO ${reader}`);
      await admin.query(`GRANT SELECT ON public.eos_pipeline_flow, public.eos_failure_summary TO ${reader}`);
      expect((await readSchemaState(admin)).version).toBe(3);

      const result = await applyMigrations(admin);
      expect([result.from, result.to]).toEqual([3, LATEST_SCHEMA_VERSION]);
      const state = await readSchemaState(admin);
      expect(state).toMatchObject({ version: LATEST_SCHEMA_VERSION, current: true, missing: [], changed: [] });
      expect(state.applied.map((a) => a.version)).toEqual(ALL_VERSIONS);
      // Nothing of eos's is left in public but the indexes on the pipeline's tables.
      const leftovers = await admin.query(
        `SELECT relname, relkind FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname LIKE 'eos\\_%' AND relkind <> 'i'
         UNION ALL SELECT proname, 'f' FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND proname LIKE 'eos\\_%'`,
      );
      expect(leftovers.rows).toEqual([]);
      expect((await admin.query(`SELECT state::text, alerts::int FROM eos.alert_state_totals ORDER BY 1`)).rows).toEqual([
        { state: 'failed', alerts: 1 },
        { state: 'new', alerts: 1 },
      ]);
      // The triggers' functions were made again with the new names: writes still count.
      await admin.query(`UPDATE alerts SET state = 'enriched' WHERE alert_hash = 'h1'`);
      await admin.query(`DELETE FROM alerts WHERE alert_hash = 'h2'`);
      expect((await admin.query(`SELECT state::text, alerts::int FROM eos.alert_state_totals WHERE alerts <> 0 ORDER BY 1`)).rows).toEqual([{ state: 'enriched', alerts: 1 }]);
      expect((await admin.query(`SELECT count(*)::int AS n FROM eos.failure_summary`)).rows[0].n).toBe(0);
      // The reader of the alerts may use the schema and read every view, and write none.
      const rights = await admin.query(
        `SELECT has_schema_privilege($1, 'eos', 'USAGE') AS usage, has_schema_privilege($1, 'eos', 'CREATE') AS creates,
                bool_and(has_table_privilege($1, c.oid, 'SELECT')) AS reads_all,
                bool_or(has_table_privilege($1, c.oid, 'INSERT') OR has_table_privilege($1, c.oid, 'UPDATE') OR has_table_privilege($1, c.oid, 'DELETE')) AS writes_any
           FROM pg_class c WHERE c.relnamespace = 'eos'::regnamespace AND c.relkind IN ('r', 'v')`,
        [reader],
      );
      expect(rights.rows[0]).toEqual({ usage: true, creates: false, reads_all: true, writes_any: false });
    } finally {
      await admin.query(`DROP OWNED BY ${reader}`).catch(() => undefined);
      await admin.query(`DROP ROLE IF EXISTS ${reader}`).catch(() => undefined);
      await admin.end();
    }
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
