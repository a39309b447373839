import type { Config } from '../config/schema.js';
import { cleanUpOnce } from './last-resort.js';
import { importEsm } from '../util/import-esm.js';
import { UsageError } from '../errors.js';
import { READ_FROM, type ReadFrom, type TargetSessionAttrs } from '../config/constants.js';
import { durationOption, MAX_WAIT_SECONDS, sandboxTtls } from './duration-option.js';
import { unlessInterrupted } from './interrupt.js';
import { writeJson } from './output.js';
import { parseSources } from './source-option.js';
import { startMetrics } from './metrics-option.js';
import { defineCommand, METRICS_OPTION, SOURCE_OPTION } from './spec.js';

/** `eos delphi dashboard`: the live view; `--once` one text frame; `--json` one snapshot. */
export default defineCommand({
  path: ['delphi', 'dashboard'],
  description: 'live terminal dashboard of the pipeline over rotating dynamic credentials',
  options: {
    interval: { flags: '--interval <duration>', description: 'refresh interval (also refreshed on pipeline NOTIFY)', default: '5s' },
    once: { flags: '--once', description: 'print one plain-text frame of the Overview and exit' },
    json: { flags: '--json', description: 'print one snapshot of every view and the credential state, and exit' },
    source: SOURCE_OPTION,
    sandbox: { flags: '--sandbox', description: 'start a throwaway sandbox with sample data and the pipeline simulator, and show it' },
    ttl: { flags: '--ttl <duration>', description: 'with --sandbox: role TTL', default: '60s' },
    maxTtl: { flags: '--max-ttl <duration>', description: 'with --sandbox: role max TTL', default: '5m' },
    metricsListen: METRICS_OPTION,
    readFrom: {
      flags: '--read-from <where>',
      description: 'with several database hosts: read from the primary, a standby (only), or any; default: a standby when one is up, else the primary',
      choices: READ_FROM,
    },
  },
  examples: ['eos delphi dashboard --once', 'eos delphi dashboard --read-from primary', 'eos delphi dashboard --sandbox --ttl 30s --max-ttl 2m'],
  ownsSignals: true,
  async run(options, context) {
    const { io } = context;
    const intervalS = durationOption('--interval', options.interval, 1, MAX_WAIT_SECONDS);
    const sources = parseSources(options.source);
    const ttls = options.sandbox ? sandboxTtls(options.ttl, options.maxTtl) : undefined;
    const live = !(options.once || options.json);
    // The live view reads keys in raw mode and redraws the screen: both ends must be a terminal.
    if (live && !(io.stdinIsTTY && io.stdoutIsTTY)) {
      throw new UsageError('the live dashboard needs a terminal; use --once or --json', 'over ssh, use ssh -t; in scripts, systemd or CI (CI=true counts as no terminal): eos delphi dashboard --json');
    }
    const [{ DashboardModel }, { overviewText }] = await Promise.all([import('../delphi/dashboard.js'), import('../delphi/text-frame.js')]);

    let sandboxed: { config: Config; env: NodeJS.ProcessEnv } | undefined;
    let teardown: (() => Promise<void>) | undefined;
    let model: InstanceType<typeof DashboardModel> | undefined;
    let metrics: Awaited<ReturnType<typeof startMetrics>> | undefined;
    // SIGINT/SIGTERM mean: stop what is starting (a Vault or PostgreSQL that does not answer is
    // not waited for), close the pool, revoke the lease, remove the sandbox.
    const { interrupt } = context;
    const unlessStopped = <T>(work: Promise<T>) => unlessInterrupted(interrupt, work);
    // Whatever ends the run (q, a signal, an error inside the terminal UI, an uncaught error
    // anywhere in the process), the refresh timers and the listener stop, the pool closes and its
    // lease is revoked, then the sandbox goes.
    const cleanUp = cleanUpOnce(async () => {
      await model?.stop();
      await metrics?.close();
      await context.close();
      await teardown?.();
    });
    try {
      if (ttls) {
        const { startSandbox, startSimulation, sandboxConfig } = await import('../sandbox/sandbox.js');
        // TLS everywhere, as a production site has it (eos sandbox --plain is the way without).
        const sandbox = await startSandbox({ ...ttls, tls: true, progress: (l) => io.stderr.write(`${l}\n`), signal: interrupt.signal }).catch((err: unknown) => {
          if (interrupt.received) return undefined;
          throw err;
        });
        if (!sandbox) return interrupt.exitCode();
        const simulation = await startSimulation(sandbox).catch(async (err: unknown) => {
          await sandbox.stop();
          throw err;
        });
        teardown = async () => {
          await simulation.stop();
          await sandbox.stop();
        };
        sandboxed = await sandboxConfig(sandbox);
      }

      const db = await unlessStopped(context.database({ sources, command: 'delphi dashboard', want: readFromAttrs(options.readFrom as ReadFrom | undefined), ...sandboxed }));
      if (options.metricsListen) {
        metrics = await startMetrics(options.metricsListen, context, { holdsCredentials: true });
        const effective = sandboxed?.config ?? context.config().config;
        metrics.watchCredentials({ lease: db.watch, pool: db.pool, role: effective.engine.role, current: () => db.pool.credentials, allowed: sources ?? effective.credentials.sources });
      }
      // eos's views, indexes and rollups must be installed and current: one clear line (exit 2)
      // naming `eos delphi schema apply` instead of a SQL error on the first refresh.
      const { requireCurrentSchema } = await import('../delphi/schema-migrator.js');
      await unlessStopped(requireCurrentSchema(db.pool));
      model = new DashboardModel(db, { intervalMs: intervalS * 1000, listen: live });
      const watched = model;
      metrics?.watchDynamicRoles(() => watched.snapshot?.dynamicRoles);
      if (!live) {
        await unlessStopped(model.refresh());
        if (!model.snapshot) throw model.lastError ?? new Error('no data');
        if (options.json) writeJson(io, model.snapshot);
        else io.stdout.write(overviewText(model.snapshot));
        return 0;
      }
      await unlessStopped(model.start());
      if (!model.snapshot && model.lastError) throw model.lastError;
      // react is CommonJS: bundled, a dynamic import of it has only its default export.
      const [{ render }, { default: react }, { App }] = await Promise.all([
        importEsm('./ink.js', () => import('ink')),
        importEsm('./react.js', () => import('react')),
        importEsm('./dashboard-app.js', () => import('../delphi/ui/App.js')),
      ]);
      const { createElement } = react;
      const app = render(createElement(App, { model }), { stdout: io.stdout as NodeJS.WriteStream, stdin: io.stdin as NodeJS.ReadStream, exitOnCtrlC: false });
      // q, Ctrl-C (as a key, or SIGINT) and SIGTERM all end the same way: pool closed, lease revoked.
      void interrupt.next.then(() => app.unmount());
      if (interrupt.received) app.unmount();
      await app.waitUntilExit();
      return 0;
    } finally {
      await cleanUp();
    }
  },
});

/**
 * --read-from as libpq's target_session_attrs. Without it the dashboard takes a standby when
 * one is up (its reads are the first load to move off the primary), else the primary.
 */
function readFromAttrs(readFrom: ReadFrom | undefined): TargetSessionAttrs {
  return readFrom === 'primary' ? 'primary' : readFrom === 'standby' ? 'standby' : readFrom === 'any' ? 'any' : 'prefer-standby';
}
