import { constants } from 'node:os';

/**
 * SIGINT and SIGTERM for a command that owns things to clean up (a sandbox, a lease): the first
 * signal aborts `signal`, so the work in progress stops at its next step and removes what it
 * started; later ones (a second Ctrl-C, the same signal sent to the whole process group) only
 * say that the clean-up is under way, rather than killing it half-way.
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

export function onInterrupt(say: (line: string) => void): Interrupt {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  let resolveNext!: (signal: NodeJS.Signals) => void;
  const next = new Promise<NodeJS.Signals>((resolve) => (resolveNext = resolve));
  const handler = (name: NodeJS.Signals) => {
    if (received) return say(`${name}: still cleaning up, please wait`);
    received = name;
    controller.abort(new Error(`interrupted by ${name}`));
    resolveNext(name);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    next,
    exitCode: () => 128 + (received ? (constants.signals[received] ?? 0) : 0),
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
