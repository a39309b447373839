import type pg from 'pg';
import { publicSchemaCreators } from '../db/schema-creators.js';
import { OperationFailedError, UsageError } from '../errors.js';
import { describeObject, EOS_SCHEMA_VERSION, LATEST_SCHEMA_VERSION, loadMigrations, migrationPath, placeAt, type Migration, type SchemaObject } from './migrations.js';

/**
 * Installs and inspects eos's objects in a Delphi database (`eos delphi schema`): which
 * migrations a database has, which objects are missing, and applying the pending ones in one
 * transaction — all of them or none — while the pipeline's tables are held against writes, so
 * a rollup's backfill and its triggers see the same rows.
 */

/** A client, a pool or the rotating pool: anything that runs one statement. */
export type Queryable = { query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }> };

/** The record of applied migrations; before migration 4 it was `public.eos_schema_migrations`. */
export const MIGRATIONS_TABLE = 'eos.schema_migrations';
const LEGACY_MIGRATIONS_TABLE = 'public.eos_schema_migrations';
/** The pipeline's tables eos's objects sit on; without them there is nothing to install on. */
export const PIPELINE_TABLES = ['agents', 'alerts', 'parser_metrics'] as const;

/**
 * The schema eos's objects live in, and the record of migrations in it. The schema is created
 * owned by the applying admin, with no privileges for anyone else (readers get USAGE below);
 * an older install's record moves in with it, so the same transaction can add to it.
 */
const PREPARE_SCHEMA = `CREATE SCHEMA IF NOT EXISTS eos;
COMMENT ON SCHEMA eos IS 'eos: the Delphi dashboard''s rollups, views and their functions; written only by eos delphi schema apply';
DO $ledger$
BEGIN
  IF to_regclass('${LEGACY_MIGRATIONS_TABLE}') IS NOT NULL AND to_regclass('${MIGRATIONS_TABLE}') IS NULL THEN
    ALTER TABLE ${LEGACY_MIGRATIONS_TABLE} SET SCHEMA eos;
    ALTER TABLE eos.eos_schema_migrations RENAME TO schema_migrations;
  END IF;
END
$ledger$;
CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
  version     int PRIMARY KEY,
  name        text NOT NULL,
  checksum    text NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now(),
  applied_by  text NOT NULL DEFAULT current_user,
  duration_ms int NOT NULL
);`;
/** Two applies at once: the second waits, then finds nothing pending. */
const APPLY_LOCK = 'SELECT pg_advisory_xact_lock(7306080, 0);';
/**
 * Names in the migrations resolve through PostgreSQL's own schema (searched first when the path
 * does not name it) and `public` only: not through a schema named after the admin (`"$user"`,
 * which anyone with CREATE on the database can make), nor through `eos` before its objects are
 * moved there. What the migrations create without a schema goes to `public`.
 */
const PIN_SEARCH_PATH = 'SET LOCAL search_path = public;';
const HOLD_PIPELINE = `LOCK TABLE ${PIPELINE_TABLES.filter((t) => t !== 'agents').join(', ')} IN SHARE ROW EXCLUSIVE MODE;`;
/**
 * Whoever may read the alerts may read eos's summaries of them: the reader and worker group
 * roles of `set delphi-db-engine`, or a site's own — USAGE on the schema eos and SELECT on its
 * tables and views, never more. Groups made later get the same from the engine's set-up.
 */
const GRANT_READERS = `DO $grant$
DECLARE
  reader text;
BEGIN
  FOR reader IN
    SELECT DISTINCT CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::regrole::text END
      FROM pg_class c, aclexplode(c.relacl) g
     WHERE c.oid = 'public.alerts'::regclass AND g.privilege_type = 'SELECT' AND g.grantee <> c.relowner
  LOOP
    EXECUTE format('GRANT USAGE ON SCHEMA eos TO %s', reader);
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA eos TO %s', reader);
  END LOOP;
END
$grant$;`;

export interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
  appliedAt: string;
  appliedBy: string;
  durationMs: number;
}

export interface SchemaState {
  /** The highest migration applied; 0 when eos was never installed here. */
  version: number;
  latest: number;
  /** Every migration applied and every object of them there. */
  current: boolean;
  missingPipelineTables: string[];
  applied: AppliedMigration[];
  pending: { version: number; name: string }[];
  /** Applied from a file that differs from this eos's (a hand-edited or foreign migration). */
  changed: { version: number; name: string }[];
  /** Objects of applied migrations that are not in the database (dropped by hand?). */
  missing: (SchemaObject & { version: number })[];
  /**
   * Who besides its owner may create objects in `public` (`PUBLIC`: everyone — PostgreSQL 14's
   * default, kept by pg_upgrade). eos's functions no longer trust the schema, but anything else
   * that runs there as another role might: it is reported with its fix.
   */
  publicSchemaCreators: string[];
}

/**
 * Why eos will not install its code here, or null. An apply runs as the admin: it creates
 * SECURITY DEFINER functions and views that run as the admin, and resolves the names in its
 * SQL through `public`. Where someone else may create objects in `public`, or owns or may
 * write the schema `eos` (made before eos was installed, to be ready for it), what it installs
 * could be made to run their code as the admin.
 */
export async function installRefusal(db: Queryable): Promise<{ problem: string; fix: string } | null> {
  const me = String((await db.query('SELECT current_user AS me')).rows[0]?.me);
  // The owner of public may always create there: on PostgreSQL 15 and later it is
  // pg_database_owner, that is, the database's owner.
  const { rows: owners } = await db.query(
    `SELECT pg_get_userbyid(o.oid) AS owner, o.rolsuper OR pg_get_userbyid(o.oid) = current_user AS trusted
       FROM pg_namespace n
       JOIN pg_roles r ON r.oid = n.nspowner
       JOIN pg_roles o ON o.oid = CASE WHEN r.rolname = 'pg_database_owner'
                                       THEN (SELECT datdba FROM pg_database WHERE datname = current_database()) ELSE r.oid END
      WHERE n.nspname = 'public'`,
  );
  const owner = owners[0];
  if (owner && !owner.trusted) {
    return {
      problem: `the schema public belongs to ${String(owner.owner)}, who may create objects there, and eos's install runs there as you: what they plant could run with your rights`,
      fix: `run eos delphi schema apply as ${String(owner.owner)} (--admin-user), or as a superuser after ALTER SCHEMA public OWNER TO ${me}; nothing was changed`,
    };
  }
  const others = (await publicSchemaCreators(db)).filter((r) => r !== me);
  if (others.length > 0) {
    return {
      problem: `the schema public lets ${others.join(', ')} create objects, and eos's install runs there as you: what they plant could run with your rights`,
      fix: `as the admin, run ${others.map((r) => `REVOKE CREATE ON SCHEMA public FROM ${r}`).join('; ')}; then apply again (nothing was changed)`,
    };
  }
  const { rows } = await db.query(
    `SELECT pg_get_userbyid(n.nspowner) AS owner,
            pg_get_userbyid(n.nspowner) = current_user OR (SELECT rolsuper FROM pg_roles WHERE oid = n.nspowner) AS trusted_owner,
            array(SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END
                    FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
                   WHERE a.privilege_type = 'CREATE' AND a.grantee <> n.nspowner ORDER BY 1)::text[] AS creators
       FROM pg_namespace n WHERE n.nspname = 'eos'`,
  );
  const eos = rows[0];
  if (!eos) return null;
  if (!eos.trusted_owner) {
    return {
      problem: `the schema eos already exists, owned by ${String(eos.owner)}: eos installs its functions only into a schema that you or a superuser own`,
      fix: `check what it holds (\\dn+ eos, \\df eos.*), then ALTER SCHEMA eos OWNER TO ${me} or DROP SCHEMA eos, and apply again (nothing was changed)`,
    };
  }
  const eosCreators = (eos.creators as string[]).filter((r) => r !== me);
  if (eosCreators.length > 0) {
    return {
      problem: `the schema eos lets ${eosCreators.join(', ')} create objects: eos installs its functions only into a schema no one else may write`,
      fix: `as the admin, run ${eosCreators.map((r) => `REVOKE CREATE ON SCHEMA eos FROM ${r}`).join('; ')}; then apply again (nothing was changed)`,
    };
  }
  return null;
}

