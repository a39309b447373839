import { Box, Text } from 'ink';
import { useEffect } from 'react';
import { age, pad, printable } from '../format.js';
import { PIPELINE_STATES, type CredentialState, type FlowStage, type Snapshot } from '../snapshot.js';

/** The six views of docs/design.md §8: pure functions of a snapshot, so tests render them directly. */

export const VIEWS = ['Overview', 'Health', 'Parsers', 'Failures', 'Agents', 'Credentials'] as const;
export type ViewName = (typeof VIEWS)[number];

const HEALTH_COLOR: Record<FlowStage['health'], string> = { Healthy: 'green', Monitor: 'yellow', 'ATTENTION NEEDED': 'red', empty: 'gray', done: 'gray' };

interface ViewProps {
  snapshot: Snapshot;
  credentials: CredentialState | null;
  width: number;
  height: number;
  scroll: number;
  /** Set by the view to how far its list can scroll, so the App stops scrolling there. */
  scrollLimit?: { current: number };
  /** The Failures view asks for the failed alerts it is about to show (the model fetches them). */
  seekFailures?: ((start: number, count: number) => void) | undefined;
}

interface RowsProps {
  header?: string[];
  /** The rows held: all of them, or rows `offset` … of `total` (a page of a longer list). */
  rows: string[];
  total?: number;
  offset?: number;
  height: number;
  scroll: number;
  scrollLimit?: { current: number } | undefined;
}

/** Which rows of a list fit under its header, from the scroll position: clamped to the last page. */
export function visibleWindow(total: number, height: number, headerLines: number, scroll: number): { start: number; room: number; fits: boolean } {
  const fits = total <= height - headerLines;
  // One line goes to the position when the rows do not fit.
  const room = Math.max(1, height - headerLines - (fits ? 0 : 1));
  return { start: Math.min(scroll, Math.max(0, total - room)), room, fits };
}

/**
 * A list under a fixed header: the header lines stay, the rows scroll, and the position counts
 * rows only (`1–20 of 256`). Scrolling stops at the last page: the view tells the App how far.
 * A row not fetched yet (a page on its way) shows as `…`.
 */
function Rows({ header = [], rows, total = rows.length, offset = 0, height, scroll, scrollLimit }: RowsProps) {
  const { start, room, fits } = visibleWindow(total, height, header.length, scroll);
  if (scrollLimit) scrollLimit.current = Math.max(0, total - room);
  const shown = Array.from({ length: Math.max(0, Math.min(room, total - start)) }, (_, i) => rows[start + i - offset] ?? '…');
  return (
    <Box flexDirection="column">
      {header.map((line, i) => (
        <Text key={`h${i}`} bold={i === header.length - 1}>
          {line}
        </Text>
      ))}
      {shown.map((row, i) => (
        <Text key={i}>{row}</Text>
      ))}
      {fits ? null : <Text dimColor>{`${start + 1}–${start + shown.length} of ${total} (↑↓ to scroll)`}</Text>}
    </Box>
  );
}

/** Pipeline order: the states of the flow first, in order, then anything else by name. */
function pipelineOrder(state: string): number {
  const i = (PIPELINE_STATES as readonly string[]).indexOf(state);
  return i === -1 ? PIPELINE_STATES.length : i;
}

export function Overview({ snapshot, width }: ViewProps) {
  const bar = (count: number) => {
    const max = Math.max(1, ...snapshot.flow.map((s) => s.count));
    return '█'.repeat(Math.max(count > 0 ? 1 : 0, Math.round((count / max) * Math.max(4, width - 62))));
  };
  return (
    <Box flexDirection="column">
      <Text bold>{`${pad('STAGE', 12)}${pad('COUNT', 9, true)}${pad('OLDEST', 9, true)}${pad('AVG AGE', 9, true)}  HEALTH`}</Text>
      {snapshot.flow.map((s) => (
        <Text key={s.state}>
          {`${pad(s.state, 12)}${pad(s.count, 9, true)}${pad(age(s.oldestSeconds), 9, true)}${pad(age(s.avgAgeSeconds), 9, true)}  `}
          <Text color={HEALTH_COLOR[s.health]}>{pad(s.health, 17)}</Text>
          <Text color="cyan">{bar(s.count)}</Text>
        </Text>
      ))}
      <Text> </Text>
      <Text>
        {'failed '}
        <Text color={snapshot.failed > 0 ? 'red' : 'green'}>{snapshot.failed}</Text>
        {`   ingested (5 min) ${snapshot.throughput.ingested5m}   sent (5 min) ${snapshot.throughput.sent5m}`}
      </Text>
    </Box>
  );
}

export function Health({ snapshot, height, scroll, scrollLimit }: ViewProps) {
  const header = [`${pad('STATE', 12)}${pad('>10 MIN', 9, true)}${pad('>30 MIN', 9, true)}${pad('>1 H', 9, true)}${pad('IN STATE', 10, true)}`];
  const rows = [...snapshot.bottlenecks]
    .sort((a, b) => pipelineOrder(a.state) - pipelineOrder(b.state) || a.state.localeCompare(b.state))
    .map((b) => `${pad(b.state, 12)}${pad(b.over10m, 9, true)}${pad(b.over30m, 9, true)}${pad(b.over1h, 9, true)}${pad(b.total, 10, true)}`);
  const worst = snapshot.flow.filter((s) => s.health === 'ATTENTION NEEDED').map((s) => s.state);
  return (
    <Box flexDirection="column">
      <Text>{worst.length > 0 ? <Text color="red">{`attention needed: ${worst.join(', ')}`}</Text> : <Text color="green">no stage needs attention</Text>}</Text>
      <Rows header={header} rows={rows} height={height - 1} scroll={scroll} scrollLimit={scrollLimit} />
    </Box>
  );
}

