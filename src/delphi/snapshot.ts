import type { CredentialState } from '../credentials/credential-state.js';
import * as z from 'zod/mini';
import { OperationFailedError } from '../errors.js';

export type { CredentialState } from '../credentials/credential-state.js';

/** Everything the dashboard shows, read in one go (docs/design.md §8); `--json` prints exactly this. */

export const PIPELINE_STATES = ['new', 'enriched', 'analyzed', 'structured', 'formatted', 'sent'] as const;

export interface FlowStage {
  state: string;
  count: number;
  oldestSeconds: number | null;
  avgAgeSeconds: number | null;
  /** pipeline_health's verdict; `done` for sent alerts, whose age says nothing about the pipeline. */
  health: 'Healthy' | 'Monitor' | 'ATTENTION NEEDED' | 'empty' | 'done';
}


export interface Snapshot {
  takenAt: string;
  ms: number;
  slowestQuery: { name: string; ms: number };
  flow: FlowStage[];
  failed: number;
  throughput: { ingested5m: number; sent5m: number };
  bottlenecks: { state: string; over1h: number; over30m: number; over10m: number; total: number }[];
  parsers: { promptType: string; parser: string; attempts: number; successRate: number; avgMs: number; lastUsed: string | null }[];
  parserErrors: { promptType: string; parser: string; error: string; count: number }[];
  /** One page of every failed alert, newest first: rows `failuresOffset` … of `failuresTotal`. */
  failures: FailureRow[];
  failuresOffset: number;
  failuresTotal: number;
  failureSummary: { type: string; count: number; newest: string | null }[];
  agents: { top: { id: string; name: string; status: string | null; alerts24h: number; lastSeen: string | null }[]; byStatus: { status: string; count: number }[] };
  credentials: CredentialState | null;
  /**
   * The server the snapshot was read from: a standby (with how far its replay is behind the
   * primary, in seconds; 0 when it has replayed all it received) or the primary.
   */
  server: { host: string | null; standby: boolean; replayLagSeconds: number | null };
  /**
   * The database's side of dynamic credentials, as any login may see it (pg_roles and
   * pg_stat_activity): Vault's users alive, their sessions, and those past VALID UNTIL — which
   * ends logins, not open sessions. Orphans need Vault's leases: `eos self secrets audit`.
   */
  dynamicRoles: { alive: number; expired: number; sessions: number; staleSessions: number; perRole: { role: string; sessions: number; expired: boolean }[] };
}

export interface FailureRow {
  id: number;
  state: string;
  agent: string;
  reason: string;
  error: string | null;
  ageSeconds: number;
}