async function refuseUnsafe(db: Queryable): Promise<void> {
  const refusal = await installRefusal(db);
  if (refusal) throw new OperationFailedError(`refusing to install: ${refusal.problem}`, refusal.fix);
}

/** The one line that says how to close `public` to everyone but its owner. */
export const CLOSE_PUBLIC_SCHEMA = 'REVOKE CREATE ON SCHEMA public FROM PUBLIC';

/** What status, verify and an apply with nothing to do say when `public` is open (null when it is not). */
export function openPublicWarning(creators: string[]): string | null {
  if (creators.length === 0) return null;
  return `the schema public lets ${creators.join(', ')} create objects: run ${CLOSE_PUBLIC_SCHEMA} as the admin (eos's functions do not trust it, and the next schema apply refuses to install while it is open)`;
}

export async function readSchemaState(db: Queryable, migrations?: Migration[]): Promise<SchemaState> {
  const all = migrations ?? (await loadMigrations());
  const { rows: tables } = await db.query(
    `SELECT t AS name FROM unnest($1::text[]) t WHERE to_regclass(format('public.%I', t)) IS NULL`,
    [[...PIPELINE_TABLES]],
  );
  const missingPipelineTables = tables.map((r) => String(r.name));
  const applied = await readApplied(db);
  const byVersion = new Map(applied.map((a) => [a.version, a]));
  const version = applied.reduce((v, a) => Math.max(v, a.version), 0);
  const pending = all.filter((m) => m.version > version).map(({ version: v, name }) => ({ version: v, name }));
  const changed = all.filter((m) => byVersion.has(m.version) && byVersion.get(m.version)?.checksum !== m.checksum).map(({ version: v, name }) => ({ version: v, name }));
  // Each object where it is now (0004 moved the older ones), once, with the last migration that made it.
  const expected = new Map<string, SchemaObject & { version: number }>();
  for (const m of all.filter((x) => byVersion.has(x.version))) {
    for (const o of m.objects.map((x) => placeAt(x, version))) expected.set(describeObject(o), { ...o, version: m.version });
  }
  const missing = await missingObjects(db, [...expected.values()]);
  const creators = await publicSchemaCreators(db);
  return {
    version,
    latest: LATEST_SCHEMA_VERSION,
    current: version >= LATEST_SCHEMA_VERSION && missing.length === 0,
    missingPipelineTables,
    applied,
    pending,
    changed,
    missing,
    publicSchemaCreators: creators,
  };
}

async function readApplied(db: Queryable): Promise<AppliedMigration[]> {
  // From the catalog, which anyone may read: naming a schema one has no USAGE on is an error.
  const { rows: found } = await db.query(
    `SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE (n.nspname, c.relname) IN (('eos', 'schema_migrations'), ('public', 'eos_schema_migrations'))
      ORDER BY n.nspname = 'eos' DESC LIMIT 1`,
  );
  if (found.length === 0) return [];
  const ledger = found[0]?.nspname === 'eos' ? MIGRATIONS_TABLE : LEGACY_MIGRATIONS_TABLE;
  const { rows } = await db.query(`SELECT version, name, checksum, applied_at, applied_by, duration_ms FROM ${ledger} ORDER BY version`);
  return rows.map((r) => ({
    version: Number(r.version),
    name: String(r.name),
    checksum: String(r.checksum),
    appliedAt: (r.applied_at as Date).toISOString(),
    appliedBy: String(r.applied_by),
    durationMs: Number(r.duration_ms),
  }));
}

