#!/usr/bin/env node
/**
 * The `eos` program. This file only declares commands and their options; each command's module
 * is imported when that command runs, so `eos --help` and `eos --version` load nothing else.
 */
import { createRequire } from 'node:module';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import type { CommandContext, GlobalOptions } from './commands/context.js';
import { LOG_LEVELS, SSL_MODES } from './config/constants.js';
import { processIO, type IO } from './commands/io.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };


/** A command module: parse is done by commander, `run` does the work and returns an exit code. */
interface CommandModule<O> {
  run(options: O, context: CommandContext, args: string[]): Promise<number | void>;
}

export interface Outcome {
  exitCode: number;
}

/**
 * Wraps a lazily imported command module as a commander action. The outcome object is how the
 * exit code travels back to main() without process.exit, so pending output is never cut off.
 */
function lazy<O>(outcome: Outcome, io: IO, load: () => Promise<CommandModule<O>>) {
  return async (...actionArgs: unknown[]): Promise<void> => {
    const command = actionArgs.at(-1) as Command;
    const positional = actionArgs.slice(0, -2).flat().filter((a): a is string => typeof a === 'string');
    const globals = command.optsWithGlobals<GlobalOptions>();
    const [{ createContext }, module] = await Promise.all([import('./commands/context.js'), load()]);
    const code = await module.run(command.opts() as O, createContext(io, globals), positional);
    outcome.exitCode = code ?? 0;
  };
}

