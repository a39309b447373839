import { constants } from 'node:os';
import { EosError, ExitCode } from '../errors.js';

/**
 * SIGINT and SIGTERM, one handler for the whole run (the CLI's; a test makes its own and fires
 * it). The first signal aborts `signal`: a command that owns its signals (the dashboard, the
 * sandbox, exec) stops what it is starting and removes it; every other command is cut off where
 * it waits — a Vault that never answers, a PostgreSQL that does not accept — and its context
 * closes what it opened (the lease revoked) within a second. Later signals (a second Ctrl-C, the
 * same signal sent to the whole process group) only say that the clean-up is under way.
 */
export interface Interrupt {
  readonly signal: AbortSignal;
  /** The first signal received, if any. */
  readonly received: NodeJS.Signals | undefined;
  /** Resolves with the first signal. */
  readonly next: Promise<NodeJS.Signals>;
  /** The exit code the shell gives for that signal: 128 + its number (130 for SIGINT). */
  exitCode(): number;
  dispose(): void;
}

/** What a signal ends a command with: one line, and the shell's exit code for it. */
export class InterruptedError extends EosError {
  constructor(readonly signalName: NodeJS.Signals) {
    super(`interrupted by ${signalName}`, { exitCode: signalName === 'SIGTERM' ? ExitCode.terminated : ExitCode.cancelled });
  }
}

/** An interrupt fired by `fire` alone: the core of `onInterrupt`, and what tests drive. */
export function interruptController(say: (line: string) => void = () => undefined): Interrupt & { fire(name: NodeJS.Signals): void } {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  let resolveNext!: (signal: NodeJS.Signals) => void;
  const next = new Promise<NodeJS.Signals>((resolve) => (resolveNext = resolve));
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    next,
    exitCode: () => 128 + (received ? (constants.signals[received] ?? 0) : 0),
    fire(name) {
      if (received) return say(`${name}: still cleaning up, please wait`);
      received = name;
      controller.abort(new InterruptedError(name));
      resolveNext(name);
    },
    dispose: () => undefined,
  };
}

/** The process's SIGINT and SIGTERM, as an Interrupt. */
export function onInterrupt(say: (line: string) => void): Interrupt {
  const interrupt = interruptController(say);
  const handler = (name: NodeJS.Signals) => interrupt.fire(name);
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return Object.assign(interrupt, {
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  });
}

/**
 * `work`, unless the interrupt comes first: then, if `work` has not ended by itself within
 * `graceMs` (a prompt that closes on the signal says "cancelled" in its own words), an
 * InterruptedError. The work is left to the process's exit.
 */
export function unlessInterrupted<T>(interrupt: Interrupt, work: Promise<T>, graceMs = 250): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const stop = () => {
      timer = setTimeout(() => reject(new InterruptedError(interrupt.received ?? 'SIGINT')), graceMs);
    };
    if (interrupt.received) stop();
    else interrupt.signal.addEventListener('abort', stop, { once: true });
    const settle = () => {
      interrupt.signal.removeEventListener('abort', stop);
      clearTimeout(timer);
    };
    work.then(
      (value) => {
        settle();
        resolve(value);
      },
      (err: unknown) => {
        settle();
        reject(err);
      },
    );
  });
}