async function missingObjects<O extends SchemaObject>(db: Queryable, objects: O[]): Promise<O[]> {
  if (objects.length === 0) return [];
  const { rows } = await db.query(
    `SELECT o.i FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS o(kind, schema, name, i)
      WHERE NOT CASE o.kind
        WHEN 'function' THEN EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proname = o.name AND n.nspname = o.schema)
        WHEN 'trigger' THEN EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgname = o.name AND NOT t.tgisinternal)
        ELSE EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = o.name AND n.nspname = o.schema) END
      ORDER BY o.i`,
    [objects.map((o) => o.kind), objects.map((o) => o.schema), objects.map((o) => o.name)],
  );
  return rows.map((r) => objects[Number(r.i) - 1] as O);
}

/** This Delphi database lacks eos's objects, or has older ones: the dashboard cannot read it. */
export class SchemaNotCurrentError extends UsageError {
  constructor(state: Pick<SchemaState, 'version' | 'latest' | 'missing'>) {
    const what =
      state.version === 0
        ? "this Delphi database has none of eos's objects (the dashboard's views, indexes and rollups)"
        : state.version < state.latest
          ? `this Delphi database has eos schema version ${state.version}; this eos needs ${state.latest}`
          : `eos objects are missing from this Delphi database: ${state.missing.map(describeObject).join(', ')}`;
    // apply does not re-run an applied migration: a dropped object is recreated from its file.
    // One made in public and moved into eos by 0004 needs both files' statements.
    const moved = state.missing.some((o) => o.schema === 'eos' && o.version < EOS_SCHEMA_VERSION) ? [EOS_SCHEMA_VERSION] : [];
    const dropped = [...new Set([...state.missing.map((o) => o.version), ...moved])].sort((a, b) => a - b).map(migrationPath);
    super(
      what,
      state.version < state.latest || dropped.length === 0
        ? 'run eos delphi schema apply (as the database admin; --dry-run prints the SQL first)'
        : `as the database admin, run the statements that create it from ${dropped.join(', ')}; eos delphi schema status lists what is missing`,
    );
  }
}

/** The database eos was pointed at is not a Delphi database (or not yet): exit 1. */
export class NoPipelineTablesError extends OperationFailedError {
  constructor(missing: string[]) {
    super(
      `this database has no Delphi pipeline tables (${missing.join(', ')} missing): eos's objects go beside them`,
      'point eos at the Delphi database (--database, DELPHI_DB_NAME or eos self secrets set delphi-db-config)',
    );
  }
}

/** What the dashboard checks before its first query: version and objects, read with its own credentials. */
export async function requireCurrentSchema(db: Queryable): Promise<void> {
  const state = await readSchemaState(db);
  if (state.missingPipelineTables.length > 0) throw new NoPipelineTablesError(state.missingPipelineTables);
  if (!state.current) throw new SchemaNotCurrentError(state);
}

export interface ApplyOptions {
  dryRun?: boolean;
  /** How long to wait for the pipeline's tables before giving up (seconds). */
  lockTimeoutS?: number;
  /** Rebuild the rollups from the pipeline's tables even if nothing is pending (after verify found drift). */
  rebuildRollups?: boolean;
  progress?: (line: string) => void;
  /** A second session on the same database, to report an index build's progress. */
  watch?: Queryable;
}

export interface ApplyResult {
  from: number;
  /** The version after the apply (for a dry run: the one it would reach). */
  to: number;
  dryRun: boolean;
  applied: { version: number; name: string; ms: number; steps: { title: string; ms: number }[] }[];
  rebuiltRollups: boolean;
  /** The SQL that runs (dry run) or ran, in order. */
  sql: string;
}

/** The steps of an apply, as SQL: what --dry-run prints is what runs. */
function recordSql(m: Migration, ms: number | null): string {
  return `INSERT INTO ${MIGRATIONS_TABLE} (version, name, checksum, duration_ms) VALUES (${m.version}, '${m.name}', '${m.checksum}', ${ms ?? 0});`;
}

