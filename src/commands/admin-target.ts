import { ADMIN_PASSWORD_ENV, SSL_MODES } from '../config/constants.js';
import { importEsm } from '../util/import-esm.js';
import type { DbTarget } from '../db/target.js';
import { UsageError } from '../errors.js';
import type { CommandContext } from './context.js';
import { withPrompts } from './prompts.js';

/** Where the Delphi database is, for commands that work on it as its admin. */
export const TARGET_OPTIONS = {
  host: { flags: '--host <host>', description: 'database host, or a primary and its standbys: a,b (default: the stored configuration; the admin works on the primary)' },
  port: { flags: '--port <port>', description: 'database port, or one per host' },
  database: { flags: '--database <name>', description: 'database name' },
  sslmode: { flags: '--sslmode <mode>', description: 'TLS mode', choices: SSL_MODES },
  sslrootcert: { flags: '--sslrootcert <file>', description: "the CA file that signed PostgreSQL's certificate (else PGSSLROOTCERT, the stored one, ~/.postgresql/root.crt)" },
  sslcert: { flags: '--sslcert <file>', description: 'a client certificate, for a server that asks for one (else PGSSLCERT, the stored one, ~/.postgresql/postgresql.crt)' },
  sslkey: { flags: '--sslkey <file>', description: "the client certificate's key, 0600 (else PGSSLKEY, the stored one, ~/.postgresql/postgresql.key)" },
} as const;

export interface TargetOptionValues {
  host?: string | undefined;
  port?: string | undefined;
  database?: string | undefined;
  sslmode?: (typeof SSL_MODES)[number] | undefined;
  sslrootcert?: string | undefined;
  sslcert?: string | undefined;
  sslkey?: string | undefined;
}

/**
 * The target from flags, DELPHI_DB_*, Vault KV (when Vault answers) and the config (docs/design.md §3);
 * a warning when the admin's password would cross the network in clear.
 */
export async function resolveTarget(options: TargetOptionValues, context: CommandContext): Promise<DbTarget> {
  const [{ resolveDatabaseTarget, DB_CONFIG_KV_FIELDS }, { readEosFields }] = await Promise.all([import('../db/target.js'), import('../vault/kv.js')]);
  const { config } = context.config();
  const session = await context.vault().catch(() => undefined);
  const kv = session ? await readEosFields(session.client, `${config.kv.mount}/delphi/config`, [...DB_CONFIG_KV_FIELDS]).catch(() => ({})) : {};
  const target = resolveDatabaseTarget(
    { host: options.host, port: options.port, database: options.database, sslmode: options.sslmode, sslrootcert: options.sslrootcert, sslcert: options.sslcert, sslkey: options.sslkey },
    context.io.env,
    kv,
    config,
  );
  if (target.sslmode === 'disable') context.warn('sslmode=disable: credentials and data cross the network unencrypted');
  return target;
}

/** The admin's password: $DELPHI_DB_ADMIN_PASSWORD, else a hidden prompt on a terminal (never a flag). */
export async function adminPassword(context: CommandContext, user: string): Promise<string> {
  const { io } = context;
  const fromEnv = io.env[ADMIN_PASSWORD_ENV];
  if (fromEnv) return fromEnv;
  if (!io.stdinIsTTY || !io.stdoutIsTTY) {
    throw new UsageError(`the admin password is needed: set ${ADMIN_PASSWORD_ENV}`, `e.g. read -rs ${ADMIN_PASSWORD_ENV}; export ${ADMIN_PASSWORD_ENV} (it is never taken on the command line)`);
  }
  const { password } = await importEsm('./prompts.js', () => import('@inquirer/prompts'));
  return withPrompts(io, (ctx) => password({ message: `PostgreSQL password of ${user} (hidden)`, mask: '*' }, ctx));
}
