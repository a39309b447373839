/**
 * What happens when something throws that nothing caught — a bug, or a library's error on a
 * timer: the process must not die leaving a live lease, a worker, a sandbox or a temp folder
 * behind (docs/security.md). Commands register what they must undo while they run; the CLI
 * process installs the handler, which runs every registered clean-up (for a few seconds at
 * most), prints the failure as one `error:` line, and exits 1. In-process runs (tests) install
 * nothing: the registry is then only a list that each run empties again.
 */

type Cleanup = () => Promise<unknown> | unknown;

const cleanups = new Set<Cleanup>();

/** How long the clean-ups may take before the process exits anyway. */
const CLEANUP_LIMIT_MS = 5_000;

/** Registers a clean-up for the last resort; returns how to take it back (when the run undoes it itself). */
export function onLastResort(cleanup: Cleanup): () => void {
  cleanups.add(cleanup);
  return () => void cleanups.delete(cleanup);
}

/**
 * A run's clean-up, done once: by the run itself (call the returned function in its `finally`)
 * or, if the process dies of an uncaught error first, by the last resort. One list of what to
 * undo serves both.
 */
export function cleanUpOnce(cleanup: Cleanup): () => Promise<void> {
  let done: Promise<void> | undefined;
  const run = () => (done ??= Promise.resolve().then(cleanup).then(() => undefined));
  const undo = onLastResort(run);
  return () => {
    undo();
    return run();
  };
}

/** Runs every registered clean-up once, newest first, within the time limit. */
export async function runLastResort(): Promise<void> {
  const pending = [...cleanups].reverse();
  cleanups.clear();
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, CLEANUP_LIMIT_MS);
  });
  const all = (async () => {
    for (const cleanup of pending) await Promise.resolve().then(cleanup).catch(() => undefined);
  })();
  await Promise.race([all, limit]);
  clearTimeout(timer);
}

/**
 * For the CLI process only: an uncaught exception or unhandled rejection runs the clean-ups,
 * reports itself through `report` (one line, secrets scrubbed) and exits 1. A second failure
 * during the clean-up does not start another.
 */
export function installLastResort(report: (err: unknown) => void): void {
  let handling = false;
  const handler = (err: unknown) => {
    if (handling) return;
    handling = true;
    report(err);
    void runLastResort().finally(() => process.exit(1));
  };
  process.on('uncaughtException', handler);
  process.on('unhandledRejection', handler);
}
