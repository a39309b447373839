import { describeHosts } from '../db/hosts.js';
import type { DbTarget } from '../db/target.js';
import type { CommandContext } from './context.js';
import { writeJson } from './output.js';
import { defineCommand, JSON_OPTION } from './spec.js';

/** `eos self config show`: the configuration in force and where each Vault setting came from. */
export default defineCommand({
  path: ['self', 'config', 'show'],
  description: 'print the configuration in force: the file used, Vault settings and where each came from',
  options: { json: JSON_OPTION },
  examples: ['eos self config show', 'eos --config /etc/eos/config.json self config show --json'],
  async run(options, context) {
    const [{ resolveVaultSettings }, { resolveLogFile, resolveLogLevel }] = await Promise.all([import('../config/vault-settings.js'), import('../log.js')]);
    const { io, globals } = context;
    const { config, location, fromFile } = context.config();
    const vault = resolveVaultSettings({}, io.env, config);
    // The target in force, as every command resolves it: the environment, Vault KV (when Vault
    // answers within a few seconds: this is a look, not a wait), the file, the defaults.
    const target = await targetInForce(context);
    const logTarget = { file: globals.logFile, level: globals.logLevel, configFile: config.log.file, configLevel: config.log.level, env: io.env };

    const report = {
      file: { path: location.path, origin: location.origin, present: fromFile },
      vault: {
        address: vault.address,
        auth: vault.auth,
        // Whether a token was given, never the token.
        token: vault.token === undefined ? null : 'set',
        caCert: vault.caCert ?? null,
        caPath: vault.caPath ?? null,
        clientCert: vault.clientCert ?? null,
        tlsSkipVerify: vault.tlsSkipVerify,
        tlsServerName: vault.tlsServerName ?? null,
        namespace: vault.namespace ?? null,
        timeoutSeconds: vault.timeoutSeconds,
        maxRetries: vault.maxRetries,
        origins: vault.origins,
      },
      kv: config.kv,
      database: config.database,
      target: { host: target.host, port: target.port, hosts: target.hosts, targetSessionAttrs: target.targetSessionAttrs, database: target.database, sslmode: target.sslmode, sslrootcert: target.sslrootcert ?? null, sslcert: target.sslcert ?? null, sslkey: target.sslkey ?? null, origins: target.origins, kvRead: target.kvRead },
      engine: config.engine,
      credentials: config.credentials,
      log: { file: resolveLogFile(logTarget), level: resolveLogLevel(logTarget) },
    };

    if (options.json) {
      writeJson(io, report);
      return 0;
    }
    const o = vault.origins;
    const { describeIdentityTokenSource } = await import('../vault/identity-token.js');
    const auth =
      vault.auth.method === 'approle'
        ? `approle (role ${vault.auth.roleId}, secret-id file ${vault.auth.secretIdFile})`
        : vault.auth.method === 'jwt'
          ? `jwt (role ${vault.auth.role} at auth/${vault.auth.mount}/, identity token from ${describeIdentityTokenSource(vault.auth.identityToken)})`
          : vault.auth.method;
    const t = target.origins;
    const lines: [string, string][] = [
      ['config file', `${location.path} (${location.origin}${fromFile ? '' : '; no file, defaults in force'})`],
      ['vault address', `${vault.address} (${o.address})`],
      ['vault auth', `${auth} (${o.auth})`],
      ['vault token', vault.token === undefined ? 'not given by flag or VAULT_TOKEN' : `set (${o.token})`],
      ['tls', vault.tlsSkipVerify ? 'verification SKIPPED' : vault.caCert ? `verify with CA ${vault.caCert}` : 'verify with system CAs'],
      ['namespace', vault.namespace ?? '-'],
      ['kv mount', config.kv.mount],
      [
        'database',
        `${describeHosts(target.hosts)}/${target.database} sslmode=${target.sslmode}${target.hosts.length > 1 ? ` target_session_attrs=${target.targetSessionAttrs}` : ''}${(['sslrootcert', 'sslcert', 'sslkey'] as const).map((k) => (target[k] ? ` ${k}=${target[k]}` : '')).join('')} ` +
          `(host from ${t.host}, port from ${t.port}, name from ${t.database}, sslmode from ${t.sslmode}${target.kvRead ? '' : `; Vault KV not read: ${target.kvWhy}`})`,
      ],
      ['engine', `${config.engine.mount}/creds/${config.engine.role} (worker ${config.engine.workerRole}, connection ${config.engine.connection})`],
      ['sources', `${config.credentials.sources.join(' → ')}, renew at ${Math.round(config.credentials.renewAt * 100)} %`],
      ['log', `${report.log.file} (${report.log.level})`],
    ];
    const width = Math.max(...lines.map(([k]) => k.length));
    for (const [key, value] of lines) io.stdout.write(`${key.padEnd(width)}  ${value}\n`);
    return 0;
  },
});

/** The database target with the origin of each field; Vault KV asked for at most 3 s. */
async function targetInForce(context: CommandContext): Promise<DbTarget & { kvRead: boolean; kvWhy?: string }> {
  const [{ resolveDatabaseTarget, DB_CONFIG_KV_FIELDS }, { readEosFields }] = await Promise.all([import('../db/target.js'), import('../vault/kv.js')]);
  const { config } = context.config();
  let kv: Record<string, string> = {};
  let kvWhy: string | undefined;
  const read = (async () => {
    const session = await context.vault();
    return readEosFields(session.client, `${config.kv.mount}/delphi/config`, [...DB_CONFIG_KV_FIELDS]);
  })();
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 3000).unref());
  try {
    const answer = await Promise.race([read, timeout]);
    if (answer === 'timeout') kvWhy = 'no answer within 3 s';
    else kv = answer;
  } catch (err) {
    kvWhy = err instanceof Error ? err.message : String(err);
  }
  read.catch(() => undefined);
  const target = resolveDatabaseTarget({}, context.io.env, kv, config);
  return { ...target, kvRead: kvWhy === undefined, ...(kvWhy ? { kvWhy } : {}) };
}