type Query = (text: string, values?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>;

/**
 * Every alert state as a constant array: the planner scans one range of the (state,
 * ingest_timestamp) index per state. A constant, not enum_range(): a seq scan (a small table)
 * would otherwise look the enum up again for every row.
 */
const EVERY_STATE = `'{new,enriched,analyzed,structured,formatted,sent,failed,archived}'::alert_state[]`;

/** Failed alerts a snapshot carries when the view has not asked for another page. */
export const FAILURES_PAGE = 20;

/**
 * The dashboard's queries over eos's views (src/delphi/migrations/): totals from the rollups,
 * the rest through indexes, so each costs what is on screen, not the history.
 */
export const DASHBOARD_QUERIES = {
  flow: `SELECT state::text AS state, count::int AS count, EXTRACT(epoch FROM now() - oldest)::int AS oldest_s,
                avg_age_seconds::float AS avg_s, health_status FROM eos.pipeline_flow`,
  // Time windows are ranges of the pipeline's (state, ingest_timestamp) index, one per state:
  // eos adds no index that every write of the pipeline would have to update.
  throughput: `SELECT (SELECT count(*)::int FROM alerts WHERE state = ANY (${EVERY_STATE})
                         AND ingest_timestamp > now() - interval '5 minutes') AS ingested,
                      (SELECT count(*)::int FROM alerts WHERE alert_sent_at > now() - interval '5 minutes') AS sent`,
  bottlenecks: `SELECT state::text AS state, stuck_over_1hr::int AS h1, stuck_over_30min::int AS m30, stuck_over_10min::int AS m10,
                       total_in_state::int AS total FROM eos.pipeline_bottlenecks`,
  parsers: `SELECT prompt_type, parser_used, total_attempts::int AS attempts, success_rate::float AS rate, avg_duration_ms::float AS avg_ms,
                   last_used FROM eos.parser_performance ORDER BY total_attempts DESC, prompt_type, parser_used LIMIT 20`,
  parserErrors: `SELECT prompt_type, parser_used, parser_error, error_count::int AS n FROM eos.parser_errors`,
  // $1 rows from $2 on: the page the Failures view shows.
  failures: `SELECT id::int AS id, state::text AS state, agent_id, failure_reason, COALESCE(email_error, parser_error) AS error,
                    age_seconds::int AS age FROM eos.failures LIMIT $1 OFFSET $2`,
  failureSummary: `SELECT failure_type, count::int AS count, newest_failure FROM eos.failure_summary ORDER BY count DESC, failure_type`,
  agentsTop: `SELECT a.id, a.name, a.status_text, a.last_seen, t.n::int AS n
                FROM (SELECT agent_id, count(*) AS n FROM alerts WHERE state = ANY (${EVERY_STATE})
                         AND ingest_timestamp > now() - interval '24 hours'
                       GROUP BY agent_id ORDER BY count(*) DESC LIMIT 10) t
                JOIN agents a ON a.id = t.agent_id ORDER BY t.n DESC`,
  agentsByStatus: `SELECT COALESCE(status_text, 'unknown') AS status, count(*)::int AS n FROM agents GROUP BY 1 ORDER BY 2 DESC`,
  dynamicRoles: `SELECT count(*) FILTER (WHERE r.rolvaliduntil IS NULL OR r.rolvaliduntil >= now())::int AS alive, count(*) FILTER (WHERE r.rolvaliduntil < now())::int AS expired,
                        (SELECT count(*)::int FROM pg_stat_activity a WHERE a.usename LIKE 'v-%') AS sessions,
                        (SELECT count(*)::int FROM pg_stat_activity a JOIN pg_roles x ON x.rolname = a.usename
                          WHERE x.rolname LIKE 'v-%' AND x.rolvaliduntil < now()) AS stale
                   FROM pg_roles r WHERE r.rolname LIKE 'v-%'`,
  dynamicSessions: `SELECT a.usename::text AS role, count(*)::int AS n, bool_or(COALESCE(r.rolvaliduntil < now(), false)) AS expired
                      FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename
                     WHERE a.usename LIKE 'v-%' GROUP BY a.usename ORDER BY expired DESC, n DESC, role LIMIT 10`,
  // A standby's lag: nothing when it has replayed all it received (an idle primary's last
  // transaction may be hours old), else the age of the last transaction it replayed.
  server: `SELECT pg_is_in_recovery() AS standby,
                  CASE WHEN NOT pg_is_in_recovery() THEN NULL
                       WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
                       WHEN pg_last_xact_replay_timestamp() IS NULL THEN NULL
                       ELSE GREATEST(0, EXTRACT(epoch FROM now() - pg_last_xact_replay_timestamp()))::float END AS lag_s`,
} as const;

const int = z.number();
const text = z.string();
const maybeText = z.nullable(z.string());
/** A timestamp column: node-postgres gives a Date (or text, for a type it does not parse). */
const time = z.nullable(z.union([z.date(), z.string()]));

/** The columns each query returns, checked before a view reads them. */
const ROWS = {
  flow: z.object({ state: text, count: int, oldest_s: z.nullable(int), avg_s: z.nullable(z.number()), health_status: z.enum(['Healthy', 'Monitor', 'ATTENTION NEEDED']) }),
  throughput: z.object({ ingested: int, sent: int }),
  bottlenecks: z.object({ state: text, h1: int, m30: int, m10: int, total: int }),
  parsers: z.object({ prompt_type: text, parser_used: text, attempts: int, rate: z.number(), avg_ms: z.number(), last_used: time }),
  parserErrors: z.object({ prompt_type: text, parser_used: text, parser_error: text, n: int }),
  failures: z.object({ id: int, state: text, agent_id: text, failure_reason: text, error: maybeText, age: int }),
  failureSummary: z.object({ failure_type: text, count: int, newest_failure: time }),
  agentsTop: z.object({ id: text, name: text, status_text: maybeText, last_seen: time, n: int }),
  agentsByStatus: z.object({ status: text, n: int }),
  server: z.object({ standby: z.boolean(), lag_s: z.nullable(z.number()) }),
  dynamicRoles: z.object({ alive: int, expired: int, sessions: int, stale: int }),
  dynamicSessions: z.object({ role: text, n: int, expired: z.boolean() }),
} as const;

type QueryName = keyof typeof DASHBOARD_QUERIES;
type Row<N extends QueryName> = z.output<(typeof ROWS)[N]>;

/** The database answered a dashboard query with columns of another shape (an older schema?). */
export class SnapshotShapeError extends OperationFailedError {
  constructor(query: string, detail: string) {
    super(`the dashboard's ${query} query returned rows of another shape: ${detail}`, 'the Delphi views may be from another version: re-apply the schema, then try again');
  }
}

function parseRows<N extends QueryName>(name: N, rows: Record<string, unknown>[]): Row<N>[] {
  const result = z.array(ROWS[name] as unknown as z.ZodMiniType<Row<N>>).safeParse(rows);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new SnapshotShapeError(name, `row ${String(issue?.path[0] ?? '?')}, column ${String(issue?.path[1] ?? '?')}: ${issue?.message ?? 'unexpected value'}`);
}

export interface SnapshotOptions {
  /** The first failed alert the Failures view needs (it pages through all of them). */
  failuresOffset?: number;
  failuresLimit?: number;
}

export async function takeSnapshot(query: Query, credentials: CredentialState | null, options: SnapshotOptions = {}): Promise<Snapshot> {
  const start = performance.now();
  let slowest = { name: '', ms: 0 };
  const failuresOffset = Math.max(0, Math.floor(options.failuresOffset ?? 0));
  const timed = async <N extends QueryName>(name: N): Promise<Row<N>[]> => {
    const t = performance.now();
    const result = await query(DASHBOARD_QUERIES[name], name === 'failures' ? [options.failuresLimit ?? FAILURES_PAGE, failuresOffset] : undefined);
    const ms = performance.now() - t;
    if (ms > slowest.ms) slowest = { name, ms: Math.round(ms * 10) / 10 };
    return parseRows(name, result.rows);
  };
  const [flow, throughput, bottlenecks, parsers, parserErrors, failures, failureSummary, agentsTop, agentsByStatus, server, dynamicRoles, dynamicSessions] = await Promise.all([
    timed('flow'),
    timed('throughput'),
    timed('bottlenecks'),
    timed('parsers'),
    timed('parserErrors'),
    timed('failures'),
    timed('failureSummary'),
    timed('agentsTop'),
    timed('agentsByStatus'),
    timed('server'),
    timed('dynamicRoles'),
    timed('dynamicSessions'),
  ]);
  const byState = new Map(flow.map((r) => [r.state, r]));
  const stage = (state: string): FlowStage => {
    const r = byState.get(state);
    return r
      ? {
          state,
          count: r.count,
          oldestSeconds: r.oldest_s,
          avgAgeSeconds: r.avg_s === null ? null : Math.round(r.avg_s),
          health: state === 'sent' ? 'done' : r.health_status,
        }
      : { state, count: 0, oldestSeconds: null, avgAgeSeconds: null, health: 'empty' };
  };
  const iso = (v: Date | string | null) => (v instanceof Date ? v.toISOString() : v);
  return {
    takenAt: new Date().toISOString(),
    ms: Math.round(performance.now() - start),
    slowestQuery: slowest,
    flow: PIPELINE_STATES.map(stage),
    failed: stage('failed').count,
    throughput: { ingested5m: throughput[0]?.ingested ?? 0, sent5m: throughput[0]?.sent ?? 0 },
    bottlenecks: bottlenecks.map((r) => ({ state: r.state, over1h: r.h1, over30m: r.m30, over10m: r.m10, total: r.total })),
    parsers: parsers.map((r) => ({ promptType: r.prompt_type, parser: r.parser_used, attempts: r.attempts, successRate: r.rate, avgMs: r.avg_ms, lastUsed: iso(r.last_used) })),
    parserErrors: parserErrors.map((r) => ({ promptType: r.prompt_type, parser: r.parser_used, error: r.parser_error, count: r.n })),
    failures: failures.map(failureRow),
    failuresOffset,
    failuresTotal: failureSummary.reduce((n, r) => n + r.count, 0),
    failureSummary: failureSummary.map((r) => ({ type: r.failure_type, count: r.count, newest: iso(r.newest_failure) })),
    agents: {
      top: agentsTop.map((r) => ({ id: r.id, name: r.name, status: r.status_text, alerts24h: r.n, lastSeen: iso(r.last_seen) })),
      byStatus: agentsByStatus.map((r) => ({ status: r.status, count: r.n })),
    },
    credentials,
    dynamicRoles: {
      alive: dynamicRoles[0]?.alive ?? 0,
      expired: dynamicRoles[0]?.expired ?? 0,
      sessions: dynamicRoles[0]?.sessions ?? 0,
      staleSessions: dynamicRoles[0]?.stale ?? 0,
      perRole: dynamicSessions.map((r) => ({ role: r.role, sessions: r.n, expired: r.expired })),
    },
    server: { host: credentials?.pool.host ?? null, standby: server[0]?.standby ?? false, replayLagSeconds: server[0]?.lag_s === null || server[0]?.lag_s === undefined ? null : Math.round(server[0].lag_s * 10) / 10 },
  };
}

function failureRow(r: Row<'failures'>): FailureRow {
  return { id: r.id, state: r.state, agent: r.agent_id, reason: r.failure_reason, error: r.error, ageSeconds: r.age };
}

/** One page of the failure list alone: what the Failures view asks for while it scrolls. */
export async function takeFailuresPage(query: Query, offset: number, limit: number): Promise<FailureRow[]> {
  const result = await query(DASHBOARD_QUERIES.failures, [limit, Math.max(0, Math.floor(offset))]);
  return parseRows('failures', result.rows).map(failureRow);
}