/**
 * What an apply would run, and the version it would reach, changing nothing: reads the state
 * only, so any login that may read the catalog and eos's record will do (a dry run needs no
 * admin password).
 */
export async function planMigrations(db: Queryable, options: Pick<ApplyOptions, 'rebuildRollups' | 'lockTimeoutS'> = {}): Promise<ApplyResult> {
  const { result, pending, before } = await plan(db, options);
  return { ...result, dryRun: true, to: pending.at(-1)?.version ?? before.version };
}

async function plan(db: Queryable, options: Pick<ApplyOptions, 'rebuildRollups' | 'lockTimeoutS'>) {
  const migrations = await loadMigrations();
  const lockTimeout = `SET LOCAL lock_timeout = '${Math.max(1, Math.round(options.lockTimeoutS ?? 10))}s';`;
  const before = await readSchemaState(db, migrations);
  if (before.missingPipelineTables.length > 0) throw new NoPipelineTablesError(before.missingPipelineTables);
  const pending = migrations.filter((m) => m.version > before.version);
  // Migration 1 backfills the rollups itself; a rebuild is for a database that already has them.
  const rebuild = Boolean(options.rebuildRollups) && before.version >= 1;
  const script = [
    'BEGIN;',
    APPLY_LOCK,
    lockTimeout,
    PIN_SEARCH_PATH,
    PREPARE_SCHEMA,
    ...(pending.length > 0 || rebuild ? [HOLD_PIPELINE] : []),
    ...pending.flatMap((m) => [`-- migration ${m.version}: ${m.name}`, m.sql.trim(), recordSql(m, null)]),
    ...(rebuild ? [REBUILD_ROLLUPS] : []),
    ...(pending.length > 0 ? [GRANT_READERS] : []),
    'COMMIT;',
  ].join('\n');
  const result: ApplyResult = { from: before.version, to: before.version, dryRun: false, applied: [], rebuiltRollups: false, sql: script };
  return { result, pending, before, rebuild, migrations, lockTimeout };
}

export async function applyMigrations(db: pg.ClientBase, options: ApplyOptions = {}): Promise<ApplyResult> {
  if (options.dryRun) return planMigrations(db, options);
  const progress = options.progress ?? (() => undefined);
  const { result, pending, rebuild, migrations, lockTimeout } = await plan(db, options);
  if (pending.length === 0 && !rebuild) return result;
  await refuseUnsafe(db);

  const { rows } = await db.query('SELECT pg_backend_pid() AS pid');
  const pid = Number(rows[0]?.pid);
  await db.query('BEGIN');
  try {
    // First the lock between applies (waited for without a timeout: another apply ends), then
    // the table that records them, which two applies at once would otherwise both create.
    await db.query(APPLY_LOCK);
    await db.query(lockTimeout);
    await db.query(PIN_SEARCH_PATH);
    // Asked again under the lock, and once more after the schema exists: a schema eos made by
    // someone else while this apply waited for the lock must not be taken as ours.
    await refuseUnsafe(db);
    await db.query(PREPARE_SCHEMA);
    await refuseUnsafe(db);
    // Another apply may have finished while this one waited.
    const again = await readSchemaState(db, migrations);
    const todo = migrations.filter((m) => m.version > again.version);
    if (todo.length === 0 && !rebuild) {
      // It did: nothing to hold the pipeline's tables for.
      await db.query('COMMIT');
      return { ...result, to: again.version };
    }
    progress(`holding alerts and parser_metrics against writes (reads go on)…`);
    await timed(db.query(HOLD_PIPELINE));
    for (const m of todo) {
      const steps: { title: string; ms: number }[] = [];
      const started = performance.now();
      for (const [i, step] of m.steps.entries()) {
        progress(`migration ${m.version} (${m.name}) ${i + 1}/${m.steps.length}: ${step.title}`);
        const ms = await withProgress(timed(db.query(step.sql)), pid, options.watch, progress);
        steps.push({ title: step.title, ms });
      }
      const ms = Math.round(performance.now() - started);
      await db.query(recordSql(m, ms));
      result.applied.push({ version: m.version, name: m.name, ms, steps });
      result.to = m.version;
    }
    if (rebuild) {
      progress('rebuilding the rollups from the pipeline tables…');
      await withProgress(timed(db.query(REBUILD_ROLLUPS)), pid, options.watch, progress);
      result.rebuiltRollups = true;
    }
    if (todo.length > 0) await db.query(GRANT_READERS);
    await db.query('COMMIT');
  } catch (err) {
    await db.query('ROLLBACK').catch(() => undefined);
    const e = err as { code?: string; message?: string };
    if (e.code === '55P03') {
      throw new OperationFailedError(
        `could not lock alerts and parser_metrics within ${options.lockTimeoutS ?? 10}s: another session holds them (nothing was changed)`,
        'try again when the pipeline is quieter, or wait longer with --lock-timeout 60s',
      );
    }
    throw err;
  }
  return result;
}

