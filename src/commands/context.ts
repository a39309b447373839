import type { TargetSessionAttrs } from '../config/constants.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { onLastResort } from './last-resort.js';
import type { Config, LogLevel } from '../config/schema.js';
import type { CredentialSourceName } from '../config/constants.js';
import type { Database, OpenDatabaseOptions } from '../credentials/open-database.js';
import { systemClock, type Clock } from '../util/clock.js';
import { EosError } from '../errors.js';
import type { Logger } from '../log.js';
import type { SessionOptions, VaultSession } from '../vault/session.js';
import type { IO } from './io.js';
import { interruptController, type Interrupt } from './interrupt.js';

export type { IO } from './io.js';

/** Options that every command accepts (declared on the root program). */
export interface GlobalOptions {
  config?: string | undefined;
  logFile?: string | undefined;
  logLevel?: LogLevel | undefined;
  debug?: boolean | undefined;
}

export interface DatabaseRequest {
  /** Overrides credentials.sources (the --source flag). */
  sources?: CredentialSourceName[] | undefined;
  /** The Vault role (default: the config's engine.role). */
  role?: string | undefined;
  /** Written to the lease state file, e.g. "delphi dashboard". */
  command: string;
  /** Another configuration and environment than the command's own (the dashboard's sandbox). */
  config?: Config;
  env?: NodeJS.ProcessEnv;
  /** Which of several hosts the pool's sessions go to (the dashboard's --read-from). */
  want?: TargetSessionAttrs | undefined;
}

/**
 * What a context builds by default, each replaceable: a test drives a command in-process with a
 * fake clock, a Vault session or a database of its own (gh's factory, in small).
 */
export interface ContextDeps {
  clock?: Clock;
  /** SIGINT/SIGTERM (the CLI's process handler; a test's own, which it fires). */
  interrupt?: Interrupt;
  openVaultSession?: (options: SessionOptions) => Promise<VaultSession>;
  openDatabase?: (options: OpenDatabaseOptions) => Promise<Database>;
}

/**
 * What a run function receives besides its own options: the streams, the global options, and
 * what commands would otherwise each build by hand — all opened on first use, and whatever was
 * opened is closed by `close()` when the command ends (the CLI calls it), in the right order.
 */
export interface CommandContext {
  io: IO;
  globals: GlobalOptions;
  /** Time and timers for whatever the run times (the system clock unless a test gives one). */
  clock: Clock;
  /** The run's SIGINT/SIGTERM (never fires in a run given none). */
  interrupt: Interrupt;
  /**
   * The configuration, read and validated on first use. A command that writes the file passes
   * `creating`, so a file named by --config or EOS_CONFIG may not exist yet.
   */
  config(options?: { creating?: boolean }): LoadedConfig;
  /** The log, opened on first use (so commands that never log neither create a file nor load pino). */
  logger(): Promise<Logger>;
  /** One `warning: …` line on stderr. */
  warn(message: string): void;
  /** An authenticated Vault session from the configuration and environment. */
  vault(): Promise<VaultSession>;
  /** The Delphi database over rotating credentials (chain, keeper, pool). */
  database(request: DatabaseRequest): Promise<Database>;
  /**
   * A failure as the user should read it — the one place that does this, for every command (the
   * CLI calls it on whatever a run throws): a PostgreSQL failure as the user's error with its exit
   * code, led by the credential source the chain skipped (docs/design.md §4); a 403 from a token
   * that is gone as an expired token. eos's own errors and anything else pass unchanged.
   */
  userError(err: unknown): Promise<unknown>;
  /** Ends the pool, then revokes its lease; closes the Vault session. Safe to call twice. */
  close(): Promise<void>;
}

export function createContext(io: IO, globals: GlobalOptions, deps: ContextDeps = {}): CommandContext {
  let loaded: LoadedConfig | undefined;
  let log: Promise<Logger> | undefined;
  let session: Promise<VaultSession> | undefined;
  let database: Promise<Database> | undefined;
  // Kept after close() (a failure is explained after the command's own clean-up has run).
  let closed = false;
  // If the process dies of an uncaught error, what this run opened is still closed (the lease revoked).
  const undoLastResort = onLastResort(() => context.close());
  const context: CommandContext = {
    io,
    globals,
    clock: deps.clock ?? systemClock,
    interrupt: deps.interrupt ?? interruptController(),
    config(options = {}) {
      loaded ??= loadConfig({ flag: globals.config, env: io.env, creating: options.creating });
      return loaded;
    },
    logger() {
      log ??= import('../log.js').then(({ createLogger }) =>
        createLogger({
          file: globals.logFile,
          level: globals.logLevel,
          configFile: context.config().config.log.file,
          configLevel: context.config().config.log.level,
          env: io.env,
        }),
      );
      return log;
    },
    warn(message) {
      io.stderr.write(`warning: ${message}\n`);
    },
    vault() {
      // Nothing new is opened once the run is closing (a signal cut it off mid-way).
      if (closed) return Promise.reject(new Error('the command is ending: no new Vault session'));
      // Imported here: commands that never talk to Vault (config show) never load its client.
      const open = deps.openVaultSession ?? ((options: SessionOptions) => import('../vault/session.js').then(({ openVaultSession }) => openVaultSession(options)));
      session ??= Promise.resolve().then(() => open({ config: context.config().config, env: io.env, warn: context.warn }));
      return session;
    },
    database(request) {
      if (closed) return Promise.reject(new Error('the command is ending: no new database'));
      const open = deps.openDatabase ?? ((options: OpenDatabaseOptions) => import('../credentials/open-database.js').then(({ openDatabase }) => openDatabase(options)));
      database ??= context.logger().then((logger) =>
        open({
          config: request.config ?? context.config().config,
          env: request.env ?? io.env,
          sources: request.sources,
          role: request.role,
          command: request.command,
          want: request.want,
          log: logger,
          warn: context.warn,
          clock: context.clock,
        }),
      );
      return database;
    },
    async userError(err) {
      const [db, vault] = await Promise.all([database?.catch(() => undefined), session?.catch(() => undefined)]);
      let explained = err;
      if (db) explained = db.userError(err);
      else if (!(err instanceof EosError)) {
        // Without a database of the context's, only an error PostgreSQL sent (an admin session's)
        // is the database's: a refused connection elsewhere is not PostgreSQL's to explain.
        const { classifyDatabaseError, isPostgresError } = await import('../db/errors.js');
        if (isPostgresError(err)) explained = classifyDatabaseError(err);
      }
      if (!vault) return explained;
      const { explainDenied } = await import('../vault/auth.js');
      return explainDenied(vault.client, explained, (explained as { path?: string }).path);
    },
    async close() {
      if (closed) return;
      closed = true;
      undoLastResort();
      const work = (async () => {
        const [db, vault] = await Promise.all([database?.catch(() => undefined), session?.catch(() => undefined)]);
        await db?.close();
        vault?.client.close();
      })();
      // Interrupted, the clean-up gets half a second: a Vault or PostgreSQL that has not answered
      // cannot answer a revocation either (Vault ends the lease at its TTL), and a signal must
      // end the command.
      if (!context.interrupt.received) return work;
      await Promise.race([work, new Promise((resolve) => setTimeout(resolve, 500).unref())]);
    },
  };
  return context;
}
