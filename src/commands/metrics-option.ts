import type { CommandContext } from './context.js';

/** Starts `--metrics-listen` and says where on stderr; the telemetry module loads only then. */
export async function startMetrics(listen: string, context: CommandContext, options: { holdsCredentials?: boolean } = {}) {
  const { startMetricsServer } = await import('../telemetry/metrics.js');
  const metrics = await startMetricsServer(listen, options);
  context.io.stderr.write(`metrics at http://${metrics.address}/metrics, health at http://${metrics.address}/healthz\n`);
  return metrics;
}
