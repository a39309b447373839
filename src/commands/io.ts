import type { Readable, Writable } from 'node:stream';

/** The streams and environment a command may touch; tests pass their own. */
export interface IO {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable;
  env: NodeJS.ProcessEnv;
  stdoutIsTTY: boolean;
  stdinIsTTY: boolean;
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
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    stdinIsTTY: Boolean(process.stdin.isTTY),
  };
}
