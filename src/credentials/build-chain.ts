import type { Logger } from 'pino';
import type { Config, CredentialSourceName } from '../config/schema.js';
import { DB_CONFIG_KV_FIELDS, resolveDatabaseTarget, type DbTarget, type TargetFlags } from '../db/target.js';
import { systemClock, type Clock } from '../util/clock.js';
import { readEosFields } from '../vault/kv.js';
import { openVaultSession, type VaultSession } from '../vault/session.js';
import { CredentialChain } from './chain.js';
import { SOURCE_FACTORIES, type SourceContext } from './sources.js';

/**
 * The chain of credential sources for a configuration, with the one Vault session and the one
 * database target they share (each opened on first use). `status` uses it to say what would
 * serve without issuing anything; `holdCredentials` to get credentials and keep them.
 */

export interface ChainOptions {
  config: Config;
  env: NodeJS.ProcessEnv;
  /** Overrides credentials.sources (the --source flag). */
  sources?: CredentialSourceName[];
  /** The Vault role (default: the config's engine.role). */
  role?: string;
  target?: TargetFlags;
  clock?: Clock;
  log?: Logger;
  warn?: (message: string) => void;
  /** Name written to the lease state file, e.g. "delphi dashboard". */
  command?: string;
  home?: string;
}

/** The pieces of the chain, also used by `status` to say what it would pick without issuing. */
export function buildChain(options: ChainOptions) {
  const clock = options.clock ?? systemClock;
  const warn = options.warn ?? (() => undefined);
  let session: Promise<VaultSession> | undefined;
  const vault = () => {
    // Opened once; a failure is not cached, so a later attempt (a recovery) tries again.
    session ??= openVaultSession({ config: options.config, env: options.env, home: options.home, warn }).catch((err: unknown) => {
      session = undefined;
      throw err;
    });
    return session;
  };
  let target: Promise<DbTarget> | undefined;
  const resolveTarget = () => {
    target ??= (async () => {
      let kv: Record<string, string> = {};
      try {
        const { client } = await vault();
        kv = await readEosFields(client, `${options.config.kv.mount}/delphi/config`, [...DB_CONFIG_KV_FIELDS]);
      } catch {
        // Vault cannot say where the database is: the environment, the file or defaults do.
      }
      return resolveDatabaseTarget(options.target ?? {}, options.env, kv, options.config);
    })();
    return target;
  };
  const context: SourceContext = {
    env: options.env,
    clock,
    vault: async () => (await vault()).client,
    target: resolveTarget,
    kvMount: options.config.kv.mount,
    engineMount: options.config.engine.mount,
    role: options.role ?? options.config.engine.role,
    warn,
  };
  const names = options.sources ?? options.config.credentials.sources;
  const sources = names.map((name) => SOURCE_FACTORIES[name](context));
  return { chain: new CredentialChain(sources, clock), vault, resolveTarget, context, clock };
}

