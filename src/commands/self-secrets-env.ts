import { UsageError } from '../errors.js';
import { checkRoleName } from '../config/vault-names.js';
import { MASK } from '../redact.js';
import { shellQuote } from '../util/shell.js';
import { parseSources } from './source-option.js';
import { writeJson } from './output.js';
import { defineCommand, SOURCE_OPTION } from './spec.js';

/** `eos self secrets env`: the resolved credentials as variables for scripts. */
export default defineCommand({
  path: ['self', 'secrets', 'env'],
  description: 'print resolved database credentials as variables (masked unless --reveal)',
  options: {
    format: { flags: '--format <format>', description: 'output format', choices: ['shell', 'dotenv', 'json'], default: 'shell' },
    role: { flags: '--role <name>', description: 'Vault role (default: engine.workerRole in the config)' },
    source: SOURCE_OPTION,
    reveal: { flags: '--reveal', description: 'print the password in clear' },
    keep: { flags: '--keep', description: 'leave the lease alive at exit and print its id and TTL' },
  },
  examples: ['eos self secrets env', 'eos self secrets env --format json --source kv,env'],
  async run(options, context) {
    const [{ holdCredentials }, { dbCredentials }, { workerEnvironment }] = await Promise.all([
      import('../credentials/hold.js'),
      import('../db/credentials.js'),
      import('../exec/worker-supervisor.js'),
    ]);
    const { io } = context;
    if (options.role !== undefined) checkRoleName(options.role, '--role');
    const { config } = context.config();
    const sources = parseSources(options.source) ?? config.credentials.sources;
    // Revealed dynamic credentials would be revoked as soon as env exits: useless to a script.
    if (options.reveal && !options.keep && sources.includes('dynamic')) {
      throw new UsageError(
        '--reveal without --keep would print dynamic credentials that are revoked when env exits',
        'add --keep (the lease then lives until its TTL, nothing renews it), or run the program under eos self secrets exec, which keeps its credentials alive',
      );
    }
    const held = await holdCredentials(
      { config, env: io.env, sources, role: options.role ?? config.engine.workerRole, log: await context.logger(), command: 'env', warn: context.warn },
      { onRotate: async () => undefined, onFallback: async () => undefined, onNoFallback: () => undefined },
    );
    try {
      const c = held.credentials;
      if (options.reveal) context.warn('printing the password in clear (--reveal)');
      const secret = (v: string) => (options.reveal ? v : MASK);
      // What exec hands a worker, the TLS files included (PGSSLROOTCERT, PGSSLCERT, PGSSLKEY), so a
      // worker started from these variables connects as one started by exec does.
      const vars = workerEnvironment({}, dbCredentials({ ...c, password: secret(c.password) })) as Record<string, string>;
      if (options.format === 'json') writeJson(io, { ...vars, source: c.source, lease: c.lease && options.keep ? { id: c.lease.id, ttl: c.lease.duration } : null });
      // One quoting for both: a value (a host or password from KV, say) holding `$(…)` or a
      // backtick stays text whether the file is sourced by a shell or read as an EnvironmentFile.
      else for (const [k, v] of Object.entries(vars)) io.stdout.write(`${options.format === 'shell' ? 'export ' : ''}${k}=${shellQuote(v)}\n`);
      if (c.lease) {
        if (options.keep) io.stderr.write(`lease kept: ${c.lease.id} (TTL ${c.lease.duration} s); nothing renews it now\n`);
        else io.stderr.write('lease revoked at exit (use --keep to keep it)\n');
      }
      return 0;
    } finally {
      await held.close({ keepLease: Boolean(options.keep) });
    }
  },
});
