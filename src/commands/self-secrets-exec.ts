import { mkdtemp, rm } from 'node:fs/promises';
import { checkRoleName } from '../config/vault-names.js';
import { InterruptedError, unlessInterrupted } from './interrupt.js';
import { cleanUpOnce } from './last-resort.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { quoted, UsageError } from '../errors.js';
import { durationOption, MAX_WAIT_SECONDS } from './duration-option.js';
import { parseSources } from './source-option.js';
import { startMetrics } from './metrics-option.js';
import { defineCommand, METRICS_OPTION, SOURCE_OPTION } from './spec.js';

/**
 * `eos self secrets exec -- <command>`: a worker gets fresh credentials in PG_DSN (and PG*),
 * kept alive by the keeper; on rotation it is restarted or signalled; signals to eos reach it;
 * when it exits, the lease is revoked and eos exits with its code.
 */
export default defineCommand({
  path: ['self', 'secrets', 'exec'],
  description: 'run a worker with fresh dynamic credentials in PG_DSN (and PG*), kept alive, restarted or signalled on rotation, revoked on exit',
  arguments: [{ name: '<command...>', description: 'the worker and its arguments, after --' }],
  options: {
    role: { flags: '--role <name>', description: 'Vault role (default: engine.workerRole in the config, delphi-worker)' },
    source: SOURCE_OPTION,
    onRotate: { flags: '--on-rotate <action>', description: 'restart, signal:<NAME> (e.g. signal:HUP) or none', default: 'restart' },
    grace: { flags: '--grace <duration>', description: 'how long a worker may take to stop before SIGKILL', default: '30s' },
    passEnv: { flags: '--pass-env <names>', description: "comma-separated variables to hand the worker although eos withholds them (VAULT_TOKEN, the admin password, CI identity tokens, …)" },
    metricsListen: METRICS_OPTION,
  },
  examples: [
    'eos self secrets exec -- python3 /opt/delphi/delphi-listener.py',
    'eos self secrets exec --on-rotate signal:HUP --source dynamic -- /opt/delphi/worker',
  ],
  ownsSignals: true,
  async run(options, context, args) {
    const [command, ...commandArgs] = args;
    if (!command) throw new UsageError('no command to run', 'e.g. eos self secrets exec -- python3 /opt/delphi/delphi-listener.py');
    const [{ holdCredentials }, { parseRotateAction, resolveCommand, workerBaseEnvironment, WorkerSupervisor }] = await Promise.all([
      import('../credentials/hold.js'),
      import('../exec/worker-supervisor.js'),
    ]);
    const { io } = context;
    resolveCommand(command, io.env);
    const onRotate = parseRotateAction(options.onRotate);
    if (!onRotate) throw new UsageError(`--on-rotate ${quoted(options.onRotate)} is not known`, 'use restart, none, or signal:<NAME> such as signal:HUP');
    const grace = durationOption('--grace', options.grace, 0, MAX_WAIT_SECONDS);
    const sources = parseSources(options.source);
    const { config } = context.config();
    const log = await context.logger();

    const role = options.role === undefined ? config.engine.workerRole : checkRoleName(options.role, '--role');
    // A signalled worker keeps its environment: it re-reads the credentials from a private file.
    const dir = onRotate.kind === 'restart' ? undefined : await mkdtemp(path.join(tmpdir(), 'eos-exec-'));
    let metrics: Awaited<ReturnType<typeof startMetrics>> | undefined;
    let held: Awaited<ReturnType<typeof holdCredentials>> | undefined;
    // Signals to eos go to the worker; its exit ends eos. Once it has exited, further signals are
    // ignored until the lease is revoked and the files are gone.
    let childGone = false;
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    let forward: ((signal: NodeJS.Signals) => void) | undefined;
    let supervisorRef: { stopChild(): Promise<void> } | undefined;
    // Whatever ends the run — the worker's exit, an error, even credentials never obtained, or an
    // uncaught error anywhere in the process — nothing of it is left behind.
    const cleanUp = cleanUpOnce(async () => {
      await supervisorRef?.stopChild();
      await held?.close();
      await metrics?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });
    try {
      metrics = options.metricsListen ? await startMetrics(options.metricsListen, context, { holdsCredentials: true }) : undefined;
      // The worker gets the caller's environment without eos's own secrets (its Vault tokens, the
      // admin password, a CI job's identity): only its database credentials are for it.
      const auth = config.vault.auth;
      const identity = auth?.method === 'jwt' && auth.identityToken.from === 'env' ? [auth.identityToken.name] : [];
      const pass = options.passEnv ? options.passEnv.split(',').map((n) => n.trim()).filter(Boolean) : [];
      const workerEnv = workerBaseEnvironment(io.env, { also: identity, pass });
      const supervisor = new WorkerSupervisor({ command, args: commandArgs, env: workerEnv, onRotate, graceMs: grace * 1000, credentialsFile: dir ? path.join(dir, 'credentials.env') : undefined, log, observe: metrics?.worker.observe });
      supervisorRef = supervisor;
      // Until the worker runs, a signal ends eos (nothing to pass it to): no wait on a Vault or
      // PostgreSQL that does not answer.
      const holding = holdCredentials(
        { config, env: io.env, sources, role, log, command: `exec ${command}`, warn: context.warn },
        {
          onRotate: (next, reason) => supervisor.rotate(next, reason),
          onFallback: async (fallback) => {
            context.warn(`the dynamic lease expired; the worker now runs with ${fallback.source} credentials`);
            await supervisor.rotate(fallback, `fallback to ${fallback.source}`);
          },
          onNoFallback: (detail) => io.stderr.write(`error: ${detail}\n`),
        },
      );
      try {
        held = await unlessInterrupted(context.interrupt, holding);
      } catch (err) {
        // Cut off while they were being issued: credentials that still come are revoked (for half
        // a second at most; Vault ends them at their TTL otherwise), never left to a dead process.
        if (err instanceof InterruptedError) await Promise.race([holding.then((h) => h.close(), () => undefined), new Promise((r) => setTimeout(r, 500).unref())]);
        throw err;
      }
      // A signal that came while they were issued, answered within the grace: no worker starts.
      if (context.interrupt.received) throw new InterruptedError(context.interrupt.received);
      if (held.credentials.source !== 'dynamic') context.warn(`the worker runs with ${held.credentials.source} credentials, not dynamic ones`);
      forward = (signal: NodeJS.Signals) => {
        if (!childGone) supervisor.forward(signal);
      };
      for (const signal of signals) process.on(signal, forward);
      supervisor.start(held.credentials);
      metrics?.watchCredentials({ lease: held.watch, role, current: () => supervisor.credentials, allowed: sources ?? config.credentials.sources });
      const code = await supervisor.done;
      childGone = true;
      return code;
    } finally {
      childGone = true;
      await cleanUp();
      if (forward) for (const signal of signals) process.off(signal, forward);
    }
  },
});
