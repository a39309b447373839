import { homeOf } from './util/home.js';
import { checkLogFile } from './util/log-file.js';
import { accessSync, constants, mkdirSync } from 'node:fs';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { LOG_LEVELS, type LogLevel } from './config/schema.js';
import { quoted, UsageError } from './errors.js';
import { redact, redactString } from './redact.js';

/**
 * pino JSON lines with redaction applied to every record before it is written. pino's own
 * `redact` only knows fixed paths; secrets also hide inside strings (a DSN in an error message),
 * so every record is walked and scrubbed by redact.ts instead.
 */

export interface LogTarget {
  file?: string | undefined;
  level?: LogLevel | undefined;
  configFile?: string | undefined;
  configLevel?: LogLevel | undefined;
  env: NodeJS.ProcessEnv;
  home?: string;
}

const SYSTEM_LOG_DIR = '/var/log/eos';

/**
 * --log-file / EOS_LOG_FILE / the config's log.file, else /var/log/eos/eos.log when that directory exists and is
 * writable (an operator or package made it), else $XDG_STATE_HOME/eos/eos.log.
 */
export function resolveLogFile(target: LogTarget): string {
  if (target.file) return path.resolve(target.file);
  if (target.env.EOS_LOG_FILE) return path.resolve(target.env.EOS_LOG_FILE);
  if (target.configFile) return path.resolve(target.configFile);
  try {
    accessSync(SYSTEM_LOG_DIR, constants.W_OK);
    return path.join(SYSTEM_LOG_DIR, 'eos.log');
  } catch {
    const state = target.env.XDG_STATE_HOME;
    const base = state && path.isAbsolute(state) ? state : path.join(target.home ?? homeOf(target.env), '.local', 'state');
    return path.join(base, 'eos', 'eos.log');
  }
}

export function resolveLogLevel(target: LogTarget): LogLevel {
  if (target.level) return target.level;
  const fromEnv = target.env.EOS_LOG_LEVEL;
  if (fromEnv === undefined || fromEnv === '') return target.configLevel ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(fromEnv)) {
    throw new UsageError(`EOS_LOG_LEVEL=${quoted(fromEnv)} is not a log level`, `use one of ${LOG_LEVELS.join(', ')}`);
  }
  return fromEnv as LogLevel;
}

export type { Logger };

export function createLogger(target: LogTarget): Logger {
  const file = resolveLogFile(target);
  checkLogFile(file, target.file ? '--log-file' : target.env.EOS_LOG_FILE ? 'EOS_LOG_FILE' : target.configFile ? "the config's log.file" : 'the default');
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const destination = pino.destination({ dest: file, sync: true, mkdir: true, mode: 0o600 } as Parameters<typeof pino.destination>[0]);
  return pino(
    {
      level: resolveLogLevel(target),
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (record) => redact(record) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a) => (typeof a === 'string' ? redactString(a) : a)) as Parameters<typeof method>);
        },
      },
    },
    destination,
  );
}
