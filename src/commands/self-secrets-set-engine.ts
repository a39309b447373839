import { ADMIN_PASSWORD_ENV } from '../config/constants.js';
import { adminPassword, resolveTarget, TARGET_OPTIONS } from './admin-target.js';
import { UsageError } from '../errors.js';
import { durationOption } from './duration-option.js';
import { writeJson } from './output.js';
import { defineCommand, JSON_OPTION } from './spec.js';

/** `eos self secrets set delphi-db-engine`: print the set-up, or perform it with --apply. */
export default defineCommand({
  path: ['self', 'secrets', 'set', 'delphi-db-engine'],
  description: 'the database secrets engine set-up and its least-privilege policies: printed as commands, or performed with --apply',
  options: {
    apply: { flags: '--apply', description: 'perform it through the Vault API and an admin session (idempotent)' },
    dryRun: { flags: '--dry-run', description: 'with --apply semantics, show what would change without changing it' },
    statements: { flags: '--statements <style>', description: "group: per-lease members of group roles; seed: the seed's grants with revocation that works", choices: ['group', 'seed'], default: 'group' },
    mount: { flags: '--mount <path>', description: 'engine mount (default: engine.mount in the config, database)' },
    connection: { flags: '--connection <name>', description: 'connection name (default: engine.connection in the config, delphi-postgresql)' },
    role: { flags: '--role <name>', description: 'read-only Vault role (default: engine.role in the config, delphi-readonly)' },
    workerRole: { flags: '--worker-role <name>', description: 'worker Vault role (default: engine.workerRole in the config, delphi-worker)' },
    group: { flags: '--group <role>', description: 'PostgreSQL group role for readers', default: 'delphi_readonly' },
    workerGroup: { flags: '--worker-group <role>', description: 'PostgreSQL group role for workers', default: 'delphi_worker' },
    defaultTtl: { flags: '--default-ttl <duration>', description: 'credential TTL (default: an existing role keeps its own; a new one gets 1h)' },
    maxTtl: { flags: '--max-ttl <duration>', description: 'credential max TTL (default: an existing role keeps its own; a new one gets 24h)' },
    vaultSslrootcert: { flags: '--vault-sslrootcert <path>', description: "the CA file Vault's PostgreSQL plugin verifies the server with: a path on the Vault host, put in the connection's URL (default: keep what the connection has)" },
    vaultSslcert: { flags: '--vault-sslcert <path>', description: "a client certificate Vault's plugin presents, for a server that asks for one: a path on the Vault host" },
    vaultSslkey: { flags: '--vault-sslkey <path>', description: "that certificate's key, a path on the Vault host" },
    adminUser: { flags: '--admin-user <role>', description: `PostgreSQL admin Vault connects as (default: $DELPHI_DB_ADMIN_USER, else postgres); its password comes from $${ADMIN_PASSWORD_ENV} or a hidden prompt` },
    ...TARGET_OPTIONS,
    json: JSON_OPTION,
  },
  examples: [
    'eos self secrets set delphi-db-engine > engine-setup.sh',
    `read -rs ${ADMIN_PASSWORD_ENV}; export ${ADMIN_PASSWORD_ENV}; eos self secrets set delphi-db-engine --apply --dry-run`,
    'eos self secrets set delphi-db-engine --apply --default-ttl 1h --max-ttl 24h',
  ],
  async run(options, context) {
    const [{ describeMount }, { buildEnginePlan, renderCommands }] = await Promise.all([import('../vault/kv.js'), import('../setup/engine-plan.js')]);
    const { io } = context;
    const { config } = context.config();

    // Vault is needed to apply; to print, it is asked only where the database is (KV), if it answers.
    const session = await context.vault().catch((err: unknown) => {
      if (options.apply) throw err;
      return undefined;
    });
    const [target, kvVersion, vaultClusterId] = await Promise.all([
      resolveTarget(options, context),
      // The KV version decides the paths in the policies; without Vault, v2 (the common default).
      session ? describeMount(session.client, `${config.kv.mount}/`).then((m) => m.version, () => 2 as const) : (2 as const),
      // Which Vault makes the users, for the marker the audit's --fix recognises them by.
      // Printing, a Vault that does not say goes without (the commands say so); applying, it is an error.
      session ? session.client.health().then((h) => h.cluster_id, (err: unknown) => (options.apply ? Promise.reject(err) : undefined)) : undefined,
    ]);
    const plan = buildEnginePlan({
      target,
      mount: options.mount ?? config.engine.mount,
      connection: options.connection ?? config.engine.connection,
      adminUser: options.adminUser ?? io.env.DELPHI_DB_ADMIN_USER ?? 'postgres',
      style: options.statements,
      pluginTls: { sslrootcert: options.vaultSslrootcert, sslcert: options.vaultSslcert, sslkey: options.vaultSslkey },
      defaultTtl: options.defaultTtl === undefined ? undefined : durationOption('--default-ttl', options.defaultTtl),
      maxTtl: options.maxTtl === undefined ? undefined : durationOption('--max-ttl', options.maxTtl),
      roles: [
        { name: options.role ?? config.engine.role, group: options.group, access: 'read' },
        { name: options.workerRole ?? config.engine.workerRole, group: options.workerGroup, access: 'write' },
      ],
      kv: { mount: config.kv.mount, version: kvVersion },
      vaultClusterId,
      vaultNamespace: session?.settings.namespace,
    });

    if (!options.apply && !options.dryRun) {
      if (options.json) writeJson(io, { plan: { sql: plan.sql, connection: plan.connection, roles: plan.roles, policies: plan.policies }, applied: false });
      else io.stdout.write(renderCommands(plan));
      return 0;
    }
    if (!session) throw new UsageError('--apply needs Vault', 'run eos self secrets configure first');
    const { applyWithAdmin } = await import('../setup/engine-apply.js');
    const password = await adminPassword(context, plan.setup.adminUser);
    const steps = await applyWithAdmin(plan, session.client, password, Boolean(options.dryRun));
    const changed = steps.filter((s) => s.status !== 'unchanged' && s.status !== 'checked');
    (await context.logger()).info({ mount: plan.setup.mount, changed: changed.map((s) => s.step), dryRun: Boolean(options.dryRun) }, 'database engine set up');
    if (options.json) writeJson(io, { steps, changed: changed.length, dryRun: Boolean(options.dryRun) });
    else {
      for (const step of steps) io.stdout.write(`${step.status === 'unchanged' || step.status === 'checked' ? '✓' : '•'} ${step.step}: ${step.status}${step.detail ? ` (${step.detail})` : ''}\n`);
      io.stdout.write(changed.length === 0 ? 'no changes: the engine is already set up\n' : `${changed.length} change${changed.length > 1 ? 's' : ''}${options.dryRun ? ' would be made (dry run)' : ' made'}\n`);
    }
    return 0;
  },
});
