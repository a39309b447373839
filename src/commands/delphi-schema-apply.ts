import { describeHosts, formatHostList } from '../db/hosts.js';
import { ADMIN_PASSWORD_ENV } from '../config/constants.js';
import type { ApplyResult } from '../delphi/schema-migrator.js';
import { adminPassword, resolveTarget, TARGET_OPTIONS } from './admin-target.js';
import type { CommandContext } from './context.js';
import { durationOption, MAX_WAIT_SECONDS } from './duration-option.js';
import { writeJson } from './output.js';
import { defineCommand, JSON_OPTION } from './spec.js';

/** `eos delphi schema apply`: installs or updates eos's objects in the Delphi database, as its admin. */
export default defineCommand({
  path: ['delphi', 'schema', 'apply'],
  description: "install or update eos's objects (the dashboard's views, indexes and rollups) in the Delphi database, as its admin; never changes the pipeline's data",
  options: {
    dryRun: { flags: '--dry-run', description: 'print the SQL that would run, and change nothing' },
    rebuildRollups: { flags: '--rebuild-rollups', description: 'count the rollups again from the pipeline tables (after verify found drift)' },
    lockTimeout: { flags: '--lock-timeout <duration>', description: 'how long to wait for the pipeline tables before giving up', default: '10s' },
    adminUser: { flags: '--admin-user <role>', description: 'PostgreSQL admin (default: $DELPHI_DB_ADMIN_USER, else postgres); its password comes from $DELPHI_DB_ADMIN_PASSWORD or a hidden prompt' },
    ...TARGET_OPTIONS,
    json: JSON_OPTION,
  },
  examples: [
    'eos delphi schema apply --dry-run > eos-schema.sql',
    'read -rs DELPHI_DB_ADMIN_PASSWORD; export DELPHI_DB_ADMIN_PASSWORD; eos delphi schema apply',
    'eos delphi schema apply --rebuild-rollups',
  ],
  async run(options, context) {
    const lockTimeoutS = durationOption('--lock-timeout', options.lockTimeout, 1, MAX_WAIT_SECONDS);
    const [{ applyMigrations, planMigrations, openPublicWarning }, { connectAdmin }, { classifyDatabaseError }, { publicSchemaCreators }] = await Promise.all([
      import('../delphi/schema-migrator.js'),
      import('../db/admin-session.js'),
      import('../db/errors.js'),
      import('../db/schema-creators.js'),
    ]);
    const { io } = context;
    const target = await resolveTarget(options, context);
    const where = `${describeHosts(target.hosts)}/${target.database}`;
    // A dry run only reads what is installed: without the admin password it reads with the
    // usual credentials (a reader's lease is enough), so the SQL can be printed for a DBA first.
    if (options.dryRun && !io.env[ADMIN_PASSWORD_ENV]) {
      const db = await context.database({
        command: 'delphi schema apply --dry-run',
        // The target resolved above (flags included), whatever credentials come with it.
        env: {
          ...io.env,
          // The whole list: the dry run reads wherever the target says (a standby will do).
          DELPHI_DB_HOST: formatHostList(target.hosts).host,
          DELPHI_DB_PORT: formatHostList(target.hosts).port,
          ...(target.hosts.length > 1 ? { DELPHI_DB_TARGET_SESSION_ATTRS: target.targetSessionAttrs } : {}),
          DELPHI_DB_NAME: target.database,
          DELPHI_DB_SSLMODE: target.sslmode,
          ...(target.sslrootcert ? { DELPHI_DB_SSLROOTCERT: target.sslrootcert } : {}),
          ...(target.sslcert ? { DELPHI_DB_SSLCERT: target.sslcert } : {}),
          ...(target.sslkey ? { DELPHI_DB_SSLKEY: target.sslkey } : {}),
        },
      });
      const result = await planMigrations(db.pool, { rebuildRollups: Boolean(options.rebuildRollups), lockTimeoutS });
      const open = openPublicWarning(await publicSchemaCreators(db.pool));
      if (open) context.warn(open);
      // Named by where it was read: static credentials (KV, PG_DSN) carry a host of their own.
      const read = db.pool.credentials;
      printResult(result, `${read.host}:${read.port}/${read.database}`, options.json === true, context);
      return 0;
    }
    const user = options.adminUser ?? io.env.DELPHI_DB_ADMIN_USER ?? 'postgres';
    const password = await adminPassword(context, user);
    const admin = await connectAdmin(target, user, password, 'eos-schema');
    // A second session only watches: an index build's progress is visible from outside it.
    const watch = options.dryRun ? undefined : await connectAdmin(target, user, password, 'eos-schema-progress').catch(() => undefined);
    try {
      const result = await applyMigrations(admin, {
        dryRun: Boolean(options.dryRun),
        rebuildRollups: Boolean(options.rebuildRollups),
        lockTimeoutS,
        watch,
        progress: (l) => io.stderr.write(`${l}\n`),
      });
      const changed = result.applied.length > 0 || result.rebuiltRollups;
      const open = openPublicWarning(await publicSchemaCreators(admin));
      if (open) context.warn(open);
      (await context.logger()).info({ database: where, from: result.from, to: result.to, rebuiltRollups: result.rebuiltRollups, dryRun: result.dryRun, changed }, 'eos schema applied');
      printResult(result, where, options.json === true, context);
      return 0;
    } catch (err) {
      // The admin's own sessions, not the context's database: a lost connection mid-apply is
      // the database's failure, named with where it was.
      throw classifyDatabaseError(err, { where });
    } finally {
      await admin.end().catch(() => undefined);
      await watch?.end().catch(() => undefined);
    }
  },
});

/** What an apply did, or would do (the SQL of a dry run), as text or JSON. */
function printResult(result: ApplyResult, where: string, json: boolean, context: CommandContext): void {
  const { io } = context;
  const changed = result.applied.length > 0 || result.rebuiltRollups;
  if (json) {
    const { sql, ...rest } = result;
    writeJson(io, { ...rest, database: where, changed, ...(result.dryRun ? { sql } : {}) });
  } else if (result.dryRun) {
    io.stdout.write(`-- eos delphi schema apply --dry-run on ${where}: version ${result.from} → ${result.to}\n${result.sql}\n`);
  } else if (!changed) {
    io.stdout.write(`no changes: ${where} has eos schema version ${result.to}, the current one\n`);
  } else {
    const ms = result.applied.reduce((n, a) => n + a.ms, 0);
    if (result.applied.length > 0) io.stdout.write(`applied ${result.applied.length} migration${result.applied.length === 1 ? '' : 's'} to ${where} in ${(ms / 1000).toFixed(1)} s: schema version ${result.from} → ${result.to}\n`);
    if (result.rebuiltRollups) io.stdout.write('rebuilt the rollups from the pipeline tables\n');
  }
}
