import pg from 'pg';
import type { Config } from '../config/schema.js';
import { dbCredentials, toPgConfig, type DbCredentials } from '../db/credentials.js';
import { connectToTarget, hostsOf } from '../db/host-locator.js';
import { describeHosts, hostAddress, type HostPort } from '../db/hosts.js';
import { buildChain } from '../credentials/build-chain.js';
import { defaultsReachable, SOURCE_FACTORIES } from '../credentials/sources.js';
import { describeMount } from '../vault/kv.js';
import type { VaultSession } from '../vault/session.js';
import { databaseRoleSchema } from '../vault/responses.js';
import { VaultPermissionDeniedError } from '../vault/errors.js';
import { checkGrants, describeMissing, grantPath } from './token-grants.js';
import { postgresTls, vaultTls } from './tls-report.js';
import { publicSchemaCreators } from '../db/schema-creators.js';
import { NUM_USES_HINT, tokenUsesLeft } from '../vault/token-kind.js';
import { isLoopbackHost } from '../util/loopback.js';

/**
 * `eos self secrets test`: the whole path, end to end — Vault, token, engine, role, issue,
 * connect, read, read-only proven, renew, revoke, role gone — each step timed, each failure
 * with the hint from the seed's troubleshooting section.
 */

export interface CheckStep {
  id: string;
  title: string;
  status: 'pass' | 'fail' | 'warn' | 'skip' | 'info';
  essential: boolean;
  ms: number;
  detail?: string;
  hint?: string;
}

export interface SelfTestOptions {
  config: Config;
  env: NodeJS.ProcessEnv;
  role?: string;
  home?: string;
}

