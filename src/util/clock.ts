/**
 * Time and timers, injected everywhere a lease is timed (the keeper, the pool, the dev server),
 * so tests can run a whole lease timeline on a fake clock.
 */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): Timer;
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
};
