/**
 * The `eos` program: mounts the command specs (one module per command in this folder) on
 * commander and runs one. A spec is light; what its run needs is imported when it runs, so
 * `eos --help` loads nothing else.
 */
import { Command, CommanderError, Option } from 'commander';
import { checkLogFile } from '../util/log-file.js';
import { LOG_LEVELS } from '../config/constants.js';
import { commandOf } from './command-line.js';
import type { ContextDeps, GlobalOptions } from './context.js';
import type { IO } from './io.js';
import { wantsJson } from './output.js';
import { InterruptedError, unlessInterrupted } from './interrupt.js';
import type { CommandSpec } from './spec.js';
import dashboard from './delphi-dashboard.js';
import schemaApply from './delphi-schema-apply.js';
import schemaStatus from './delphi-schema-status.js';
import schemaVerify from './delphi-schema-verify.js';
import sandbox from './sandbox.js';
import configShow from './self-config-show.js';
import configure from './self-secrets-configure.js';
import env from './self-secrets-env.js';
import exec from './self-secrets-exec.js';
import get from './self-secrets-get.js';
import setConfig from './self-secrets-set-config.js';
import setEngine from './self-secrets-set-engine.js';
import status from './self-secrets-status.js';
import test from './self-secrets-test.js';
import audit from './self-secrets-audit.js';

/** Every command, in the order --help lists them. */
export const COMMANDS: readonly CommandSpec[] = [configShow, configure, setConfig, setEngine, test, status, audit, exec, env, get, dashboard, schemaStatus, schemaApply, schemaVerify, sandbox] as unknown as CommandSpec[];

/** The groups between `eos` and the commands. */
const GROUPS: Record<string, string> = {
  self: 'eos itself: its configuration and its Vault secrets',
  'self config': 'the configuration file',
  'self secrets': 'Vault: the connection, and secrets for the Delphi database',
  'self secrets set': 'store settings for the Delphi database',
  delphi: 'the Delphi pipeline',
  'delphi schema': "eos's own objects in the Delphi database (views, indexes, rollups)",
};

const ROOT_HELP = `
Exit codes: 0 ok · 1 a check or operation failed · 2 usage or invalid input/config ·
3 Vault unreachable or sealed · 4 authentication or permission denied · 5 database unreachable
Documentation: README.md and docs/ (setup.md, credentials.md, workers.md, troubleshooting.md)`;

export interface Outcome {
  exitCode: number;
}

/**
 * The one command `argv` names (command-line.ts, as the code cache reads it): a run needs
 * commander to know only that command (mounting all fifteen costs a few ms of every start). Help
 * of the root or a group, and anything that names no command (a typo that deserves a
 * suggestion), get every command.
 */
export function commandsFor(argv: readonly string[]): readonly CommandSpec[] {
  const named = commandOf(argv);
  const spec = named === undefined ? undefined : COMMANDS.find((s) => s.path.join(' ') === named);
  return spec ? [spec] : COMMANDS;
}

export function buildProgram(io: IO, outcome: Outcome, version: string, commands: readonly CommandSpec[] = COMMANDS, deps: ContextDeps = {}): Command {
  const program = new Command('eos')
    .description('Short-lived PostgreSQL credentials from Vault/OpenBao for the Delphi pipeline')
    .version(version, '-V, --version', 'print the version')
    .option('--config <file>', 'configuration file (else $EOS_CONFIG, ~/.config/eos/config.json, /etc/eos/config.json)')
    .option('--log-file <file>', 'log file (else $EOS_LOG_FILE, /var/log/eos/eos.log, $XDG_STATE_HOME/eos/eos.log)')
    .addOption(new Option('--log-level <level>', 'log level (else $EOS_LOG_LEVEL, info)').choices(LOG_LEVELS))
    .option('--debug', 'print stack traces with errors')
    .addHelpText('after', ROOT_HELP)
    .showSuggestionAfterError(true);

  for (const spec of commands) mount(program, spec, io, outcome, deps);

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

/** Adds one spec under its groups: arguments, options, examples, and the action that runs it. */
function mount(program: Command, spec: CommandSpec, io: IO, outcome: Outcome, deps: ContextDeps): void {
  let parent = program;
  for (let i = 0; i < spec.path.length - 1; i++) {
    const name = spec.path[i] as string;
    parent = parent.commands.find((c) => c.name() === name) ?? parent.command(name).description(GROUPS[spec.path.slice(0, i + 1).join(' ')] ?? '');
  }
  const command = parent.command(spec.path.at(-1) as string).description(spec.description);
  for (const argument of spec.arguments ?? []) command.argument(argument.name, argument.description);
  for (const [key, o] of Object.entries(spec.options)) {
    const option = new Option(o.flags, o.description);
    if (option.attributeName() !== key) throw new Error(`${spec.path.join(' ')}: option ${o.flags} is keyed "${key}", commander names it "${option.attributeName()}"`);
    if (o.choices) option.choices(o.choices);
    // Shown as `(default: 1h)`, the style the descriptions use for defaults they explain.
    if (o.default !== undefined) option.default(o.default, o.default);
    command.addOption(option);
  }
  if (spec.examples.length > 0) command.addHelpText('after', `\nExamples:\n${spec.examples.map((e) => `  $ ${e}`).join('\n')}`);
  command.action(async (...actionArgs: unknown[]) => {
    const positional = actionArgs.slice(0, -2).flat().filter((a): a is string => typeof a === 'string');
    const { createContext } = await import('./context.js');
    const globals = command.optsWithGlobals<GlobalOptions>();
    // Checked before any work, even by commands that may never log.
    if (globals.logFile) checkLogFile(globals.logFile, '--log-file');
    else if (io.env.EOS_LOG_FILE) checkLogFile(io.env.EOS_LOG_FILE, 'EOS_LOG_FILE');
    const context = createContext(io, globals, deps);
    const { interrupt } = context;
    try {
      const running = spec.run(command.opts() as never, context, positional);
      const code = await (spec.ownsSignals ? running : unlessInterrupted(interrupt, running));
      outcome.exitCode = code ?? 0;
    } catch (err) {
      throw err instanceof InterruptedError ? err : await context.userError(err);
    } finally {
      await context.close();
    }
  });
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
/**
 * Runs one eos command line. `deps` replaces what a run's context builds by default (the clock,
 * the Vault session, the database): tests drive a command in-process with their own.
 */
export async function main(argv: string[], io: IO, version: string, deps: ContextDeps = {}): Promise<number> {
  const outcome: Outcome = { exitCode: 0 };
  const program = buildProgram(io, outcome, version, commandsFor(argv), deps);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return outcome.exitCode;
  } catch (err) {
    const json = wantsJson(argv);
    if (err instanceof CommanderError) {
      // --help and --version exit 0; every other parse failure (and a bare group) is usage: 2.
      if (err.exitCode === 0) return 0;
      if (json) {
        const { writeJsonError } = await import('./report-error.js');
        writeJsonError(io, { message: err.message.replace(/^error: /, ''), hint: `run with --help for usage`, exitCode: 2 });
      }
      return 2;
    }
    const debug = argv.includes('--debug');
    const { reportError } = await import('./report-error.js');
    return reportError(err, io, { debug, json });
  }
}
