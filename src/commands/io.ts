import type { Readable, Writable } from 'node:stream';

/** The streams and environment a command may touch; tests pass their own. */
export interface IO {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable;
  env: NodeJS.ProcessEnv;
  /**
   * Whether a person is at a terminal on that side: false when the stream is not a terminal,
   * and false under CI=true even when it is (a CI runner may allocate a pseudo-terminal). No
   * prompt, live screen or colour is shown unless both are true.
   */
  stdoutIsTTY: boolean;
  stdinIsTTY: boolean;
}

/** CI=true (GitHub Actions, GitLab CI and most others set it): never interactive. */
export function runningInCI(env: NodeJS.ProcessEnv): boolean {
  const value = (env.CI ?? '').toLowerCase();
  return value !== '' && value !== 'false' && value !== '0';
}

export function processIO(): IO {
  // A reader that stops reading (`eos … | head`) is a normal end, not a crash: what is left to
  // print goes nowhere, and the command still finishes its clean-up (revoke, remove files).
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
  }
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    stdoutIsTTY: Boolean(process.stdout.isTTY) && !runningInCI(process.env),
    stdinIsTTY: Boolean(process.stdin.isTTY) && !runningInCI(process.env),
  };
}
