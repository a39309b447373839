/**
 * A fixed-rate query load: `qps` queries a second for `durationMs`, each started on schedule
 * whether or not earlier ones finished (as independent users would), every outcome recorded.
 */
export interface QueryOutcome {
  startedAt: number;
  ms: number;
  error?: string;
}

export interface LoadResult {
  outcomes: QueryOutcome[];
  errors: QueryOutcome[];
}

export async function runLoad(options: { qps: number; durationMs: number; query: () => Promise<unknown>; tickMs?: number }): Promise<LoadResult> {
  const tick = options.tickMs ?? 10;
  const outcomes: QueryOutcome[] = [];
  const inFlight = new Set<Promise<void>>();
  const start = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - start;
      const due = Math.min(Math.floor((Math.min(elapsed, options.durationMs) / 1000) * options.qps), Math.floor((options.durationMs / 1000) * options.qps));
      for (; sent < due; sent++) {
        const began = performance.now();
        const startedAt = Date.now();
        const p = options
          .query()
          .then(
            () => void outcomes.push({ startedAt, ms: performance.now() - began }),
            (err: unknown) => void outcomes.push({ startedAt, ms: performance.now() - began, error: err instanceof Error ? err.message : String(err) }),
          )
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      if (elapsed >= options.durationMs) {
        clearInterval(timer);
        resolve();
      }
    }, tick);
  });
  await Promise.all([...inFlight]);
  return { outcomes, errors: outcomes.filter((o) => o.error !== undefined) };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