export function Parsers({ snapshot, height, scroll, scrollLimit }: ViewProps) {
  const header = [`${pad('PROMPT', 20)}${pad('PARSER', 16)}${pad('TRIES', 8, true)}${pad('OK %', 8, true)}${pad('AVG MS', 8, true)}`];
  // The errors are counted per prompt type too: without it two rows of one error look doubled.
  const rows = [
    ...snapshot.parsers.map((p) => `${pad(p.promptType, 20)}${pad(p.parser, 16)}${pad(p.attempts, 8, true)}${pad(p.successRate.toFixed(1), 8, true)}${pad(p.avgMs.toFixed(0), 8, true)}`),
    '',
    'errors (24 h):',
    ...snapshot.parserErrors.map((e) => `  ${pad(e.count, 6, true)}  ${pad(e.promptType, 20)}${pad(e.parser, 14)} ${printable(e.error)}`),
  ];
  return <Rows header={header} rows={rows} height={height} scroll={scroll} scrollLimit={scrollLimit} />;
}

/** Every failed alert, paged: the snapshot holds a window of them and the view asks for others. */
export function Failures({ snapshot, height, scroll, scrollLimit, seekFailures }: ViewProps) {
  const header = [
    snapshot.failureSummary.map((f) => `${f.type}: ${f.count}`).join('   ') || 'no failures',
    '',
    `${pad('ID', 9)}${pad('STATE', 11)}${pad('AGENT', 7)}${pad('AGE', 8)}${pad('REASON', 16)}ERROR`,
  ];
  const total = snapshot.failuresTotal;
  const { start, room } = visibleWindow(total, height, header.length, scroll);
  useEffect(() => seekFailures?.(start, room), [seekFailures, start, room]);
  const rows = snapshot.failures.map((f) => `${pad(f.id, 9)}${pad(f.state, 11)}${pad(f.agent, 7)}${pad(age(f.ageSeconds), 8)}${pad(f.reason, 16)}${printable(f.error ?? '')}`);
  return <Rows header={header} rows={rows} total={total} offset={snapshot.failuresOffset} height={height} scroll={scroll} scrollLimit={scrollLimit} />;
}

export function Agents({ snapshot, height, scroll, scrollLimit }: ViewProps) {
  const header = [snapshot.agents.byStatus.map((s) => `${s.status}: ${s.count}`).join('   '), '', `${pad('AGENT', 12)}${pad('STATUS', 17)}${pad('ALERTS 24H', 11, true)}  LAST SEEN`];
  const rows = snapshot.agents.top.map((a) => `${pad(a.name, 12)}${pad(a.status ?? '-', 17)}${pad(a.alerts24h, 11, true)}  ${a.lastSeen?.replace(/\.\d+Z$/, 'Z') ?? '-'}`);
  return <Rows header={header} rows={rows} height={height} scroll={scroll} scrollLimit={scrollLimit} />;
}

export function Credentials({ snapshot, credentials, height, scroll, scrollLimit }: ViewProps) {
  if (!credentials) return <Text>no credential state</Text>;
  const c = credentials;
  const d = snapshot.dynamicRoles;
  // The database's side: Vault's users and their sessions; past VALID UNTIL flagged (it ends
  // logins, not sessions). Orphans need Vault's leases: eos self secrets audit.
  const database = [
    `database  ${d.alive} dynamic role(s), ${d.sessions} session(s)${d.expired + d.staleSessions > 0 ? `; EXPIRED: ${d.expired} role(s), ${d.staleSessions} session(s)` : ''}`,
    ...d.perRole.map((r) => `  ${pad(r.role, 44)} ${pad(r.sessions, 3, true)} session(s)${r.expired ? '  EXPIRED' : ''}`),
  ];
  const rows = [
    `pool      generation ${c.pool.generation}, ${c.pool.total} connections (${c.pool.idle} idle, ${c.pool.waiting} waiting), ${c.pool.retried} retried`,
    `server    ${c.pool.host} (${c.pool.standby ? 'standby' : 'primary'}), moved ${c.pool.hostMoves} time(s); ${c.pool.queries.inDoubt} write(s) in doubt`,
    `last err  ${c.pool.lastError ?? '-'}`,
    `next      ${c.nextActionAt ? c.nextActionAt.replace(/\.\d+Z$/, 'Z') : '-'}`,
    `sources   ${c.attempts.map((a) => `${a.source} ${a.ok ? '✓' : `✗ (${a.reason})`}`).join(' → ')}`,
    ...database,
    '',
    'recent events:',
    ...[...c.events].reverse().map((e) => `  ${new Date(e.at).toISOString().slice(11, 19)}  ${pad(e.type, 13)} ${e.lease ?? ''}${e.ttl !== undefined ? ` ttl ${e.ttl}s` : ''}${e.detail ? ` — ${e.detail}` : ''}`),
  ];
  return (
    <Box flexDirection="column">
      <Text>
        {'source    '}
        <Text color={c.fallback ? 'yellow' : 'green'} bold>
          {c.source}
          {c.fallback ? ' (fallback)' : ''}
        </Text>
        {`  as ${c.user}`}
      </Text>
      <Text>{`lease     ${c.lease ?? '-'}  ${c.ttlSeconds === null ? '' : `TTL ${c.ttlSeconds}s`}  rotations ${c.rotations}`}</Text>
      <Rows rows={rows} height={height - 2} scroll={scroll} scrollLimit={scrollLimit} />
    </Box>
  );
}

export const VIEW_COMPONENTS: Record<ViewName, (props: ViewProps) => React.JSX.Element> = {
  Overview,
  Health,
  Parsers,
  Failures,
  Agents,
  Credentials,
};
