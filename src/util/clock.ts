/**
 * Time and timers, injected everywhere something is timed (the keeper, the pool, the listener,
 * the Vault transport, the dev server), so tests can run a whole lease timeline on a fake clock.
 * Random draws (jitter, backoff spread) are injected beside it as `random: () => number`.
 */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  now(): number;
  /** A timer that does not keep the process alive: planned work, dropped if the process ends. */
  setTimeout(fn: () => void, ms: number): Timer;
  /**
   * A pause someone awaits, which does keep the process alive (a retry's wait: with nothing else
   * pending, an unreferenced timer would let Node exit under the awaiting command).
   * Clocks without it sleep on `setTimeout`.
   */
  sleep?(ms: number): Promise<void>;
}

/** Waits `ms` on the clock. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return clock.sleep ? clock.sleep(ms) : new Promise((resolve) => clock.setTimeout(resolve, ms));
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    // Node caps timers at 2^31-1 ms (~24.8 days); longer ones re-arm so a 768h lease still fires.
    const MAX = 2 ** 31 - 1;
    let handle: NodeJS.Timeout;
    const arm = (left: number) => {
      handle = setTimeout(() => (left > MAX ? arm(left - MAX) : fn()), Math.min(Math.max(left, 0), MAX));
      handle.unref();
    };
    arm(ms);
    return { cancel: () => clearTimeout(handle) };
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};
