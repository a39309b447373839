import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { holdCredentials } from '../credentials/open-database.js';
import { parseRotateAction, WorkerSupervisor } from '../exec/worker-supervisor.js';
import { UsageError } from '../errors.js';
import { parseDurationSeconds } from '../util/duration.js';
import type { CommandContext } from './context.js';
import { parseSources } from './source-option.js';

export interface ExecOptions {
  role?: string;
  source?: string;
  onRotate: string;
  grace: string;
}

/**
 * `eos self secrets exec -- <command>`: a worker gets fresh credentials in PG_DSN (and PG*),
 * kept alive by the keeper; on rotation it is restarted or signalled; signals to eos reach it;
 * when it exits, the lease is revoked and eos exits with its code.
 */
export async function run(options: ExecOptions, context: CommandContext, args: string[]): Promise<number> {
  const { io } = context;
  const [command, ...commandArgs] = args;
  if (!command) throw new UsageError('no command to run', 'e.g. eos self secrets exec -- python3 /opt/delphi/delphi-listener.py');
  const onRotate = parseRotateAction(options.onRotate);
  if (!onRotate) throw new UsageError(`--on-rotate "${options.onRotate}" is not known`, 'use restart, none, or signal:<NAME> such as signal:HUP');
  const grace = parseDurationSeconds(options.grace);
  if (grace === undefined) throw new UsageError(`--grace "${options.grace}" is not a duration`, 'e.g. 30s');
  const sources = parseSources(options.source);
  const { config } = context.config();
  const log = context.logger();

  // A signalled worker keeps its environment: it re-reads the credentials from a private file.
  const dir = onRotate.kind === 'restart' ? undefined : await mkdtemp(path.join(tmpdir(), 'eos-exec-'));
  const credentialsFile = dir ? path.join(dir, 'credentials.env') : undefined;
  const supervisor = new WorkerSupervisor({ command, args: commandArgs, env: io.env, onRotate, graceMs: grace * 1000, credentialsFile, log });
  const held = await holdCredentials(
    { config, env: io.env, sources, role: options.role ?? config.engine.workerRole, log, command: `exec ${command}`, warn: (m) => io.stderr.write(`warning: ${m}\n`) },
    {
      onRotate: (next, reason) => supervisor.rotate(next, reason),
      onFallback: async (fallback) => {
        io.stderr.write(`warning: the dynamic lease expired; the worker now runs with ${fallback.source} credentials\n`);
        await supervisor.rotate(fallback, `fallback to ${fallback.source}`);
      },
      onNoFallback: (detail) => io.stderr.write(`error: ${detail}\n`),
    },
  );
  for (const attempt of held.attempts.filter((a) => !a.ok)) io.stderr.write(`warning: credential source ${attempt.source} skipped: ${attempt.reason}\n`);
  if (held.credentials.source !== 'dynamic') io.stderr.write(`warning: the worker runs with ${held.credentials.source} credentials, not dynamic ones\n`);

  // Signals to eos go to the worker; its exit ends eos. Once it has exited, further signals are
  // ignored until the lease is revoked and the files are gone.
  let childGone = false;
  const forward = (signal: NodeJS.Signals) => {
    if (!childGone) supervisor.forward(signal);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, forward);
  try {
    supervisor.start(held.credentials);
    const code = await supervisor.done;
    childGone = true;
    return code;
  } finally {
    childGone = true;
    await held.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    for (const signal of signals) process.off(signal, forward);
  }
}
