import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAILURES_WINDOW } from '../../src/delphi/dashboard.js';
import { LATEST_SCHEMA_VERSION } from '../../src/delphi/migrations.js';
import { loadSampleData } from '../../src/sandbox/sample-data.js';
import { runEos as runCli } from '../helpers/cli.js';
import { adminUrl, clusterInfo, freshDatabase } from '../helpers/pg.js';

/**
 * `eos delphi schema` on a Delphi database that has only the pipeline's own tables, as a real
 * site's would: the dashboard refuses it with the command to run, apply installs eos's
 * objects (granting them to whoever reads the alerts), the dashboard then works, and a second
 * apply changes nothing.
 */
describe('eos delphi schema on a pipeline-only database', () => {
  let admin: pg.Client;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let adminEnv: NodeJS.ProcessEnv;
  const reader = 'schema_reader';

  /** eos's relations with their storage ids, the migrations table and the rollups' rows: what an apply could change. */
  const fingerprint = async () =>
    (
      await admin.query(
        `SELECT (SELECT json_agg(json_build_array(relname, relfilenode, relkind) ORDER BY relname) FROM pg_class WHERE relname LIKE 'eos\\_%' OR relnamespace = to_regnamespace('eos')) AS relations,
                (SELECT json_agg(json_build_array(tgname, tgenabled) ORDER BY tgname) FROM pg_trigger WHERE tgname LIKE 'eos\\_%') AS triggers,
                (SELECT json_agg(m ORDER BY version) FROM eos.schema_migrations m) AS migrations,
                (SELECT json_agg(r ORDER BY state) FROM eos.alert_state_rollup r) AS rollup`,
      )
    ).rows[0];

  beforeAll(async () => {
    const { url, name } = await freshDatabase({ schema: true });
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await loadSampleData(admin, { alerts: 2000 });
    // A reader that may read the pipeline's tables, made before eos was installed: apply must
    // grant it eos's views too.
    await admin.query(`DROP ROLE IF EXISTS ${reader}`).catch(() => undefined);
    await admin.query(`CREATE ROLE ${reader} LOGIN PASSWORD 'Reader-pw-1'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${reader}`);
    home = mkdtempSync(path.join(tmpdir(), 'eos-schema-'));
    const { host, port, adminUser, adminPassword } = clusterInfo();
    const target = { HOME: home, DELPHI_DB_HOST: host, DELPHI_DB_PORT: String(port), DELPHI_DB_NAME: name, DELPHI_DB_SSLMODE: 'disable' };
    env = { ...target, DELPHI_DB_USER: reader, DELPHI_DB_PASSWORD: 'Reader-pw-1' };
    adminEnv = { ...target, DELPHI_DB_ADMIN_USER: adminUser, DELPHI_DB_ADMIN_PASSWORD: adminPassword };
  });
  afterAll(async () => {
    await admin?.query(`DROP OWNED BY ${reader}; DROP ROLE IF EXISTS ${reader}`).catch(() => undefined);
    await admin?.end();
    rmSync(home, { recursive: true, force: true });
  });

  it('the dashboard refuses the database in one line naming the command, exit 2', async () => {
    const once = await runCli(['delphi', 'dashboard', '--once', '--source', 'env'], { env });
    expect(once.code, once.stderr).toBe(2);
    expect(once.stderr).toMatch(/^error: this Delphi database has none of eos's objects/m);
    expect(once.stderr).toMatch(/eos delphi schema apply/);
    expect(once.stderr).not.toMatch(/relation .* does not exist/);
    const json = await runCli(['delphi', 'dashboard', '--json', '--source', 'env'], { env });
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout).error.hint).toMatch(/eos delphi schema apply/);
    const status = await runCli(['delphi', 'schema', 'status', '--json', '--source', 'env'], { env });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ version: 0, latest: LATEST_SCHEMA_VERSION, current: false, applied: [], missingPipelineTables: [] });
  });

  it('apply needs the admin password and takes it from nowhere but the environment or a prompt', async () => {
    const { DELPHI_DB_ADMIN_PASSWORD: _, ...noPassword } = adminEnv;
    const r = await runCli(['delphi', 'schema', 'apply'], { env: noPassword });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: the admin password is needed: set DELPHI_DB_ADMIN_PASSWORD$/m);
    const wrong = await runCli(['delphi', 'schema', 'apply'], { env: { ...adminEnv, DELPHI_DB_ADMIN_PASSWORD: 'Not-the-password-9' } });
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toMatch(/PostgreSQL refused the admin user/);
    expect(wrong.stderr + wrong.stdout).not.toContain('Not-the-password-9');
    expect((await admin.query(`SELECT to_regclass('eos.schema_migrations') AS t`)).rows[0].t).toBeNull();
  });

  it('--dry-run needs no admin password: it reads what is installed with the usual credentials', async () => {
    const r = await runCli(['delphi', 'schema', 'apply', '--dry-run'], { env: { ...env, VAULT_MAX_RETRIES: '0' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^-- eos delphi schema apply --dry-run on .*: version 0 → ${LATEST_SCHEMA_VERSION}$`, 'm'));
    expect(r.stdout).toContain('ALTER TABLE public.eos_alert_state_rollup SET SCHEMA eos;');
    expect(r.stderr).not.toMatch(/admin password/);
    expect((await admin.query(`SELECT to_regnamespace('eos') AS s`)).rows[0].s).toBeNull();
  });

  it('--dry-run prints the SQL and changes nothing', async () => {
    const r = await runCli(['delphi', 'schema', 'apply', '--dry-run'], { env: adminEnv });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^-- eos delphi schema apply --dry-run on .*: version 0 → ${LATEST_SCHEMA_VERSION}$`, 'm'));
    expect(r.stdout).toContain('CREATE TABLE eos_alert_state_rollup');
    expect(r.stdout).toContain('ALTER TABLE public.eos_alert_state_rollup SET SCHEMA eos;');
    expect(r.stdout).toContain('CREATE TRIGGER eos_alerts_rollup_update');
    expect(r.stdout.trim().endsWith('COMMIT;')).toBe(true);
    // The same as JSON (checked against docs/schemas/schema-apply.schema.json by runCli).
    const json = await runCli(['delphi', 'schema', 'apply', '--dry-run', '--json'], { env: adminEnv });
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ from: 0, to: LATEST_SCHEMA_VERSION, dryRun: true, changed: false, applied: [], sql: r.stdout.slice(r.stdout.indexOf('\n') + 1).trim() });
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'eos\\_%'`);
    expect(rows[0].n).toBe(0);
    expect((await admin.query(`SELECT to_regnamespace('eos') AS s`)).rows[0].s).toBeNull();
  });

  it('bad input and a PostgreSQL that is not there: one line, the documented exit code', async () => {
    const badTimeout = await runCli(['delphi', 'schema', 'apply', '--lock-timeout', 'soon'], { env: adminEnv });
    expect(badTimeout.code).toBe(2);
    expect(badTimeout.stderr).toMatch(/^error: --lock-timeout/m);
    const gone = await runCli(['delphi', 'schema', 'apply'], { env: { ...adminEnv, DELPHI_DB_PORT: '1' } });
    expect(gone.code).toBe(5);
    expect(gone.stderr).toMatch(/^error: cannot reach PostgreSQL at 127\.0\.0\.1:1: /m);
    expect(gone.stderr.trim().split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
  });

  it('apply installs every object; the dashboard then works for the reader; a second apply changes nothing', async () => {
    const first = await runCli(['delphi', 'schema', 'apply', '--json'], { env: adminEnv });
    expect(first.code, first.stderr).toBe(0);
    const result = JSON.parse(first.stdout);
    expect(result).toMatchObject({ from: 0, to: LATEST_SCHEMA_VERSION, changed: true, dryRun: false });
    expect(result.applied.map((a: { version: number }) => a.version)).toEqual(Array.from({ length: LATEST_SCHEMA_VERSION }, (_, i) => i + 1));
    expect(first.stderr).toMatch(/^migration 1 \(rollups\) \d+\/\d+: backfill the rollups/m);
    // The admin's password crosses the network: said, as set delphi-db-engine says it.
    expect(first.stderr).toMatch(/^warning: sslmode=disable: credentials and data cross the network unencrypted$/m);

    const once = await runCli(['delphi', 'dashboard', '--once', '--source', 'env'], { env });
    expect(once.code, once.stderr).toBe(0);
    expect(once.stdout).toMatch(/^new\s+\d+/m);
    const json = await runCli(['delphi', 'dashboard', '--json', '--source', 'env'], { env });
    expect(json.code, json.stderr).toBe(0);
    const snap = JSON.parse(json.stdout);
    const counts = Object.fromEntries((await admin.query(`SELECT state::text, count(*)::int AS n FROM alerts WHERE state <> 'archived' GROUP BY state`)).rows.map((r) => [r.state, r.n]));
    for (const stage of snap.flow) expect(stage.count).toBe(counts[stage.state] ?? 0);
    const failed = (await admin.query(`SELECT count(*)::int AS n FROM alerts WHERE state <> 'archived' AND (state = 'failed' OR parser_success = false OR email_error IS NOT NULL)`)).rows[0].n;
    expect(snap.failuresTotal).toBe(failed);
    expect(snap.failures).toHaveLength(Math.min(FAILURES_WINDOW, failed));
    const newest = await admin.query(`SELECT id::int FROM alerts WHERE state <> 'archived' AND (state = 'failed' OR parser_success = false OR email_error IS NOT NULL) ORDER BY ingest_timestamp DESC, id DESC LIMIT 1`);
    expect(snap.failures[0].id).toBe(newest.rows[0].id);

    const before = await fingerprint();
    const second = await runCli(['delphi', 'schema', 'apply'], { env: adminEnv });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(new RegExp(`^no changes: .* has eos schema version ${LATEST_SCHEMA_VERSION}, the current one$`, 'm'));
    expect(await fingerprint()).toEqual(before);

    const status = await runCli(['delphi', 'schema', 'status', '--source', 'env'], { env });
    expect(status.stdout).toMatch(new RegExp(`^schema\\s+version ${LATEST_SCHEMA_VERSION} of ${LATEST_SCHEMA_VERSION}: current$`, 'm'));
    const verify = await runCli(['delphi', 'schema', 'verify', '--source', 'env'], { env });
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/^✓ alerts by state: \d+ groups in the tables, \d+ rollup rows?, all equal$/m);
  });

  it('status and the dashboard notice an object dropped by hand', async () => {
    await admin.query('DROP VIEW eos.failure_summary');
    const status = await runCli(['delphi', 'schema', 'status', '--json', '--source', 'env'], { env });
    expect(JSON.parse(status.stdout)).toMatchObject({ current: false, missing: [{ kind: 'view', schema: 'eos', name: 'failure_summary', version: 2 }] });
    const once = await runCli(['delphi', 'dashboard', '--once', '--source', 'env'], { env });
    expect(once.code).toBe(2);
    expect(once.stderr).toMatch(/^error: eos objects are missing from this Delphi database: view eos.failure_summary$/m);
    // Not "run apply", which would change nothing: the file that creates it.
    // It was made in public, then moved into eos: both files.
    expect(once.stderr).toMatch(/^hint: as the database admin, run the statements that create it from \/\S+\/migrations\/0002-dashboard-views\.sql, \/\S+\/migrations\/0004-eos-schema\.sql; /m);
  });

  it('once installed, apply and status warn, with the fix, when anyone may create objects in public', async () => {
    await admin.query('GRANT CREATE ON SCHEMA public TO PUBLIC');
    try {
      const apply = await runCli(['delphi', 'schema', 'apply'], { env: adminEnv });
      expect(apply.code, apply.stderr).toBe(0);
      expect(apply.stderr).toMatch(/^warning: the schema public lets PUBLIC create objects: run REVOKE CREATE ON SCHEMA public FROM PUBLIC as the admin/m);
      const status = await runCli(['delphi', 'schema', 'status', '--source', 'env'], { env });
      expect(status.stdout).toMatch(/^warning +the schema public lets PUBLIC create objects: run REVOKE CREATE ON SCHEMA public FROM PUBLIC/m);
      const verify = await runCli(['delphi', 'schema', 'verify', '--source', 'env'], { env });
      expect(verify.stderr).toMatch(/^warning: the schema public lets PUBLIC create objects: run REVOKE CREATE ON SCHEMA public FROM PUBLIC as the admin/m);
      const json = await runCli(['delphi', 'schema', 'status', '--json', '--source', 'env'], { env });
      expect(JSON.parse(json.stdout).publicSchemaCreators).toEqual(['PUBLIC']);
    } finally {
      await admin.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
    }
    const quiet = await runCli(['delphi', 'schema', 'apply'], { env: adminEnv });
    expect(quiet.stderr).not.toMatch(/schema public/);
  });

  it('apply refuses to install while others may create in public, or own or write the schema eos, and changes nothing', async () => {
    const { name } = await freshDatabase({ schema: true });
    const other = new pg.Client({ connectionString: adminUrl(name) });
    await other.connect();
    const squatter = `squatter_${name}`;
    const apply = () => runCli(['delphi', 'schema', 'apply'], { env: { ...adminEnv, DELPHI_DB_NAME: name } });
    const untouched = async () => {
      expect((await other.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'eos\\_%'`)).rows[0].n).toBe(0);
      expect((await other.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgname LIKE 'eos\\_%'`)).rows[0].n).toBe(0);
    };
    try {
      // PostgreSQL 14's default, kept by pg_upgrade.
      await other.query('GRANT CREATE ON SCHEMA public TO PUBLIC');
      const open = await apply();
      expect(open.code).toBe(1);
      expect(open.stderr).toMatch(/^error: refusing to install: the schema public lets PUBLIC create objects, and eos's install runs there as you/m);
      expect(open.stderr).toMatch(/^hint: as the admin, run REVOKE CREATE ON SCHEMA public FROM PUBLIC; then apply again \(nothing was changed\)$/m);
      await untouched();
      expect((await other.query(`SELECT to_regnamespace('eos') AS s`)).rows[0].s).toBeNull();
      await other.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');

      // A schema eos made beforehand by someone else, to have eos install its code into it.
      await other.query(`CREATE ROLE ${squatter} NOLOGIN`);
      await other.query(`CREATE SCHEMA eos AUTHORIZATION ${squatter}`);
      const owned = await apply();
      expect(owned.code).toBe(1);
      expect(owned.stderr).toMatch(new RegExp(`^error: refusing to install: the schema eos already exists, owned by ${squatter}`, 'm'));
      await untouched();
      // Owned by the admin but writable by others: the same.
      await other.query(`ALTER SCHEMA eos OWNER TO CURRENT_USER`);
      await other.query(`GRANT CREATE ON SCHEMA eos TO ${squatter}`);
      const writable = await apply();
      expect(writable.code).toBe(1);
      expect(writable.stderr).toMatch(new RegExp(`^error: refusing to install: the schema eos lets ${squatter} create objects`, 'm'));
      await untouched();
      await other.query(`REVOKE CREATE ON SCHEMA eos FROM ${squatter}`);
      const fine = await apply();
      expect(fine.code, fine.stderr).toBe(0);
      expect((await other.query(`SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'eos'::regnamespace AND relkind = 'v'`)).rows[0].n).toBeGreaterThan(5);
    } finally {
      await other.query(`DROP SCHEMA IF EXISTS eos CASCADE`).catch(() => undefined);
      await other.end();
      const root = new pg.Client({ connectionString: adminUrl() });
      await root.connect();
      await root.query(`DROP DATABASE IF EXISTS ${name}`).catch(() => undefined);
      await root.query(`DROP ROLE IF EXISTS ${squatter}`).catch(() => undefined);
      await root.end();
    }
  });

  it('apply refuses a database without the pipeline tables and leaves it untouched', async () => {
    const { name } = await freshDatabase();
    const r = await runCli(['delphi', 'schema', 'apply'], { env: { ...adminEnv, DELPHI_DB_NAME: name } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: this database has no Delphi pipeline tables \(agents, alerts, parser_metrics missing\)/m);
    const other = new pg.Client({ connectionString: adminUrl(name) });
    await other.connect();
    try {
      expect((await other.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'eos\\_%'`)).rows[0].n).toBe(0);
      expect((await other.query(`SELECT to_regnamespace('eos') AS s`)).rows[0].s).toBeNull();
    } finally {
      await other.end();
    }
  });
});
