import { BlockList, isIP } from 'node:net';
import { checkRoleName } from '../config/vault-names.js';
import { escapeControl, PermissionDeniedError, quoted, UsageError } from '../errors.js';
import { adminPassword, resolveTarget, TARGET_OPTIONS } from './admin-target.js';
import { durationOption } from './duration-option.js';
import { writeJson } from './output.js';
import { defineCommand, JSON_OPTION } from './spec.js';

/**
 * `eos self secrets audit`: Vault's leases and the database's dynamic roles and sessions,
 * reconciled (src/setup/audit.ts). Exit 0 when clean, 1 on findings, for cron and CI.
 */
export default defineCommand({
  path: ['self', 'secrets', 'audit'],
  description: "what Vault and the database say about dynamic credentials, reconciled: orphan and expired roles, stale sessions, leases without a role, privileges beyond the group, password logging",
  options: {
    role: { flags: '--role <names>', description: 'Vault roles to audit, comma-separated (default: engine.role and engine.workerRole in the config)' },
    allowCidr: { flags: '--allow-cidr <cidrs>', description: 'comma-separated networks sessions of dynamic users may come from (e.g. 10.0.0.0/8); others are findings' },
    fix: { flags: '--fix', description: 'drop orphan and expired roles, end stale sessions, revoke leases without a role (as the admin), printing each step' },
    dryRun: { flags: '--dry-run', description: 'with --fix: print the steps only' },
    vaultAuditLog: { flags: '--vault-audit-log <file>', description: "a Vault/OpenBao file audit log this host can read: each role's credential requests by token accessor and address, refusals and errors" },
    pgLog: { flags: '--pg-log <file>', description: "a jsonlog (.json) or csvlog (.csv) file of the server: failed logins (28P01) and refused privileges (42501) of Vault's users, by role and address" },
    since: { flags: '--since <duration>', description: 'with --vault-audit-log or --pg-log: only the last such time (e.g. 24h)' },
    adminUser: { flags: '--admin-user <role>', description: 'PostgreSQL login that reads the catalogs (pg_monitor is enough without --fix; the admin for --fix; default: $DELPHI_DB_ADMIN_USER, else postgres); its password from $DELPHI_DB_ADMIN_PASSWORD or a hidden prompt' },
    ...TARGET_OPTIONS,
    json: JSON_OPTION,
  },
  examples: ['eos self secrets audit --json --allow-cidr 10.0.0.0/8', 'eos self secrets audit --vault-audit-log /var/log/vault/audit.log --since 24h', 'eos self secrets audit --fix --dry-run'],
  async run(options, context) {
    // A spec is light (program.ts loads every one): what the run needs comes when it runs.
    const [audit, { connectAdmin }, { classifyDatabaseError }, { VaultPermissionDeniedError, VaultTokenExpiredError }, { AUDITOR_POLICY }] = await Promise.all([
      import('../setup/audit.js'),
      import('../db/admin-session.js'),
      import('../db/errors.js'),
      import('../vault/errors.js'),
      import('../setup/policies.js'),
    ]);
    const { io } = context;
    if (options.dryRun && !options.fix) throw new UsageError('--dry-run goes with --fix', 'eos self secrets audit --fix --dry-run prints what --fix would do');
    const { config } = context.config();
    const roles = (options.role ?? `${config.engine.role},${config.engine.workerRole}`)
      .split(',')
      .map((r) => r.trim())
      .filter((r) => r !== '')
      .map((r) => checkRoleName(r, '--role'));
    const allow = options.allowCidr === undefined ? undefined : cidrList(options.allowCidr);
    if (options.since !== undefined && options.vaultAuditLog === undefined && options.pgLog === undefined) throw new UsageError('--since goes with --vault-audit-log or --pg-log', 'e.g. --vault-audit-log /var/log/vault/audit.log --since 24h');
    const sinceS = options.since === undefined ? undefined : durationOption('--since', options.since, 1, 10 * 365 * 86_400);
    const sinceMs = sinceS === undefined ? undefined : Date.now() - sinceS * 1000;
    const auditLog = options.vaultAuditLog === undefined ? undefined : await (await import('../setup/vault-audit-log.js')).summariseAuditLog(options.vaultAuditLog, { mount: config.engine.mount, roles, since: sinceMs });
    const pgLog = options.pgLog === undefined ? undefined : await (await import('../setup/postgres-log.js')).summarisePostgresLog(options.pgLog, { since: sinceMs });
    const target = await resolveTarget(options, context);
    const session = await context.vault();
    const user = options.adminUser ?? io.env.DELPHI_DB_ADMIN_USER ?? 'postgres';
    const password = await adminPassword(context, user);
    // Every host on its own: a standby's sessions are its own, and revocations do not reach them.
    const hosts = target.hosts.length > 0 ? target.hosts : [{ host: target.host, port: target.port }];
    const clients = new Map<string, Awaited<ReturnType<typeof connectAdmin>>>();
    try {
      for (const h of hosts) {
        const name = `${h.host}:${h.port}`;
        clients.set(name, await connectAdmin({ ...target, host: h.host, port: h.port, hosts: [h] }, user, password, 'eos-audit'));
      }
      const engine = { mount: config.engine.mount, connection: config.engine.connection, roles, namespace: session.settings.namespace };
      // One look at both sides; expiry judged by the primary's clock, not this host's.
      const look = async () => {
        const vaultSide = await audit.gatherVaultSide(session.client, engine).catch((err: unknown) => {
          // The reader's or worker's token (the sandbox's VAULT_TOKEN is a reader's) cannot list leases or read roles.
          if (err instanceof VaultPermissionDeniedError && !(err instanceof VaultTokenExpiredError)) {
            throw new VaultPermissionDeniedError(err.path, err.errors, err.message, `the audit runs with a token that has the ${AUDITOR_POLICY} policy (set delphi-db-engine --apply writes it): VAULT_TOKEN, or configure --auth`);
          }
          throw err;
        });
        const databases = [];
        for (const [name, client] of clients) {
          databases.push(
            await audit.gatherDatabaseSide(client, name).catch((err: unknown) => {
              throw classifyDatabaseError(err, { user, where: name });
            }),
          );
        }
        // The primary first: its roles are the ones Vault made (a standby's may lag behind).
        databases.sort((a, b) => Number(a.inRecovery) - Number(b.inRecovery));
        return { vaultSide, databases, findings: audit.auditFindings(vaultSide, databases, databases[0]?.serverNow ?? Date.now(), { allowCidr: allow }) };
      };
      const first = await look();
      const { vaultSide, databases } = first;
      let findings = first.findings;
      let steps: { step: string; ok: boolean; error?: string }[] | undefined;
      // --fix with a login that may not do its steps: the report, then this error (exit 4).
      let refused: PermissionDeniedError | undefined;
      if (options.fix) {
        // Only what a second look still sees: a lease issued or renewed between the Vault read and
        // the database read makes a role look orphaned for a moment, never twice the same way.
        const plan = audit.fixPlan(audit.confirmedFindings(findings, (await look()).findings));
        const describe = audit.fixStepText;
        if (options.dryRun) steps = plan.map((s) => ({ step: describe(s), ok: true }));
        else {
          // Dropping roles and ending others' sessions needs the admin, on each host a step would
          // run on: checked before any step runs (a pg_monitor login audits, and would fail at
          // every step after the report said it would act). Lease revocations need no such login.
          for (const host of new Set(plan.flatMap((step) => (step.kind === 'sql' ? [step.host] : [])))) {
            const may = await audit.mayFix(clients.get(host) as NonNullable<ReturnType<typeof clients.get>>).catch((err: unknown) => {
              throw classifyDatabaseError(err, { user, where: host });
            });
            if (!may) {
              refused = new PermissionDeniedError(`--fix needs the admin: ${user} on ${host} may not drop roles and end other users' sessions`, 'run --fix as a superuser, or a login with CREATEROLE and pg_signal_backend: --admin-user (or DELPHI_DB_ADMIN_USER) and its password; without --fix a pg_monitor login audits');
              break;
            }
          }
        }
        if (!options.dryRun && !refused) {
          // Each step printed as it is done (stderr: stdout is the report): a failure later still leaves the record.
          const results = await audit.applyFixPlan(plan, {
            admin: (host) => clients.get(host),
            vault: session.client,
            onStep: (r) => io.stderr.write(`${escapeControl(`${r.ok ? 'done' : 'FAILED'}: ${describe(r.step)}${r.error ? ` — ${r.error}` : ''}`)}\n`),
          });
          steps = results.map((r) => ({ step: describe(r.step), ok: r.ok, ...(r.error ? { error: r.error } : {}) }));
          // What is left after the fix, as a new audit sees it.
          findings = (await look()).findings;
        }
      }
      if (refused && options.json) throw refused;
      if (options.json) {
        writeJson(io, {
          clean: findings.length === 0,
          leases: vaultSide.leases,
          databases: databases.map((d) => ({ host: d.host, standby: d.inRecovery, logDestination: d.logDestination, roles: d.roles, sessions: d.sessions })),
          findings,
          ...(steps ? { fix: { dryRun: Boolean(options.dryRun), steps } } : {}),
          ...(auditLog ? { vaultAuditLog: auditLog } : {}),
          ...(pgLog ? { postgresLog: pgLog } : {}),
        });
      } else {
        // Role, application and log names are anyone's to choose (a login attempt is enough for the
        // log): each line as text, control characters escaped, so none can forge or hide a line.
        const say = (line: string) => io.stdout.write(`${escapeControl(line)}\n`);
        say(`${vaultSide.leases.length} lease(s) in Vault (${roles.join(', ')}); ${databases.map((d) => `${d.host}${d.inRecovery ? ' (standby)' : ''}: ${d.roles.length} dynamic role(s), ${d.sessions.length} session(s)`).join('; ')}`);
        if (auditLog) {
          say(`Vault audit log ${auditLog.file}${auditLog.since ? ` since ${auditLog.since}` : ''}: ${auditLog.entries} entries${auditLog.unreadable ? `, ${auditLog.unreadable} unreadable line(s)` : ''}`);
          for (const r of auditLog.roles) say(`  ${r.role}: ${r.requests} request(s), ${r.issued} issued, ${r.refused} refused, ${r.errors} error(s); ${r.byAccessor.length} token(s), from ${r.byAddress.map((a) => `${a.address} (${a.requests})`).join(', ') || '-'}`);
          for (const f of auditLog.refusals) say(`  refused ${f.time} ${f.path} from ${f.address ?? '-'} (token ${f.accessor ?? '-'}): ${f.error}`);
        }
        if (!pgLog) {
          // What --pg-log could read on each host, or how to make the server write it.
          for (const d of databases) {
            const readable = d.logDestination.collector && /jsonlog|csvlog/.test(d.logDestination.destinations);
            const format = d.logDestination.destinations.includes('jsonlog') ? 'jsonlog' : 'csvlog';
            say(
              readable
                ? `PostgreSQL log of ${d.host} not read: give --pg-log with its ${format} file (SELECT pg_current_logfile('${format}')) to count failed logins`
                : `PostgreSQL log of ${d.host} not readable for failed logins: it writes ${d.logDestination.destinations}${d.logDestination.collector ? '' : ' without the logging collector'}; set log_destination = 'jsonlog' and logging_collector = on`,
            );
          }
        }
        if (pgLog) {
          say(`PostgreSQL log ${pgLog.file} (${pgLog.format})${pgLog.since ? ` since ${pgLog.since}` : ''}: ${pgLog.lines} line(s)${pgLog.refusals.length === 0 ? ', no refusal of a dynamic user' : ''}`);
          for (const r of pgLog.refusals) say(`  ${r.code === '28P01' ? 'failed login' : 'permission denied'} ×${r.count} ${r.role} from ${r.address ?? 'a local socket'} (${r.first} … ${r.last})`);
        }
        // What --fix did, in the report too (stderr had each step as it ran).
        for (const s of steps ?? []) say(`${options.dryRun ? 'would run' : s.ok ? 'did' : 'FAILED'}: ${s.step}${s.error ? ` — ${s.error}` : ''}`);
        for (const f of findings) {
          say(`${f.severity.toUpperCase()} ${f.kind} ${f.subject}${f.host ? ` on ${f.host}` : ''}: ${f.evidence}`);
          say(`    fix: ${f.fix}`);
        }
        say(findings.length === 0 ? 'clean: every dynamic role has its lease, and nothing more' : `${findings.length} finding(s)`);
      }
      if (refused) throw refused;
      return findings.length === 0 ? 0 : 1;
    } finally {
      for (const client of clients.values()) await client.end().catch(() => undefined);
    }
  },
});

/** `10.0.0.0/8,192.168.1.0/24` as a membership test; a bad entry is one usage error. */
function cidrList(text: string): (addr: string) => boolean {
  const list = new BlockList();
  for (const entry of text.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const [net = '', bits = ''] = entry.split('/');
    const family = isIP(net);
    const prefix = Number(bits);
    if (family === 0 || !/^\d+$/.test(bits) || prefix > (family === 4 ? 32 : 128)) {
      throw new UsageError(`--allow-cidr ${quoted(entry)} is not a network`, 'e.g. --allow-cidr 10.0.0.0/8,fd00::/8');
    }
    list.addSubnet(net, prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
  return (addr) => list.check(addr, isIP(addr) === 6 ? 'ipv6' : 'ipv4');
}
