import { createServer } from 'node:net';
import { quoted, UsageError } from '../errors.js';
import { cleanUpOnce } from './last-resort.js';
import { shellQuote } from '../util/shell.js';
import { sandboxTtls } from './duration-option.js';
import { writeJson } from './output.js';
import { startMetrics } from './metrics-option.js';
import { defineCommand, JSON_OPTION, METRICS_OPTION } from './spec.js';

/** What a sandbox loads at most: a million alerts take about a minute. */
const MAX_SAMPLE_ALERTS = 1_000_000;

/** Refuses a port something already listens on (exit 2), before anything is started. */
async function assertPortFree(port: number): Promise<void> {
  // A static import: the bundle runs from V8's code cache (cli.ts), where a dynamic import() of
  // a Node module has no loader and fails ("A dynamic import callback was not specified").
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      reject(new UsageError(`--port ${port} cannot be used: ${err.code === 'EADDRINUSE' ? 'something already listens there' : (err.code ?? err.message)}`, 'choose another port, or leave --port out for a free one')),
    );
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

/** `eos sandbox`: start everything, print the exports, wait for Ctrl-C, remove everything. */
export default defineCommand({
  path: ['sandbox'],
  description: 'a throwaway PostgreSQL and Vault-API dev server with the engine set up, for trying eos on one machine',
  options: {
    port: { flags: '--port <port>', description: 'port of the Vault-API dev server (default: a free port)' },
    ttl: { flags: '--ttl <duration>', description: 'default TTL of the database roles', default: '60s' },
    maxTtl: { flags: '--max-ttl <duration>', description: 'max TTL of the database roles', default: '5m' },
    simulate: { flags: '--simulate', description: 'run the pipeline simulator (moves alerts through the states with worker credentials)' },
    alerts: { flags: '--alerts <n>', description: 'sample alerts to load', default: '5000' },
    tls: { flags: '--tls', description: 'TLS everywhere, as in production (the default): a throwaway CA signs the HTTPS dev server and a TLS-only PostgreSQL' },
    plain: { flags: '--plain', description: 'plain HTTP and a PostgreSQL without TLS instead' },
    standby: { flags: '--standby', description: 'a streaming hot standby beside PostgreSQL (both hosts configured); SIGUSR1 fails over: stops the primary, promotes the standby' },
    json: { ...JSON_OPTION, description: 'print the settings as JSON instead of export lines' },
    metricsListen: METRICS_OPTION,
  },
  examples: ['eos sandbox --simulate', 'eos sandbox --ttl 10s --max-ttl 30s --alerts 0 --json', 'eos sandbox --standby --simulate'],
  ownsSignals: true,
  async run(options, context) {
    const { io } = context;
    const { ttl, maxTtl } = sandboxTtls(options.ttl, options.maxTtl);
    const port = options.port === undefined ? undefined : Number(options.port);
    if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) throw new UsageError(`--port ${quoted(String(options.port))} is not a port number`, 'use a number from 1 to 65535');
    const alerts = /^\d+$/.test(options.alerts) ? Number(options.alerts) : NaN;
    if (!Number.isInteger(alerts) || alerts > MAX_SAMPLE_ALERTS) {
      throw new UsageError(`--alerts ${quoted(options.alerts)} is not a whole number from 0 to ${MAX_SAMPLE_ALERTS}`, 'e.g. --alerts 5000 (bench:dashboard loads more, in batches)');
    }
    if (options.tls && options.plain) throw new UsageError('--tls and --plain cannot be used together', 'leave both out for TLS (the default), or give --plain for none');
    // Before PostgreSQL starts and loads alerts: a busy port is found in a moment, not after a minute.
    if (port !== undefined) await assertPortFree(port);

    const { startSandbox, startSimulation, SANDBOX_DATABASE } = await import('../sandbox/sandbox.js');
    const started = Date.now();
    const progress = (line: string) => io.stderr.write(`${line}\n`);
    // A signal means: stop, and remove whatever was started.
    const { interrupt } = context;
    // Process metrics and the dev server's Vault traffic; healthy while the sandbox runs.
    const metrics = options.metricsListen ? await startMetrics(options.metricsListen, context) : undefined;
    try {
      const sandbox = await startSandbox({ vaultPort: port, ttl, maxTtl, sampleAlerts: alerts, progress, signal: interrupt.signal, tls: !options.plain, standby: options.standby === true }).catch((err: unknown) => {
        if (interrupt.received) return undefined;
        throw err;
      });
      if (!sandbox) {
        progress(`${interrupt.received}: stopped before the sandbox was ready; everything it started is removed`);
        return interrupt.exitCode();
      }
      // Whatever ends the run — Ctrl-C, a failure while it starts the simulator, an uncaught error
      // anywhere in the process — the leases are revoked, PostgreSQL stops and the files go.
      const running: { simulation?: Awaited<ReturnType<typeof startSimulation>> } = {};
      const cleanUp = cleanUpOnce(async () => {
        await running.simulation?.stop();
        await sandbox.stop();
      });
      try {
        const simulation = options.simulate ? await startSimulation(sandbox) : undefined;
        running.simulation = simulation;
        if (simulation) progress('pipeline simulator running (worker role, dynamic credentials)');

        // VAULT_TOKEN holds only the reader policy, as a production token should; the worker's
        // token is for `exec` of a pipeline worker, the root token for administration.
        const exports = {
          VAULT_ADDR: sandbox.vaultAddr,
          // For the vault/bao CLI and curl; eos itself has the CA in its config.
          ...(sandbox.caFile ? { VAULT_CACERT: sandbox.caFile } : {}),
          VAULT_TOKEN: sandbox.readerToken,
          EOS_CONFIG: sandbox.configFile,
          EOS_SANDBOX_WORKER_TOKEN: sandbox.workerToken,
          // eos self secrets audit as its least-privilege auditor, with the PostgreSQL admin below.
          EOS_SANDBOX_AUDITOR_TOKEN: sandbox.auditorToken,
          EOS_SANDBOX_ROOT_TOKEN: sandbox.rootToken,
          // A JWT login as a CI job or pod does it: eos self secrets configure --auth jwt --yes
          EOS_JWT_FILE: sandbox.jwt.file,
          EOS_JWT_ROLE: sandbox.jwt.readerRole,
          EOS_SANDBOX_PG_URL: sandbox.adminUrl,
          // The admin login eos's admin commands (set delphi-db-engine --apply, schema apply, audit) read.
          DELPHI_DB_ADMIN_USER: sandbox.postgres.adminUser,
          DELPHI_DB_ADMIN_PASSWORD: sandbox.postgres.adminPassword,
          // The dev server's audit log: eos self secrets audit --vault-audit-log "$EOS_SANDBOX_AUDIT_LOG"
          EOS_SANDBOX_AUDIT_LOG: sandbox.auditLog,
          ...(sandbox.standby ? { EOS_SANDBOX_STANDBY_PG_URL: sandbox.standby.adminUrl(SANDBOX_DATABASE), EOS_SANDBOX_PID: String(process.pid) } : {}),
        };
        if (options.json) writeJson(io, exports);
        else for (const [name, value] of Object.entries(exports)) io.stdout.write(`export ${name}=${shellQuote(value)}\n`);
        progress(
          `sandbox ready in ${((Date.now() - started) / 1000).toFixed(1)} s: Vault-API dev server (a test double, not Vault) at ${sandbox.vaultAddr}, ` +
            `PostgreSQL on port ${sandbox.postgres.port}${sandbox.caFile ? ' (TLS only)' : ''}; role TTL ${ttl} s, max ${maxTtl} s. ` +
            (sandbox.caFile ? `Both verify against the throwaway CA ${sandbox.caFile}. ` : '') +
            (sandbox.standby ? `A streaming standby listens on port ${sandbox.standby.port}; fail over with: kill -USR1 ${process.pid}. ` : '') +
            'The token and URL above are throwaway sandbox secrets. Press Ctrl-C to stop and remove everything.',
        );
        // The failover drill, on demand: fence the primary (stop it), then promote the standby.
        let failingOver = false;
        const failover = () => {
          const standby = sandbox.standby;
          // Once: a second signal must not promote while the first is still stopping the primary.
          if (!standby) return;
          if (failingOver) {
            progress(`SIGUSR1: already failed over (port ${standby.port} is the primary); nothing to do`);
            return;
          }
          failingOver = true;
          progress('SIGUSR1: stopping the primary (fencing), promoting the standby…');
          void (async () => {
            const t = Date.now();
            await sandbox.postgres.stop();
            await standby.promote();
            progress(`failed over in ${Date.now() - t} ms: port ${standby.port} is the primary now (eos and the engine find it by themselves)`);
          })().catch((err: unknown) => progress(`failover failed: ${(err as Error).message}`));
        };
        if (sandbox.standby) process.on('SIGUSR1', failover);

        const signal = await interrupt.next;
        process.removeListener('SIGUSR1', failover);
        progress(`${signal}: revoking leases, stopping PostgreSQL, removing files…`);
        await cleanUp();
        progress('sandbox removed');
        return 0;
      } finally {
        await cleanUp();
      }
    } finally {
      await metrics?.close();
    }
  },
});
