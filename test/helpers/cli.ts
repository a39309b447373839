import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');

export interface CliResult {
  /** Set by a test when the command was asked to print secrets. */
  revealed?: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built CLI as a user would: `node dist/cli.js …` in a child process, with an
 * environment made only of what the test gives (plus PATH), so the machine's own VAULT_* or
 * EOS_* variables never leak in.
 */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: { PATH: process.env.PATH, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    collect(child, resolve, reject);
    child.stdin.end(options.input ?? '');
  });
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
