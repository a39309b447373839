import { loadConfig, type LoadedConfig } from '../config/load.js';
import type { LogLevel } from '../config/schema.js';
import { createLogger, type Logger } from '../log.js';
import type { IO } from './io.js';

export type { IO } from './io.js';

/** Options that every command accepts (declared on the root program). */
export interface GlobalOptions {
  config?: string | undefined;
  logFile?: string | undefined;
  logLevel?: LogLevel | undefined;
  debug?: boolean | undefined;
}

/** What a command's run function receives besides its own options. */
export interface CommandContext {
  io: IO;
  globals: GlobalOptions;
  /** The configuration, read and validated on first use. */
  config(): LoadedConfig;
  /** The log, opened on first use (so commands that never log never create a file). */
  logger(): Logger;
}

export function createContext(io: IO, globals: GlobalOptions): CommandContext {
  let loaded: LoadedConfig | undefined;
  let log: Logger | undefined;
  const context: CommandContext = {
    io,
    globals,
    config() {
      loaded ??= loadConfig({ flag: globals.config, env: io.env });
      return loaded;
    },
    logger() {
      log ??= createLogger({
        file: globals.logFile,
        level: globals.logLevel,
        configFile: context.config().config.log.file,
        configLevel: context.config().config.log.level,
        env: io.env,
      });
      return log;
    },
  };
  return context;
}
