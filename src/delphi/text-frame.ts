import { age, pad } from './format.js';
import type { Snapshot } from './snapshot.js';

/** Where the snapshot was read: `primary 10.0.0.5:5432` or `standby 10.0.0.6:5432, replay lag 0.4 s`. */
export function serverText(snapshot: Pick<Snapshot, 'server'>): string {
  const host = snapshot.server.host ?? '';
  const s = snapshot.server;
  if (!s.standby) return `primary ${host}`.trim();
  return `standby ${host}, replay lag ${s.replayLagSeconds === null ? 'unknown' : `${s.replayLagSeconds} s`}`;
}

/** One plain-text frame of the Overview (what `--once` prints; no ANSI codes). */
export function overviewText(snapshot: Snapshot, options: { stale?: boolean } = {}): string {
  const c = snapshot.credentials;
  const lines: string[] = [];
  lines.push(`eos · Delphi pipeline · ${snapshot.takenAt.replace(/\.\d+Z$/, 'Z')}${options.stale ? ' · STALE' : ''}`);
  if (c) {
    const lease = c.lease ? `, lease ${c.lease} ${c.ttlSeconds ?? '-'}s left` : '';
    lines.push(`credentials: ${c.source}${c.fallback ? ' (FALLBACK)' : ''} as ${c.user}${lease}, ${c.rotations} rotation(s)`);
  }
  lines.push(`read from: ${serverText(snapshot)}`);
  lines.push('');
  lines.push(`${pad('STAGE', 12)}${pad('COUNT', 9, true)}${pad('OLDEST', 10, true)}${pad('AVG AGE', 10, true)}  HEALTH`);
  for (const s of snapshot.flow) {
    lines.push(`${pad(s.state, 12)}${pad(s.count, 9, true)}${pad(age(s.oldestSeconds), 10, true)}${pad(age(s.avgAgeSeconds), 10, true)}  ${s.health}`);
  }
  lines.push('');
  lines.push(`failed ${snapshot.failed} · ingested (5 min) ${snapshot.throughput.ingested5m} · sent (5 min) ${snapshot.throughput.sent5m} · snapshot ${snapshot.ms} ms`);
  return `${lines.join('\n')}\n`;
}
