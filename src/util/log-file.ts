import { statSync } from 'node:fs';
import path from 'node:path';
import { quoted, UsageError } from '../errors.js';

/**
 * Refuses a log file eos could never write, before any work (exit 2): a directory, or a path
 * under something that is not a directory. A missing directory is fine: it is created, 0700.
 * `origin` names where the path came from (--log-file, EOS_LOG_FILE, the config's log.file).
 */
export function checkLogFile(file: string, origin: string): void {
  const absolute = path.resolve(file);
  const stat = statOf(absolute);
  if (stat?.isDirectory()) throw new UsageError(`the log file ${quoted(file)} (from ${origin}) is a directory`, 'name a file, e.g. --log-file /var/log/eos/eos.log');
  for (let dir = path.dirname(absolute); ; dir = path.dirname(dir)) {
    const parent = statOf(dir);
    if (parent && !parent.isDirectory()) {
      throw new UsageError(`the log file ${quoted(file)} (from ${origin}) cannot be created: ${dir} is not a directory`, 'name a file in a directory, e.g. --log-file /var/log/eos/eos.log');
    }
    if (parent || dir === path.dirname(dir)) return;
  }
}

function statOf(p: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}