class StepFailed extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** Default privileges granted to each lease's role, with nothing in revocation to undo them. */
export function defaultPrivilegesProblem(creation: string[], revocation: string[]): string | undefined {
  const grants = creation.some((s) => /ALTER\s+DEFAULT\s+PRIVILEGES[\s\S]*GRANT[\s\S]*TO\s+"?\{\{(name|username)\}\}/i.test(s));
  const undone = revocation.some((s) => /ALTER\s+DEFAULT\s+PRIVILEGES[\s\S]*REVOKE/i.test(s));
  if (!grants || undone) return undefined;
  return revocation.length === 0
    ? "the creation statements grant default privileges to each lease's role and the revocation is Vault's default: revoking fails with 2BP01 and every lease leaves its role behind"
    : "the creation statements grant default privileges to each lease's role and the revocation statements never revoke them: DROP ROLE will fail with 2BP01";
}

const FIX_HINT = 'run eos self secrets set delphi-db-engine --apply (group roles), or --statements seed for the seed\'s grants with a revocation that undoes them';

export async function runSelfTest(options: SelfTestOptions): Promise<CheckStep[]> {
  const steps: CheckStep[] = [];
  const { config } = options;
  const mount = config.engine.mount;
  const role = options.role ?? config.engine.role;
  // One Vault session for every step: the chain's, which the sources use too.
  const chain = buildChain({ config, env: options.env, role, home: options.home });
  let session: VaultSession | undefined;
  let creds: DbCredentials | undefined;
  let client: pg.Client | undefined;
  let revoked = false;
  /** With several hosts: a session of the test login on each other host, to see whether the revocation ends it. */
  const otherSessions: { host: HostPort; client: pg.Client }[] = [];
  let stopped = false;

  async function step(id: string, title: string, run: () => Promise<string | { status: CheckStep['status']; detail: string; hint?: string }>, essential = true): Promise<void> {
    if (stopped) {
      steps.push({ id, title, status: 'skip', essential, ms: 0 });
      return;
    }
    const start = performance.now();
    try {
      const result = await run();
      const r = typeof result === 'string' ? { status: 'pass' as const, detail: result } : result;
      steps.push({ id, title, essential, ms: Math.round(performance.now() - start), ...r });
    } catch (err) {
      const e = err as Error & { hint?: string };
      steps.push({ id, title, status: 'fail', essential, ms: Math.round(performance.now() - start), detail: e.message, hint: e.hint });
      if (essential) stopped = true;
    }
  }

  await step('vault', 'Vault reachable and unsealed', async () => {
    session = await chain.vault();
    const health = await session.client.health();
    return `${session.settings.address}, version ${health.version}${health.standby ? ' (standby)' : ''}`;
  });
  await step('token', 'token valid', async () => {
    const info = await (session as VaultSession).client.lookupSelf();
    const detail = `from ${session?.auth.source}; policies ${info.policies.join(', ')}; ${info.ttl === 0 ? 'no expiry' : `TTL ${info.ttl} s${info.renewable ? ', renewable' : ''}`}`;
    const uses = tokenUsesLeft(info);
    if (uses !== undefined) return { status: 'warn', detail: `${detail}; ${uses} use(s) left`, hint: NUM_USES_HINT };
    if (info.type === 'batch') return { status: 'warn', detail: `${detail}; a batch token`, hint: 'a batch token is never renewed: every lease it takes ends with it; use a service token (or AppRole, which logs in again) for a long-running eos' };
    return detail;
  });
  await step('grants', 'token may get and keep credentials', async () => {
    const grants = await checkGrants((session as VaultSession).client, { mount, role, workerRole: config.engine.workerRole });
    if ('unknown' in grants) return { status: 'warn', detail: `${grants.unknown}; the next steps will tell` };
    const missing = grants.filter((g) => !g.ok);
    const essential = missing.find((g) => g.essential);
    if (essential) throw new StepFailed(describeMissing(essential), `eos self secrets set delphi-db-engine --apply writes ${essential.policy}; bind it to the token or its AppRole role (token_policies)`);
    if (missing.length > 0) {
      return { status: 'warn', detail: `${missing.map(describeMissing).join('; ')} (leases would be left to expire)`, hint: `attach policy ${missing[0]?.policy}` };
    }
    return grants.map((g) => `${g.needs} ${grantPath(g)}`).join(', ');
  });
  await step('engine', 'database engine mounted', async () => {
    const m = await describeMount((session as VaultSession).client, `${mount}/`);
    if (m.type !== 'database') throw new StepFailed(`${mount}/ is ${m.type === 'kv' && m.version === 1 ? 'not mounted' : `a ${m.type} engine`}`, 'enable it: eos self secrets set delphi-db-engine --apply (vault secrets list shows the mounts)');
    return `${mount}/`;
  });
  await step('role', `role ${role} exists`, async () => {
    const r = await (session as VaultSession).client.read(`${mount}/roles/${role}`, databaseRoleSchema).catch((err: Error) => {
      // Least privilege: a run-time token need not read the role; issuing (next) proves it exists.
      if (err instanceof VaultPermissionDeniedError) return null;
      throw new StepFailed(`${mount}/roles/${role}: ${err.message}`, 'create it: eos self secrets set delphi-db-engine --apply');
    });
    if (r === null) return { status: 'info', detail: `not readable by this token (not needed to run; an admin token shows the statements)` };
    const data = r.data;
    if (!data) throw new StepFailed(`${mount}/roles/${role} is empty`, FIX_HINT);
    const detail = `db ${data.db_name}, TTL ${data.default_ttl} s, max ${data.max_ttl} s`;
    const problem = defaultPrivilegesProblem(data.creation_statements ?? [], data.revocation_statements ?? []);
    return problem ? { status: 'warn', detail: `${detail}; ${problem}`, hint: FIX_HINT } : detail;
  });
  await step('issue', 'credentials issued', async () => {
    creds = await SOURCE_FACTORIES.dynamic(chain.context).obtain().catch((err: Error) => {
      throw new StepFailed(`failed to get dynamic credentials: ${err.message}`, `check the role and the connection: vault read ${mount}/creds/${role}; the Vault server must reach PostgreSQL`);
    });
    return `${creds.user}, lease ${creds.lease?.duration} s`;
  });
  await step('connect', 'PostgreSQL reachable with them', async () => {
    const start = performance.now();
    // Several hosts: the one target_session_attrs picks (the primary unless set otherwise).
    const located = await connectToTarget(creds as DbCredentials, { application: 'eos-test' }).catch((err: Error & { code?: string }) => {
      const where = describeHosts(hostsOf(creds as DbCredentials));
      throw new StepFailed(`PostgreSQL connection failed at ${where}: ${err.message}`, 'check network reachability and that PostgreSQL listens there (listen_addresses in postgresql.conf, a pg_hba.conf line for this host)');
    });
    client = located.client;
    creds = located.credentials;
    const c = creds;
    const ms = Math.round(performance.now() - start);
    const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    const others = hostsOf(c).filter((h) => h.host !== c.host || h.port !== c.port);
    if (others.length === 0) return `PostgreSQL ${rows[0]?.v} at ${c.host}:${c.port}/${c.database}, login in ${ms} ms`;
    // The other hosts, each with the same login (waiting out replay), kept open for the revocation check.
    const seen: string[] = [];
    const problems: string[] = [];
    for (const other of others) {
      const alone = dbCredentials({ ...c, password: c.password, host: other.host, port: other.port, hosts: undefined });
      let session = await connectToTarget(alone, { want: 'any', application: 'eos-test' }).catch((err: Error & { code?: string }) => err);
      if (session instanceof Error && (session as { code?: string }).code === '28P01') {
        // Refused: a standby that has not replayed the new login yet is waited for, told from a
        // wrong password by the primary beside it (host-locator.ts).
        session = await connectToTarget(dbCredentials({ ...c, password: c.password, hosts: [other, { host: c.host, port: c.port }] }), { want: 'standby', application: 'eos-test' }).catch((err: Error) => err);
      }
      if (session instanceof Error) {
        const code = (session as { code?: string }).code;
        problems.push(`${hostAddress(other)} ${code && /^E[A-Z]+$/.test(code) ? `unreachable (${code})` : session.message.split('\n')[0]}`);
        continue;
      }
      if (session.credentials.host === c.host && session.credentials.port === c.port) {
        await session.client.end().catch(() => undefined);
        continue;
      }
      const { rows: recovery } = await session.client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      const standby = recovery[0]?.r === true;
      otherSessions.push({ host: other, client: session.client });
      (standby ? seen : problems).push(`${hostAddress(other)} ${standby ? '(standby)' : 'is a primary too'}`);
    }
    const detail = `PostgreSQL ${rows[0]?.v} at ${c.host}:${c.port}/${c.database} (${located.standby ? 'standby' : 'primary'}), login in ${ms} ms; ${[...seen, ...problems].join(', ')}`;
    if (problems.length === 0) return detail;
    return {
      status: 'warn',
      detail,
      hint: seen.length === 0 ? 'no standby answers: the site has no server to fail over to until one is back (or rebuilt from the new primary)' : 'a listed host does not answer as a standby: check it, or take it off the list (set delphi-db-config --host)',
    };
  });
  await step(
    'tls',
    'TLS on the connections to Vault and PostgreSQL',
    async () => {
      const c = creds as DbCredentials;
      const settings = (session as VaultSession).settings;
      const [vault, postgres] = await Promise.all([vaultTls(settings), postgresTls(client as pg.Client, c.sslmode)]);
      // On this machine nothing crosses a network: said, not warned.
      const concerns = [
        vault.concern && !isLoopbackHost(new URL(settings.address).hostname) ? `Vault: ${vault.concern}` : undefined,
        postgres.concern && !isLoopbackHost(c.host) ? `PostgreSQL: ${postgres.concern}` : undefined,
      ].filter((x): x is string => x !== undefined);
      const detail = `Vault ${vault.detail}; PostgreSQL ${postgres.detail}`;
      if (concerns.length === 0) return detail;
      return {
        status: 'warn',
        detail: `${detail}. ${concerns.join('; ')}`,
        hint: 'https:// with VAULT_CACERT for Vault; sslmode=verify-full with --sslrootcert for PostgreSQL (eos self secrets set delphi-db-config)',
      };
    },
    false,
  );
  await step('select', 'SELECT works', async () => {
    const c = client as pg.Client;
    const { rows } = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`);
    const hasAlerts = (await c.query(`SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = 'alerts'`)).rows.length > 0;
    if (!hasAlerts) return `${rows[0]?.n} table(s) in public; no alerts table (apply the Delphi schema)`;
    const alerts = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM alerts');
    return `alerts: ${alerts.rows[0]?.n} row(s)`;
  });
  // The worker role writes alerts; every other role only reads. Neither may change the schema.
  const writer = role === config.engine.workerRole;
  await step('access', writer ? 'writes alerts, no DDL (worker role)' : 'a write is refused (read-only proven)', async () => {
    const c = client as pg.Client;
    const refused = (sql: string) =>
      c.query('SAVEPOINT probe').then(() =>
        c.query(sql).then(
          async () => (await c.query('RELEASE SAVEPOINT probe'), false),
          async (err: { code?: string }) => (await c.query('ROLLBACK TO SAVEPOINT probe'), err.code === '42501'),
        ),
      );
    await c.query('BEGIN');
    try {
      const hasAlerts = (await c.query(`SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = 'alerts'`)).rows.length > 0;
      // Privileges are checked even when no row moves: these write nothing, and it is all rolled back.
      const write = hasAlerts ? 'INSERT INTO alerts SELECT * FROM alerts WHERE false' : `INSERT INTO agents (id, name, registered) VALUES ('eos-self-test', 'eos-self-test', now())`;
      const what = hasAlerts ? 'INSERT into alerts' : 'INSERT into agents';
      // Only the admin and eos's triggers write eos's tables: a role that may would forge the
      // dashboard's numbers. Asked of the catalog, so nothing is written (older installs kept
      // them in public as eos_*).
      const { rows: eosWritable } = await c.query<{ name: string }>(
        `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE (n.nspname = 'eos' OR (n.nspname = 'public' AND c.relname LIKE 'eos\\_%')) AND c.relkind IN ('r', 'p', 'v', 'm')
            AND (has_any_column_privilege(c.oid, 'INSERT') OR has_any_column_privilege(c.oid, 'UPDATE') OR has_table_privilege(c.oid, 'DELETE')
                 OR has_table_privilege(c.oid, 'TRUNCATE')
                 -- MAINTAIN (PostgreSQL 17) lets a role LOCK a rollup and stall every pipeline write.
                 OR (current_setting('server_version_num')::int >= 170000 AND has_table_privilege(c.oid, 'MAINTAIN')))
          ORDER BY 1`,
      );
      if (eosWritable.length > 0) {
        throw new StepFailed(
          `${creds?.user} may write eos's own tables (${eosWritable.map((r) => r.name).join(', ')}): it could forge what the dashboard shows`,
          "as the database admin, run eos delphi schema apply (eos's tables go to the schema eos, written by nobody else), then set delphi-db-engine --apply again",
        );
      }
      const creators = await publicSchemaCreators(c);
      const openPublic = (detail: string) =>
        creators.length === 0
          ? detail
          : {
              status: 'warn' as const,
              detail: `${detail}; but the schema public lets ${creators.join(', ')} create objects, where a login can plant code for others to run`,
              hint: `as the database admin: REVOKE CREATE ON SCHEMA public FROM ${creators.join(', ')}`,
            };
      // Probed after the catalog checks, so the probe's own table is not taken for eos's.
      const writeRefused = await refused(write);
      const ddlRefused = await refused('CREATE TABLE public.eos_self_test_probe (x int)');
      const ddlHint = (fallback: string) => (creators.length > 0 ? `as the database admin: REVOKE CREATE ON SCHEMA public FROM ${creators.join(', ')}` : fallback);
      if (writer) {
        if (writeRefused) throw new StepFailed(`${creds?.user} may not write (${what} refused with 42501)`, `the worker role ${role} must write alerts: re-apply the worker group role (eos self secrets set delphi-db-engine --apply)`);
        if (!ddlRefused) throw new StepFailed(`${creds?.user} may change the schema (CREATE TABLE succeeded, rolled back)`, ddlHint(`the worker role ${role} should not own or create objects: check its creation statements`));
        return openPublic(`${what} allowed, CREATE TABLE refused with 42501, inside a rolled-back transaction; eos's tables read-only`);
      }
      if (!writeRefused || !ddlRefused) {
        throw new StepFailed(`${creds?.user} could write (${!writeRefused ? what : 'CREATE TABLE'} succeeded, rolled back)`, writeRefused ? ddlHint(`the role ${role} is not read-only: check its creation statements and the group role's grants`) : `the role ${role} is not read-only: check its creation statements and the group role's grants`);
      }
      return openPublic(`${what} and CREATE TABLE refused with 42501, inside a rolled-back transaction; eos's tables read-only`);
    } finally {
      await c.query('ROLLBACK').catch(() => undefined);
    }
  });
  await step('renew', 'lease renews', async () => {
    const lease = creds?.lease;
    if (!lease) throw new StepFailed('no lease to renew');
    const r = await (session as VaultSession).client.renewLease(lease.id, lease.duration);
    return `${r.lease_duration} s${r.warnings?.length ? ` (${r.warnings[0]})` : ''}`;
  });
  await step('revoke', 'lease revoked', async () => {
    const lease = creds?.lease;
    if (!lease) throw new StepFailed('no lease to revoke');
    try {
      await (session as VaultSession).client.revokeLease(lease.id);
    } catch (err) {
      const text = (err as Error).message;
      const leftBehind = /2BP01|cannot be dropped because some objects depend on it/.test(text);
      throw new StepFailed(
        leftBehind
          ? `revocation failed: PostgreSQL refused to drop ${creds?.user} (2BP01: default privileges depend on it) — the role was left behind, and every lease will leave one`
          : `revocation failed: ${text}`,
        FIX_HINT,
      );
    }
    revoked = true;
    return 'revoked (sync)';
  });
  await step('role-gone', 'the role no longer exists', async () => {
    const c = creds as DbCredentials;
    // Asked on the session still open; a revocation that ends sessions proves it by a refused login.
    try {
      const { rows } = await (client as pg.Client).query('SELECT 1 FROM pg_roles WHERE rolname = $1', [c.user]);
      if (rows.length > 0) throw new StepFailed(`${c.user} still exists in pg_roles after the revocation`, FIX_HINT);
      return `${c.user} is gone from pg_roles (asked on the still-open session)`;
    } catch (err) {
      if (err instanceof StepFailed) throw err;
    }
    const again = new pg.Client({ ...toPgConfig(c), connectionTimeoutMillis: 10_000 });
    const refused = await again.connect().then(
      async () => (await again.end(), null),
      (err: { code?: string }) => err.code ?? 'error',
    );
    if (refused === null) throw new StepFailed(`${c.user} can still log in after the revocation`, FIX_HINT);
    return `the revocation ended its session, and a new login is refused (${refused})`;
  });
  if (otherSessions.length > 0) {
    await step('standby-sessions', 'revoked sessions ended on the other hosts', async () => {
      // Vault's revocation statements run on the primary: pg_terminate_backend there does not reach
      // a standby, where a session of the dropped role lives on until it disconnects.
      const survived: string[] = [];
      for (const o of otherSessions) {
        const alive = await o.client.query('SELECT 1').then(
          () => true,
          () => false,
        );
        if (alive) survived.push(hostAddress(o.host));
      }
      if (survived.length === 0) return `ended on ${otherSessions.map((o) => hostAddress(o.host)).join(', ')}`;
      // PostgreSQL's way, on every site with a standby (eos ends its own): said, not warned.
      return {
        status: 'info',
        detail: `a session of the revoked ${creds?.user} survived on ${survived.join(', ')}: revocation statements run on the primary only`,
        hint: "eos ends its own sessions when it rotates; for other clients, end them on each standby (pg_terminate_backend) or keep connections short (docs/security.md)",
      };
    }, false);
  }
  stopped = false;
  await step(
    'fallbacks',
    'fallback sources available',
    async () => {
      const found: string[] = [];
      const missing: string[] = [];
      for (const name of config.credentials.sources.filter((s) => s !== 'dynamic')) {
        if (name === 'defaults') {
          const { reachable, reason } = await defaultsReachable();
          (reachable ? found : missing).push(`defaults: ${reason}`);
          continue;
        }
        await SOURCE_FACTORIES[name](chain.context)
          .obtain()
          .then(
            () => found.push(name),
            (err: Error) => missing.push(`${name}: ${err.message}`),
          );
      }
      return { status: 'info', detail: `${found.length > 0 ? `available: ${found.join(', ')}` : 'none'}${missing.length > 0 ? `; not available: ${missing.join('; ')}` : ''}` };
    },
    false,
  );

  // Whatever failed, nothing this test issued is left alive.
  await client?.end().catch(() => undefined);
  for (const o of otherSessions) await o.client.end().catch(() => undefined);
  if (creds?.lease && !revoked) await session?.client.revokeLease(creds.lease.id).catch(() => undefined);
  session?.client.close();
  return steps;
}
