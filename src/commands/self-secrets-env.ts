import { holdCredentials } from '../credentials/open-database.js';
import { toDsn } from '../db/credentials.js';
import { MASK } from '../redact.js';
import { UsageError } from '../errors.js';
import { shellQuote } from '../util/shell.js';
import type { CommandContext } from './context.js';
import { parseSources } from './source-option.js';

export interface EnvOptions {
  format: string;
  role?: string;
  source?: string;
  reveal?: boolean;
  keep?: boolean;
}

/** `eos self secrets env`: the resolved credentials as variables for scripts. */
export async function run(options: EnvOptions, context: CommandContext): Promise<number> {
  const { io } = context;
  if (!['shell', 'dotenv', 'json'].includes(options.format)) throw new UsageError(`--format "${options.format}" is not known`, 'use shell, dotenv or json');
  const { config } = context.config();
  const held = await holdCredentials(
    { config, env: io.env, sources: parseSources(options.source), role: options.role ?? config.engine.workerRole, log: context.logger(), command: 'env' },
    { onRotate: async () => undefined, onFallback: async () => undefined, onNoFallback: () => undefined },
  );
  try {
    const c = held.credentials;
    if (options.reveal) io.stderr.write('warning: printing the password in clear (--reveal)\n');
    const secret = (v: string) => (options.reveal ? v : MASK);
    const vars: Record<string, string> = {
      PG_DSN: options.reveal ? toDsn(c) : toDsn({ ...c, password: MASK }),
      PGHOST: c.host,
      PGPORT: String(c.port),
      PGDATABASE: c.database,
      PGUSER: c.user,
      PGPASSWORD: secret(c.password),
      PGSSLMODE: c.sslmode,
    };
    if (options.format === 'json') io.stdout.write(`${JSON.stringify({ ...vars, source: c.source, lease: c.lease && options.keep ? { id: c.lease.id, ttl: c.lease.duration } : null }, null, 2)}\n`);
    else for (const [k, v] of Object.entries(vars)) io.stdout.write(options.format === 'shell' ? `export ${k}=${shellQuote(v)}\n` : `${k}=${JSON.stringify(v)}\n`);
    if (c.lease) {
      if (options.keep) io.stderr.write(`lease kept: ${c.lease.id} (TTL ${c.lease.duration} s); nothing renews it now\n`);
      else io.stderr.write('lease revoked at exit (use --keep to keep it)\n');
    }
    return 0;
  } finally {
    if (options.keep) {
      await held.keeper?.stop({ revoke: false });
      held.vault?.client.close();
    } else await held.close();
  }
}