export function buildProgram(io: IO, outcome: Outcome): Command {
  const program = new Command('eos')
    .description('Short-lived PostgreSQL credentials from Vault/OpenBao for the Delphi pipeline')
    .version(version, '-V, --version', 'print the version')
    .option('--config <file>', 'configuration file (else $EOS_CONFIG, ~/.config/eos/config.json, /etc/eos/config.json)')
    .option('--log-file <file>', 'log file (else $EOS_LOG_FILE, /var/log/eos/eos.log, $XDG_STATE_HOME/eos/eos.log)')
    .addOption(new Option('--log-level <level>', 'log level (else $EOS_LOG_LEVEL, info)').choices(LOG_LEVELS))
    .option('--debug', 'print stack traces with errors')
    .showSuggestionAfterError(true);

  const self = program.command('self').description('eos itself: its configuration and its Vault secrets');

  const config = self.command('config').description('the configuration file');
  config
    .command('show')
    .description('print the configuration in force: the file used, Vault settings and where each came from')
    .option('--json', 'print JSON')
    .action(lazy(outcome, io, () => import('./commands/self-config-show.js')));

  const secrets = self.command('secrets').description('Vault: the connection, and secrets for the Delphi database');
  secrets
    .command('configure')
    .description('set the Vault address and auth method; proves they work before saving')
    .option('--addr <url>', 'Vault address (default: $VAULT_ADDR)')
    .addOption(new Option('--auth <method>', 'how to authenticate').choices(['token', 'token-file', 'approle']))
    .option('--token-stdin', 'read a token from standard input and save it to ~/.vault-token (0600)')
    .option('--token-file <file>', 'with --auth token-file: the file holding the token')
    .option('--role-id <id>', 'with --auth approle: the role-id')
    .option('--secret-id-file <file>', 'with --auth approle: the file holding the secret-id')
    .option('--approle-mount <path>', 'with --auth approle: where AppRole is mounted', 'approle')
    .option('--ca-cert <file>', 'CA bundle that signed Vault\'s certificate')
    .option('--namespace <ns>', 'Vault namespace')
    .option('--tls-skip-verify', 'do not verify Vault\'s TLS certificate (test servers only)')
    .option('-y, --yes', 'never prompt; take flags, environment and defaults')
    .option('--force', 'save even if Vault cannot be reached or the credentials are refused')
    .option('--json', 'print the result as JSON')
    .action(lazy(outcome, io, () => import('./commands/self-secrets-configure.js')));
  const set = secrets.command('set').description('store settings for the Delphi database');
  set
    .command('delphi-db-config')
    .description('host, port, database and sslmode of the Delphi database, in Vault KV and the local config')
    .option('--host <host>', 'database host name or IP address')
    .option('--port <port>', 'database port')
    .option('--database <name>', 'database name')
    .addOption(new Option('--sslmode <mode>', 'TLS mode').choices(SSL_MODES))
    .option('--local', 'store only in the local config (when Vault is not configured)')
    .option('-y, --yes', 'never prompt')
    .option('--json', 'print JSON')
    .action(lazy(outcome, io, () => import('./commands/self-secrets-set-config.js')));
  set
    .command('delphi-db-engine')
    .description('the database secrets engine set-up: printed as commands, or performed with --apply')
    .option('--apply', 'perform it through the Vault API and an admin session (idempotent)')
    .option('--dry-run', 'with --apply semantics, show what would change without changing it')
    .addOption(new Option('--statements <style>', 'group: per-lease members of group roles; seed: the seed\'s grants with revocation that works').choices(['group', 'seed']).default('group'))
    .option('--mount <path>', 'engine mount (default: engine.mount, database)')
    .option('--connection <name>', 'connection name (default: delphi-postgresql)')
    .option('--role <name>', 'read-only Vault role (default: delphi-readonly)')
    .option('--worker-role <name>', 'worker Vault role (default: delphi-worker)')
    .option('--group <role>', 'PostgreSQL group role for readers', 'delphi_readonly')
    .option('--worker-group <role>', 'PostgreSQL group role for workers', 'delphi_worker')
    .option('--default-ttl <duration>', 'credential TTL', '1h')
    .option('--max-ttl <duration>', 'credential max TTL', '24h')
    .option('--admin-user <role>', 'PostgreSQL admin Vault connects as (default: $DELPHI_DB_ADMIN_USER or postgres); its password comes from $DELPHI_DB_ADMIN_PASSWORD or a hidden prompt')
    .option('--host <host>', 'database host (default: the stored configuration)')
    .option('--port <port>', 'database port')
    .option('--database <name>', 'database name')
    .addOption(new Option('--sslmode <mode>', 'TLS mode').choices(SSL_MODES))
    .option('--json', 'print JSON')
    .action(lazy(outcome, io, () => import('./commands/self-secrets-set-engine.js')));
  secrets
    .command('test')
    .description('end-to-end check: Vault, token, engine, role, issue, connect, read-only, renew, revoke, role gone')
    .option('--role <name>', 'the Vault role to test (default: engine.role)')
    .option('--json', 'print JSON')
    .action(lazy(outcome, io, () => import('./commands/self-secrets-test.js')));
  secrets
    .command('status')
    .description('configuration, Vault health, token, the source that would be used, and leases held by running eos processes; never issues credentials')
    .option('--json', 'print JSON')
    .action(lazy(outcome, io, () => import('./commands/self-secrets-status.js')));
  secrets
    .command('exec')
    .description('run a worker with fresh dynamic credentials in PG_DSN (and PG*), kept alive, restarted or signalled on rotation, revoked on exit')
    .argument('<command...>', 'the worker and its arguments, after --')
    .option('--role <name>', 'Vault role (default: engine.workerRole, delphi-worker)')
    .option('--source <list>', 'allowed credential sources, in order, e.g. dynamic,env (default: credentials.sources)')
    .option('--on-rotate <action>', 'restart, signal:<NAME> (e.g. signal:HUP) or none', 'restart')
    .option('--grace <duration>', 'how long a worker may take to stop before SIGKILL', '30s')
    .action(lazy(outcome, io, () => import('./commands/self-secrets-exec.js')));
  secrets
    .command('env')
    .description('print resolved database credentials as variables (masked unless --reveal)')
    .addOption(new Option('--format <format>', 'output format').choices(['shell', 'dotenv', 'json']).default('shell'))
    .option('--role <name>', 'Vault role (default: engine.workerRole)')
    .option('--source <list>', 'allowed credential sources, in order')
    .option('--reveal', 'print the password in clear')
    .option('--keep', 'leave the lease alive at exit and print its id and TTL')
    .action(lazy(outcome, io, () => import('./commands/self-secrets-env.js')));
  secrets
    .command('get')
    .description('read a Vault path: KV v1/v2, database/creds/<role>, or any other; values masked')
    .argument('<path>', 'logical path, e.g. secret/delphi/database/password or database/creds/delphi-readonly')
    .option('--field <name>', 'print one field only (masked unless --reveal)')
    .option('--reveal', 'print secret values in clear')
    .option('--keep', 'keep the lease of issued credentials instead of revoking it at exit')
    .option('--json', 'print JSON')
    .action(lazy(outcome, io, () => import('./commands/self-secrets-get.js')));

  const delphi = program.command('delphi').description('the Delphi pipeline');
  delphi
    .command('dashboard')
    .description('live terminal dashboard of the pipeline over rotating dynamic credentials')
    .option('--interval <duration>', 'refresh interval (also refreshed on pipeline NOTIFY)', '5s')
    .option('--once', 'print one plain-text frame of the Overview and exit')
    .option('--json', 'print one snapshot of every view and the credential state, and exit')
    .option('--source <list>', 'allowed credential sources, in order (default: credentials.sources)')
    .option('--sandbox', 'start a throwaway sandbox with sample data and the pipeline simulator, and show it')
    .option('--ttl <duration>', 'with --sandbox: role TTL', '60s')
    .option('--max-ttl <duration>', 'with --sandbox: role max TTL', '5m')
    .action(lazy(outcome, io, () => import('./commands/delphi-dashboard.js')));

  program
    .command('sandbox')
    .description('a throwaway PostgreSQL and Vault-API dev server with the engine set up, for trying eos on one machine')
    .option('--port <port>', 'port of the Vault-API dev server (default: a free port)')
    .option('--ttl <duration>', 'default TTL of the database roles', '60s')
    .option('--max-ttl <duration>', 'max TTL of the database roles', '5m')
    .option('--simulate', 'run the pipeline simulator (moves alerts through the states with worker credentials)')
    .option('--alerts <n>', 'sample alerts to load', '5000')
    .option('--json', 'print the settings as JSON instead of export lines')
    .action(lazy(outcome, io, () => import('./commands/sandbox.js')));

  applyToAll(program, (command) => {
    command.helpCommand(false);
    command.exitOverride();
    command.configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => {
        write(text.endsWith('\n') ? text : `${text}\n`);
        write(`hint: run '${commandPath(command)} --help' for usage\n`);
      },
    });
  });
  return program;
}

function applyToAll(command: Command, apply: (c: Command) => void): void {
  apply(command);
  for (const sub of command.commands) applyToAll(sub, apply);
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Runs the program; returns the exit code. Errors are printed as one line plus a hint. */
export async function main(argv: string[], io: IO): Promise<number> {
  const outcome: Outcome = { exitCode: 0 };
  const program = buildProgram(io, outcome);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return outcome.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; every other parse failure (and a bare group) is usage: 2.
      return err.exitCode === 0 ? 0 : 2;
    }
    const debug = argv.includes('--debug');
    const { reportError } = await import('./commands/report-error.js');
    return reportError(err, io, debug);
  }
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  process.exitCode = await main(process.argv.slice(2), processIO());
}
