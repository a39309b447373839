import type { CommandContext } from './context.js';

/**
 * What a command is, in one place: its name, help, arguments, options (with types, defaults,
 * choices) and examples beside its run function — the shape of gh's `NewCmdX(f, runF)` with its
 * options struct. A spec module imports nothing heavy at its top: `eos --help` loads every spec,
 * and each run imports what it needs when it runs.
 */

export interface OptionSpec {
  /** commander's flag syntax: `--host <host>` takes a value, `--json` is a switch. */
  flags: string;
  description: string;
  default?: string;
  choices?: readonly string[];
}

export interface ArgumentSpec {
  /** `<path>` (one) or `<command...>` (the rest). */
  name: string;
  description: string;
}

/** The value an option parses to: a choice, a string for `<value>` flags, else a boolean. */
type ValueOf<S extends OptionSpec> = S extends { choices: readonly (infer C)[] } ? C : S['flags'] extends `${string}<${string}>` ? string : boolean;

/** The options a run receives, typed from the spec: present when defaulted, else optional. */
export type OptionValues<M extends Record<string, OptionSpec>> = {
  [K in keyof M]: M[K] extends { default: string } ? ValueOf<M[K]> : ValueOf<M[K]> | undefined;
};

export interface CommandSpec<M extends Record<string, OptionSpec> = Record<string, OptionSpec>> {
  /** Words after `eos`, e.g. ['self', 'secrets', 'get']. */
  path: readonly string[];
  description: string;
  arguments?: readonly ArgumentSpec[];
  /** Keyed by the name commander gives the flag (`--max-ttl` → maxTtl); checked when mounted. */
  options: M;
  /** 1–3 command lines shown under "Examples:" in --help. */
  examples: readonly string[];
  /**
   * The command answers SIGINT and SIGTERM itself through `context.interrupt` (stops what it
   * started, passes the signal to a worker). Any other command is cut off where it waits when a
   * signal comes, and its context closes what it opened (docs/design.md §1).
   */
  ownsSignals?: boolean;
  run(options: OptionValues<M>, context: CommandContext, args: string[]): Promise<number | void>;
}

/** Declares a command; the identity function that gives `run` its typed options. */
export function defineCommand<const M extends Record<string, OptionSpec>>(spec: CommandSpec<M>): CommandSpec<M> {
  return spec;
}

/** The options nearly every reporting command has. */
export const JSON_OPTION = { flags: '--json', description: 'print the result as JSON' } as const;
export const SOURCE_OPTION = { flags: '--source <list>', description: 'allowed credential sources, in order, e.g. dynamic,env (default: credentials.sources in the config)' } as const;
export const METRICS_OPTION = { flags: '--metrics-listen <host:port>', description: 'serve Prometheus /metrics and /healthz there (a bare port means 127.0.0.1)' } as const;
