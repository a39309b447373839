import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRollups } from '../../src/delphi/rollup-check.js';
import { readSchemaState } from '../../src/delphi/schema-migrator.js';
import { groupRoleSql } from '../../src/setup/engine-sql.js';
import { freshDatabase } from '../helpers/pg.js';

/**
 * eos's rollup functions run as the admin at every pipeline write (SECURITY DEFINER). On a
 * database where anyone may create objects in `public` (PostgreSQL 14 and older, and every
 * database upgraded from them), a login that plants an operator or a function there must gain
 * nothing when a worker writes — and no group may write eos's own tables (issue 24, items 1–2).
 */
describe('eos\'s objects against the roles that use the database', () => {
  let admin: pg.Client;
  let url: string;
  let database: string;
  const suffix = randomBytes(3).toString('hex');
  const reader = `attacker_${suffix}`;
  const writer = `writer_${suffix}`;
  const readers = `delphi_readonly_${suffix}`;
  const writers = `delphi_worker_${suffix}`;
  const password = 'Pw-' + randomBytes(9).toString('hex');
  const as = (role: string) => {
    const u = new URL(url);
    u.username = role;
    u.password = password;
    return u.toString();
  };

  beforeAll(async () => {
    ({ url, name: database } = await freshDatabase({ schema: true, eos: true }));
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
    // The engine's own group roles, as `set delphi-db-engine --apply` makes them.
    for (const [group, access] of [[readers, 'read'], [writers, 'write']] as const) {
      for (const statement of groupRoleSql(group, database, access)) await admin.query(statement);
    }
    await admin.query(`CREATE ROLE ${reader} LOGIN PASSWORD '${password}' IN ROLE ${readers}`);
    await admin.query(`CREATE ROLE ${writer} LOGIN PASSWORD '${password}' IN ROLE ${writers}`);
    await admin.query(`INSERT INTO agents (id, name, registered) VALUES ('a1', 'agent-1', now())`);
    // PostgreSQL 14's default, kept by pg_upgrade: anyone may create objects in public.
    await admin.query('GRANT CREATE ON SCHEMA public TO PUBLIC');
  });
  afterAll(async () => {
    await admin?.query(`DROP OWNED BY ${reader}`).catch(() => undefined);
    await admin?.query(`DROP ROLE IF EXISTS ${reader}, ${writer}`).catch(() => undefined);
    await admin?.end();
  });

  it('a reader who plants an operator and functions in public gains nothing when a worker writes', async () => {
    const attacker = new pg.Client({ connectionString: as(reader) });
    await attacker.connect();
    try {
      // Runs as whoever calls it: as the admin, if a SECURITY DEFINER function ever does.
      await attacker.query(`CREATE FUNCTION public.eos_escalate(float8, numeric) RETURNS boolean LANGUAGE plpgsql AS $$
        BEGIN EXECUTE 'ALTER ROLE ${reader} SUPERUSER'; RETURN false; END $$`);
      // random() < 0.00390625 in the trigger: a (float8, numeric) operator matches better than PostgreSQL's.
      await attacker.query('CREATE OPERATOR public.< (LEFTARG = float8, RIGHTARG = numeric, FUNCTION = public.eos_escalate)');
    } finally {
      await attacker.end();
    }

    const worker = new pg.Client({ connectionString: as(writer) });
    await worker.connect();
    try {
      for (let i = 0; i < 20; i++) {
        await worker.query(`INSERT INTO alerts (alert_hash, agent_id, rule_id, rule_level, rule_desc, raw) VALUES ($1, 'a1', 1, 1, 'x', '{}')`, [`h-${suffix}-${i}`]);
        await worker.query(`UPDATE alerts SET state = 'enriched' WHERE alert_hash = $1`, [`h-${suffix}-${i}`]);
      }
    } finally {
      await worker.end();
    }
    const { rows } = await admin.query('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [reader]);
    expect(rows[0].rolsuper).toBe(false);
    // The triggers ran and counted every move, with PostgreSQL's own names only.
    const moved = await admin.query(`SELECT sum(alerts)::int AS n FROM eos.alert_state_rollup WHERE state = 'enriched'`);
    expect(moved.rows[0].n).toBe(20);
  });

  it("an operator planted in public does not run when the admin reads eos's views or verify recomputes the rollups", async () => {
    const attacker = new pg.Client({ connectionString: as(reader) });
    await attacker.connect();
    try {
      // eos.failure_type is a plain SQL function, parsed where it is called: an exact-type `=`
      // for the pipeline's enum would beat PostgreSQL's anyenum one if the body left it unnamed.
      await attacker.query(`CREATE FUNCTION public.eos_enum_eq(alert_state, alert_state) RETURNS boolean LANGUAGE plpgsql AS $$
        BEGIN EXECUTE 'ALTER ROLE ${reader} SUPERUSER'; RETURN $1::text = $2::text; END $$`);
      await attacker.query('CREATE OPERATOR public.= (LEFTARG = alert_state, RIGHTARG = alert_state, FUNCTION = public.eos_enum_eq)');
    } finally {
      await attacker.end();
    }
    await admin.query(`INSERT INTO alerts (alert_hash, agent_id, rule_id, rule_level, rule_desc, raw, state) VALUES ('planted-${suffix}', 'a1', 1, 1, 'x', '{}', 'failed')`);
    await admin.query('SELECT * FROM eos.failures');
    await admin.query('SELECT * FROM eos.failure_summary');
    await admin.query('SELECT * FROM eos.pipeline_bottlenecks');
    await checkRollups(admin);
    const { rows } = await admin.query('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [reader]);
    expect(rows[0].rolsuper).toBe(false);
  });

  it('neither group may write any of eos\'s tables (the rollups, the migration record); both may read them', async () => {
    const { rows } = await admin.query<{ relname: string; grp: string; writes: boolean; reads: boolean }>(
      `SELECT c.relname, g.grp,
              has_table_privilege(g.grp, c.oid, 'INSERT') OR has_table_privilege(g.grp, c.oid, 'UPDATE')
                OR has_table_privilege(g.grp, c.oid, 'DELETE') OR has_table_privilege(g.grp, c.oid, 'TRUNCATE') AS writes,
              has_table_privilege(g.grp, c.oid, 'SELECT') AS reads
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         CROSS JOIN (VALUES ($1), ($2)) g(grp)
        WHERE n.nspname = 'eos' AND c.relkind IN ('r', 'p', 'v', 'm')`,
      [readers, writers],
    );
    expect(rows.map((r) => r.relname)).toEqual(expect.arrayContaining(['alert_state_rollup', 'failure_rollup', 'parser_rollup', 'schema_migrations', 'failures', 'pipeline_flow']));
    expect(rows.filter((r) => r.writes)).toEqual([]);
    expect(rows.every((r) => r.reads)).toBe(true);
    // The pipeline's own tables stay the workers' to write.
    const alerts = await admin.query(`SELECT has_table_privilege($1, 'alerts', 'INSERT') AS w`, [writers]);
    expect(alerts.rows[0].w).toBe(true);
  });

  it('a worker that tries to forge the dashboard\'s counts is refused', async () => {
    const worker = new pg.Client({ connectionString: as(writer) });
    await worker.connect();
    try {
      const forged = await worker.query(`INSERT INTO eos.alert_state_rollup (state, alerts, timed, ingest_epoch_sum) VALUES ('failed', 1000000, 0, 0)`).catch((err: { code?: string }) => err);
      expect((forged as { code?: string }).code).toBe('42501');
      const ledger = await worker.query(`UPDATE eos.schema_migrations SET name = 'forged'`).catch((err: { code?: string }) => err);
      expect((ledger as { code?: string }).code).toBe('42501');
    } finally {
      await worker.end();
    }
  });

  it('schema status names who besides its owner may create in public, and stops once the fix is run', async () => {
    expect((await readSchemaState(admin)).publicSchemaCreators).toEqual(['PUBLIC']);
    await admin.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
    try {
      expect((await readSchemaState(admin)).publicSchemaCreators).toEqual([]);
    } finally {
      await admin.query('GRANT CREATE ON SCHEMA public TO PUBLIC');
    }
  });
});
