import { DatabaseUnreachableError, isEosError } from '../errors.js';
import { openDatabase, type Database } from '../credentials/open-database.js';
import { DashboardModel } from '../delphi/dashboard.js';
import { overviewText } from '../delphi/text-frame.js';
import { parseDurationSeconds } from '../util/duration.js';
import { UsageError } from '../errors.js';
import type { Config } from '../config/schema.js';
import type { CommandContext } from './context.js';
import { writeJson } from './output.js';
import { parseSources } from './source-option.js';

export interface DashboardOptions {
  interval: string;
  once?: boolean;
  json?: boolean;
  source?: string;
  sandbox?: boolean;
  ttl?: string;
  maxTtl?: string;
}

/** A connection error before any data: the database is unreachable (exit 5). */
function databaseError(err: unknown): unknown {
  if (isEosError(err)) return err;
  const e = err as { code?: string; message?: string };
  if (['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', '57P03', '3D000', '28P01', '28000'].includes(e.code ?? '') || /timeout|terminated/i.test(e.message ?? '')) {
    return new DatabaseUnreachableError(`cannot read the Delphi database: ${e.message}`, 'check the database target (eos self secrets status) and that PostgreSQL accepts connections from this host');
  }
  return err;
}

/** `eos delphi dashboard`: the live view; `--once` one text frame; `--json` one snapshot. */
export async function run(options: DashboardOptions, context: CommandContext): Promise<number> {
  const { io } = context;
  const intervalS = parseDurationSeconds(options.interval);
  if (intervalS === undefined || intervalS < 1) throw new UsageError(`--interval "${options.interval}" is not a duration of at least 1s`, 'e.g. 5s');
  const log = context.logger();

  let config: Config;
  let env = io.env;
  let teardown: (() => Promise<void>) | undefined;
  if (options.sandbox) {
    const { startSandbox, startSimulation, sandboxConfig } = await import('../sandbox/sandbox.js');
    const ttl = parseDurationSeconds(options.ttl ?? '60s') ?? 60;
    const maxTtl = parseDurationSeconds(options.maxTtl ?? '5m') ?? 300;
    const sandbox = await startSandbox({ ttl: Math.floor(ttl), maxTtl: Math.floor(maxTtl), progress: (l) => io.stderr.write(`${l}\n`) });
    const simulation = await startSimulation(sandbox).catch(async (err: unknown) => {
      await sandbox.stop();
      throw err;
    });
    ({ config, env } = await sandboxConfig(sandbox));
    teardown = async () => {
      await simulation.stop();
      await sandbox.stop();
    };
  } else {
    config = context.config().config;
  }

  let db: Database | undefined;
  try {
    db = await openDatabase({ config, env, sources: parseSources(options.source), log, command: 'delphi dashboard', warn: (m) => io.stderr.write(`warning: ${m}\n`) });
    const model = new DashboardModel(db, { intervalMs: intervalS * 1000, listen: !(options.once || options.json) });
    if (options.once || options.json) {
      await model.refresh();
      if (!model.snapshot) throw databaseError(Object.assign(new Error(model.error ?? 'no data'), { code: 'ECONNREFUSED' }));
      if (options.json) writeJson(io, model.snapshot);
      else io.stdout.write(overviewText(model.snapshot));
      return 0;
    }
    await model.start();
    if (!model.snapshot && model.error) throw databaseError(Object.assign(new Error(model.error), { code: 'ECONNREFUSED' }));
    const [{ render }, { createElement }, { App }] = await Promise.all([import('ink'), import('react'), import('../delphi/ui/App.js')]);
    const app = render(createElement(App, { model }), { stdout: io.stdout as NodeJS.WriteStream, stdin: io.stdin as NodeJS.ReadStream, exitOnCtrlC: false });
    // q, Ctrl-C (as a key, or SIGINT) and SIGTERM all end the same way: pool closed, lease revoked.
    const onSignal = () => app.unmount();
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    await app.waitUntilExit();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await model.stop();
    return 0;
  } catch (err) {
    throw databaseError(err);
  } finally {
    await db?.close();
    await teardown?.();
  }
}