/**
 * The rollups emptied and counted again, under the writers' fold lock (used after drift): what
 * migration 1's backfill did, by eos's names since 0004, and only PostgreSQL's own names else.
 */
const REBUILD_ROLLUPS = `SELECT pg_advisory_xact_lock(7306080, 1);
SET LOCAL search_path = pg_catalog, pg_temp;
DELETE FROM eos.alert_state_rollup;
DELETE FROM eos.failure_rollup;
DELETE FROM eos.parser_rollup;
INSERT INTO eos.alert_state_rollup (state, alerts, timed, ingest_epoch_sum)
SELECT state, count(*), count(ingest_timestamp), coalesce(sum(extract(epoch FROM ingest_timestamp)), 0)
  FROM public.alerts GROUP BY state;
INSERT INTO eos.failure_rollup
SELECT t, count(*) FROM (SELECT eos.failure_type(state, parser_success, email_error) AS t FROM public.alerts) f
 WHERE t IS NOT NULL GROUP BY t;
INSERT INTO eos.parser_rollup
SELECT prompt_type, parser_used, count(*), count(*) FILTER (WHERE success), coalesce(sum(parse_time_ms), 0)
  FROM public.parser_metrics GROUP BY prompt_type, parser_used;
RESET search_path;`;

async function timed(work: Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work;
  return Math.round(performance.now() - start);
}

/** While a step runs longer than 2 s: a line every 2 s, with an index build's progress when there is one. */
export async function withProgress(work: Promise<number>, pid: number, watch: Queryable | undefined, progress: (line: string) => void): Promise<number> {
  const start = performance.now();
  let polling = false;
  const timer = setInterval(() => {
    if (polling) return;
    polling = true;
    const seconds = Math.round((performance.now() - start) / 1000);
    void (async () => {
      let detail = '';
      if (watch) {
        const { rows } = await watch
          .query(
            `SELECT i.relname AS index, p.phase, p.blocks_done, p.blocks_total, p.tuples_done, p.tuples_total
               FROM pg_stat_progress_create_index p LEFT JOIN pg_class i ON i.oid = p.index_relid WHERE p.pid = $1`,
            [pid],
          )
          .catch(() => ({ rows: [] as Record<string, unknown>[] }));
        const r = rows[0];
        if (r) {
          const [done, total] = Number(r.blocks_total) > 0 ? [Number(r.blocks_done), Number(r.blocks_total)] : [Number(r.tuples_done), Number(r.tuples_total)];
          detail = `: ${String(r.phase)}${total > 0 ? ` ${Math.floor((100 * done) / total)} %` : ''}`;
        }
      }
      progress(`  … ${seconds} s${detail}`);
    })().finally(() => (polling = false));
  }, 2000);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}
