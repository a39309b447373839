import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { ContextDeps } from '../../src/commands/context.js';
import { wantsJson } from '../../src/commands/output.js';
import { onTestFinished } from 'vitest';
import { assertFitsSchema, schemaNameFor } from './json-schemas.js';
import { REPO_ROOT } from './paths.js';

export { REPO_ROOT };
export const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');

/** Whether text holds an ANSI escape sequence (colour, cursor movement): none may reach a script's capture. */
export function hasAnsi(text: string): boolean {
  return text.includes('\u001b[');
}

export interface CliResult {
  /** Set by a test when the command was asked to print secrets. */
  revealed?: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built CLI as a script in CI would: `node dist/cli.js …` in a child process without a
 * terminal, with CI=true and an environment made only of what the test gives (plus PATH), so
 * the machine's own VAULT_* or EOS_* variables never leak in. Every run is checked for what a
 * script must be able to rely on: no ANSI escape in either stream, and with --json (or
 * --format json) a stdout that is one JSON document fitting its schema in docs/schemas/.
 */
export async function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Promise<CliResult> {
  const result = await new Promise<CliResult>((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: { PATH: process.env.PATH, CI: 'true', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    collect(child, resolve, reject);
    child.stdin.end(options.input ?? '');
  });
  checkForScripts(args, result);
  return result;
}

/** What runCli checks of every run; exported for tests that spawn eos themselves. */
export function checkForScripts(args: string[], result: Pick<CliResult, 'stdout' | 'stderr'>): void {
  for (const [name, text] of [['stdout', result.stdout], ['stderr', result.stderr]] as const) {
    if (hasAnsi(text)) throw new Error(`eos ${args.join(' ')}: an ANSI escape on ${name}: ${JSON.stringify(text.slice(0, 200))}`);
  }
  const schema = schemaNameFor(args);
  if (!wantsJson(args) || !schema || args.includes('--help')) return;
  let document: unknown;
  try {
    document = JSON.parse(result.stdout);
  } catch {
    throw new Error(`eos ${args.join(' ')}: --json printed no single JSON document: ${JSON.stringify(result.stdout.slice(0, 200))}`);
  }
  assertFitsSchema(schema, document);
}

function collect(child: ChildProcessWithoutNullStreams, resolve: (r: CliResult) => void, reject: (err: Error) => void): void {
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  child.on('error', reject);
  child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
}

/** Runs a Node ESM snippet in a child process (for crash tests); `code` may import dist/ modules. */
export function runNodeSnippet(code: string, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, ...env },
    });
    collect(child, resolve, reject);
    child.stdin.end();
  });
}

/**
 * Runs an eos command in this process, as gh's tests drive a command: `main` with the streams,
 * environment (plus PATH and CI=true, nothing of this process's) and input of the test, no
 * terminal — the same checks as `runCli`, without a Node start per call. For what needs a real
 * process (signals, exit codes a shell sees, terminals, leaks after death) use `runCli`.
 */
export async function runEos(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; deps?: ContextDeps } = {}): Promise<CliResult> {
  const [{ main }, { version }] = await Promise.all([import('../../src/commands/program.js'), packageVersion()]);
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  stdin.end(options.input ?? '');
  const env = { PATH: process.env.PATH, CI: 'true', ...options.env };
  const code = await main(args, { stdout, stderr, stdin, env, stdoutIsTTY: false, stdinIsTTY: false }, version, options.deps);
  // Let what the streams still hold arrive.
  await new Promise((resolve) => setImmediate(resolve));
  const result: CliResult = { code, signal: null, stdout: out, stderr: err };
  checkForScripts(args, result);
  return result;
}

let version: Promise<{ version: string }> | undefined;
function packageVersion(): Promise<{ version: string }> {
  version ??= readFile(path.join(REPO_ROOT, 'package.json'), 'utf8').then((text) => JSON.parse(text) as { version: string });
  return version;
}

export interface StartedEos {
  child: ChildProcess;
  /** What it has printed so far. */
  output: { stdout: string; stderr: string };
  /** Its exit code (null when a signal ended it). */
  exited: Promise<number | null>;
}

/**
 * Starts the built CLI as a long-running process (a sandbox, an `exec`, a dashboard) that the
 * test talks to while it runs, with only the environment given; killed when the test ends if it
 * is still there. `nodeArgs` go to Node before the CLI (e.g. `--import` of a fault).
 */
export function startEos(args: string[], options: { env: NodeJS.ProcessEnv; nodeArgs?: string[] }): StartedEos {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI, ...args], { cwd: REPO_ROOT, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const output = { stdout: '', stderr: '' };
  child.stdout?.on('data', (d) => (output.stdout += d));
  child.stderr?.on('data', (d) => (output.stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { child, output, exited };
}
