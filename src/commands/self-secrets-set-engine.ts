import { UsageError } from '../errors.js';
import { resolveDatabaseTarget } from '../db/target.js';
import type { SslMode } from '../config/schema.js';
import { parseDurationSeconds } from '../util/duration.js';
import { readEosFields } from '../vault/kv.js';
import { applyWithAdmin } from '../setup/engine-apply.js';
import { ADMIN_PASSWORD_ENV, buildEnginePlan, renderCommands, type StatementStyle } from '../setup/engine-plan.js';
import { openVaultSession, type VaultSession } from '../vault/session.js';
import type { CommandContext } from './context.js';
import { writeJson } from './output.js';

export interface SetEngineOptions {
  apply?: boolean;
  dryRun?: boolean;
  statements: string;
  mount?: string;
  connection?: string;
  role?: string;
  workerRole?: string;
  group: string;
  workerGroup: string;
  defaultTtl: string;
  maxTtl: string;
  adminUser?: string;
  host?: string;
  port?: string;
  database?: string;
  sslmode?: string;
  json?: boolean;
}

/** `eos self secrets set delphi-db-engine`: print the set-up, or perform it with --apply. */
export async function run(options: SetEngineOptions, context: CommandContext): Promise<number> {
  const { io } = context;
  const { config } = context.config();
  if (options.statements !== 'group' && options.statements !== 'seed') throw new UsageError(`--statements "${options.statements}" is not known`, 'use group (the default) or seed');
  const ttl = (text: string, flag: string) => {
    const seconds = parseDurationSeconds(text);
    if (seconds === undefined) throw new UsageError(`${flag} "${text}" is not a duration`, 'e.g. 1h, 30m or 3600');
    return Math.floor(seconds);
  };
  const warn = (m: string) => io.stderr.write(`warning: ${m}\n`);

  // Vault is needed to apply; to print, it is asked only where the database is (KV), if it answers.
  let session: VaultSession | undefined;
  try {
    session = await openVaultSession({ config: config, env: io.env, warn });
  } catch (err) {
    if (options.apply) throw err;
  }
  try {
    let kv: Record<string, string> = {};
    if (session) kv = await readEosFields(session.client, `${config.kv.mount}/delphi/config`, ['host', 'port', 'database', 'sslmode']).catch(() => ({}));
    const target = resolveDatabaseTarget(
      { host: options.host, port: options.port === undefined ? undefined : Number(options.port), database: options.database, sslmode: options.sslmode as SslMode | undefined },
      io.env,
      kv,
      config,
    );
    if (target.sslmode === 'disable') warn('sslmode=disable: credentials and data cross the network unencrypted');
    const plan = buildEnginePlan({
      target,
      mount: options.mount ?? config.engine.mount,
      connection: options.connection ?? config.engine.connection,
      adminUser: options.adminUser ?? io.env.DELPHI_DB_ADMIN_USER ?? 'postgres',
      style: options.statements as StatementStyle,
      defaultTtl: ttl(options.defaultTtl, '--default-ttl'),
      maxTtl: ttl(options.maxTtl, '--max-ttl'),
      roles: [
        { name: options.role ?? config.engine.role, group: options.group, access: 'read' },
        { name: options.workerRole ?? config.engine.workerRole, group: options.workerGroup, access: 'write' },
      ],
    });

    if (!options.apply && !options.dryRun) {
      if (options.json) writeJson(io, { plan: { sql: plan.sql, connection: plan.connection, roles: plan.roles }, applied: false });
      else io.stdout.write(renderCommands(plan));
      return 0;
    }
    if (!session) throw new UsageError('--apply needs Vault', 'run eos self secrets configure first');
    const password = io.env[ADMIN_PASSWORD_ENV] ?? (await askPassword(context, plan.setup.adminUser));
    const steps = await applyWithAdmin(plan, session.client, password, Boolean(options.dryRun));
    const changed = steps.filter((s) => s.status !== 'unchanged' && s.status !== 'checked');
    context.logger().info({ mount: plan.setup.mount, changed: changed.map((s) => s.step), dryRun: Boolean(options.dryRun) }, 'database engine set up');
    if (options.json) writeJson(io, { steps, changed: changed.length, dryRun: Boolean(options.dryRun) });
    else {
      for (const step of steps) io.stdout.write(`${step.status === 'unchanged' || step.status === 'checked' ? '✓' : '•'} ${step.step}: ${step.status}${step.detail ? ` (${step.detail})` : ''}\n`);
      io.stdout.write(changed.length === 0 ? 'no changes: the engine is already set up\n' : `${changed.length} change${changed.length > 1 ? 's' : ''}${options.dryRun ? ' would be made (dry run)' : ' made'}\n`);
    }
    return 0;
  } finally {
    session?.client.close();
  }
}

async function askPassword(context: CommandContext, user: string): Promise<string> {
  const { io } = context;
  if (!io.stdinIsTTY || !io.stdoutIsTTY) {
    throw new UsageError(`the admin password is needed: set ${ADMIN_PASSWORD_ENV}`, `e.g. read -rs ${ADMIN_PASSWORD_ENV}; export ${ADMIN_PASSWORD_ENV} (it is never taken on the command line)`);
  }
  const { password } = await import('@inquirer/prompts');
  return password({ message: `PostgreSQL password of ${user} (hidden)`, mask: '*' }, { input: io.stdin, output: io.stdout });
}
