import { EventEmitter } from 'node:events';
import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import type { CredentialState, Snapshot } from '../../src/delphi/snapshot.js';
import { overviewText } from '../../src/delphi/text-frame.js';
import { App, type DashboardSource } from '../../src/delphi/ui/App.js';
import { VIEW_COMPONENTS } from '../../src/delphi/ui/views.js';

const credentials: CredentialState = {
  source: 'dynamic',
  user: 'v-root-delphi-r-AbCdEfGhIjKlMnOpQrSt-1795870000',
  lease: 'database/creds/delphi-readonly/Ab3x…',
  ttlSeconds: 42,
  nextActionAt: '2026-11-28T12:00:30.000Z',
  rotations: 3,
  fallback: false,
  alert: null,
  pool: { generation: 4, rotations: 3, source: 'dynamic', user: 'v-root', total: 5, idle: 4, waiting: 0, retried: 2, queries: { ok: 100, failed: 0, inDoubt: 0 }, lastError: null, host: '127.0.0.1:5432', standby: false, hostMoves: 0 },
  events: [{ type: 'rotated', at: Date.UTC(2026, 10, 28, 12, 0, 0), lease: 'database/creds/delphi-readonly/Ab3x…', ttl: 60, detail: 'max_ttl reached' }],
  attempts: [{ source: 'dynamic', ok: true, ms: 12 }],
};

const snapshot: Snapshot = {
  takenAt: '2026-11-28T12:00:00.000Z',
  ms: 41,
  slowestQuery: { name: 'flow', ms: 20 },
  flow: [
    { state: 'new', count: 12, oldestSeconds: 65, avgAgeSeconds: 40, health: 'Healthy' },
    { state: 'enriched', count: 3, oldestSeconds: 2000, avgAgeSeconds: 1900, health: 'Monitor' },
    { state: 'analyzed', count: 0, oldestSeconds: null, avgAgeSeconds: null, health: 'empty' },
    { state: 'structured', count: 7, oldestSeconds: 7300, avgAgeSeconds: 7200, health: 'ATTENTION NEEDED' },
    { state: 'formatted', count: 1, oldestSeconds: 5, avgAgeSeconds: 5, health: 'Healthy' },
    { state: 'sent', count: 9000, oldestSeconds: 86400, avgAgeSeconds: 40000, health: 'done' },
  ],
  failed: 25,
  throughput: { ingested5m: 30, sent5m: 28 },
  bottlenecks: [{ state: 'structured', over1h: 7, over30m: 7, over10m: 7, total: 7 }],
  parsers: [{ promptType: 'security_analysis', parser: 'json', attempts: 120, successRate: 94.2, avgMs: 31, lastUsed: null }],
  parserErrors: [{ promptType: 'security_analysis', parser: 'json', error: 'no sections found', count: 7 }],
  failures: [{ id: 1017, state: 'failed', agent: '003', reason: 'email delivery', error: 'SMTP 451: temporary failure', ageSeconds: 120 }],
  failuresOffset: 0,
  failuresTotal: 1,
  failureSummary: [{ type: 'email delivery', count: 13, newest: null }, { type: 'parser', count: 12, newest: null }],
  agents: { top: [{ id: '003', name: 'agent-003', status: 'active', alerts24h: 410, lastSeen: '2026-11-28T11:59:00.000Z' }], byStatus: [{ status: 'active', count: 12 }, { status: 'disconnected', count: 3 }] },
  credentials,
  server: { host: '127.0.0.1:5432', standby: false, replayLagSeconds: null },
  dynamicRoles: { alive: 3, expired: 1, sessions: 4, staleSessions: 1, perRole: [{ role: 'v-token-old', sessions: 1, expired: true }, { role: 'v-token-new', sessions: 3, expired: false }] },
};

const props = { snapshot, credentials, width: 80, height: 18, scroll: 0 };

describe('the dashboard views, rendered from a fixed snapshot', () => {
  it('Overview: the flow with counts, ages and health', () => {
    const frame = render(<VIEW_COMPONENTS.Overview {...props} />).lastFrame() ?? '';
    expect(frame).toMatch(/new\s+12\s+1m5s\s+40s\s+Healthy/);
    expect(frame).toMatch(/structured\s+7\s+2h1m\s+2h0m\s+ATTENTION NEEDED/);
    expect(frame).toMatch(/failed 25\s+ingested \(5 min\) 30\s+sent \(5 min\) 28/);
    for (const line of frame.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
  });

  it('Health: the bottlenecks and what needs attention', () => {
    const frame = render(<VIEW_COMPONENTS.Health {...props} />).lastFrame() ?? '';
    expect(frame).toMatch(/attention needed: structured$/m);
    expect(frame).toMatch(/structured\s+7\s+7\s+7\s+7/);
  });

  it('Parsers, Failures and Agents', () => {
    expect(render(<VIEW_COMPONENTS.Parsers {...props} />).lastFrame()).toMatch(/security_analysis\s+json\s+120\s+94\.2\s+31[\s\S]*7\s+security_analysis\s+json\s+no sections found/);
    expect(render(<VIEW_COMPONENTS.Failures {...props} />).lastFrame()).toMatch(/email delivery: 13\s+parser: 12[\s\S]*1017\s+failed\s+003\s+2m\s+email delivery\s+SMTP 451/);
    expect(render(<VIEW_COMPONENTS.Agents {...props} />).lastFrame()).toMatch(/active: 12\s+disconnected: 3[\s\S]*agent-003\s+active\s+410/);
  });

  it('Credentials: source, lease TTL, rotations, pool and events; a fallback is called out', () => {
    const frame = render(<VIEW_COMPONENTS.Credentials {...props} />).lastFrame() ?? '';
    expect(frame).toMatch(/source\s+dynamic\s+as v-root-delphi-r-/);
    expect(frame).toMatch(/TTL 42s\s+rotations 3/);
    expect(frame).toMatch(/generation 4, 5 connections \(4 idle, 0 waiting\), 2 retried/);
    expect(frame).toMatch(/server\s+127\.0\.0\.1:5432 \(primary\), moved 0 time\(s\); 0 write\(s\) in doubt/);
    // The database's side: Vault's users and their sessions, the expired one flagged.
    expect(frame).toMatch(/database\s+3 dynamic role\(s\), 4 session\(s\); EXPIRED: 1 role\(s\), 1 session\(s\)$/m);
    expect(frame).toMatch(/v-token-old\s+1 session\(s\)\s+EXPIRED/);
    expect(frame).toMatch(/v-token-new\s+3 session\(s\)$/m);
    expect(frame).toMatch(/12:00:00\s+rotated\s+database\/creds\/delphi-readonly\/Ab3x… ttl 60s — max_ttl reached/);
    const fallback = render(<VIEW_COMPONENTS.Credentials {...props} credentials={{ ...credentials, source: 'env', fallback: true }} />).lastFrame();
    expect(fallback).toMatch(/env \(fallback\)/);
  });

  it('scrolls a long list under a fixed header, counting rows only', () => {
    const many = { ...snapshot, failuresTotal: 30, failures: Array.from({ length: 30 }, (_, i) => ({ ...snapshot.failures[0]!, id: 2000 + i })) };
    const frame = render(<VIEW_COMPONENTS.Failures {...props} snapshot={many} height={10} scroll={5} />).lastFrame() ?? '';
    // 3 header lines stay; 6 rows and the position fill the other 7.
    expect(frame).toMatch(/6–11 of 30/);
    expect(frame).toMatch(/^email delivery: 13/m);
    expect(frame).toMatch(/^ID\s+STATE\s+AGENT/m);
    expect(frame).not.toMatch(/\b2004\b/);
    expect(frame).toMatch(/\b2005\b/);
    const limit = { current: -1 };
    const end = render(<VIEW_COMPONENTS.Failures {...props} snapshot={many} height={10} scroll={999} scrollLimit={limit} />).lastFrame() ?? '';
    expect(limit.current).toBe(24);
    expect(end).toMatch(/25–30 of 30/);
  });

  it('Health: rows in pipeline order, whatever order the database gave', () => {
    const shuffled = { ...snapshot, bottlenecks: ['sent', 'new', 'formatted', 'analyzed', 'enriched', 'structured'].map((state) => ({ state, over1h: 0, over30m: 0, over10m: 1, total: 2 })) };
    const frame = render(<VIEW_COMPONENTS.Health {...props} snapshot={shuffled} />).lastFrame() ?? '';
    const order = [...frame.matchAll(/^(new|enriched|analyzed|structured|formatted|sent)\s/gm)].map((m) => m[1]);
    expect(order).toEqual(['new', 'enriched', 'analyzed', 'structured', 'formatted', 'sent']);
  });

  it('Parsers: an error row names its prompt type, so the same error of two prompt types is two rows that say why', () => {
    const errors = {
      ...snapshot,
      parserErrors: [
        { promptType: 'security_analysis', parser: 'json', error: 'no sections found', count: 19 },
        { promptType: 'quick_triage', parser: 'json', error: 'no sections found', count: 1 },
      ],
    };
    const frame = render(<VIEW_COMPONENTS.Parsers {...props} snapshot={errors} />).lastFrame() ?? '';
    expect(frame).toMatch(/^\s+19\s+security_analysis\s+json\s+no sections found$/m);
    expect(frame).toMatch(/^\s+1\s+quick_triage\s+json\s+no sections found$/m);
  });

  it('the --once frame is plain text', () => {
    const text = overviewText(snapshot);
    // eslint-disable-next-line no-control-regex
    expect(text).not.toMatch(/\u001b\[/);
    expect(text).toMatch(/^credentials: dynamic as v-root-delphi-r-\S+, lease database\/creds\/delphi-readonly\/Ab3x… 42s left, 3 rotation\(s\)$/m);
    expect(text).toMatch(/^read from: primary 127\.0\.0\.1:5432$/m);
    expect(overviewText({ ...snapshot, server: { host: '127.0.0.1:5432', standby: true, replayLagSeconds: 1.5 } })).toMatch(/^read from: standby 127\.0\.0\.1:5432, replay lag 1\.5 s$/m);
  });
});

describe('the dashboard app', () => {
  function model(overrides: Partial<DashboardSource> = {}): DashboardSource & { refreshed: number; emit: (event: 'update') => void } {
    const emitter = new EventEmitter();
    const m = {
      snapshot,
      stale: false,
      error: null,
      paused: false,
      listening: true,
      refreshed: 0,
      credentials: () => credentials,
      refresh: async () => void (m.refreshed += 1),
      togglePause() {
        m.paused = !m.paused;
        emitter.emit('update');
      },
      on: emitter.on.bind(emitter),
      off: emitter.off.bind(emitter),
      emit: (event: 'update') => emitter.emit(event),
      ...overrides,
    };
    return m as unknown as DashboardSource & { refreshed: number; emit: (event: 'update') => void };
  }
  const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

  it('says in its header when it reads from a standby (with the lag) and how it learns of new alerts', () => {
    const onStandby = render(<App model={model({ snapshot: { ...snapshot, server: { host: '10.0.0.6:5432', standby: true, replayLagSeconds: 0.4 } }, notifyState: () => '⚡listening on primary 10.0.0.5:5432' })} />);
    expect(onStandby.lastFrame()).toMatch(/⚡listening on primary 10\.0\.0\.5:5432\s+standby, lag 0\.4s/);
    onStandby.unmount();
    const noPrimary = render(<App model={model({ listening: false, notifyState: () => 'no LISTEN: every 5s' })} />);
    expect(noPrimary.lastFrame()).toMatch(/live\s+no LISTEN: every 5s/);
    expect(noPrimary.lastFrame()).not.toMatch(/standby/);
    noPrimary.unmount();
  });

  it('switches views with 1–6 and Tab, refreshes with r, pauses with space, shows help with ?', async () => {
    const m = model();
    const app = render(<App model={m} />);
    expect(app.lastFrame()).toMatch(/STAGE\s+COUNT/);
    app.stdin.write('6');
    await tick();
    expect(app.lastFrame()).toMatch(/source\s+dynamic/);
    app.stdin.write('\t');
    await tick();
    expect(app.lastFrame()).toMatch(/STAGE\s+COUNT/);
    app.stdin.write('4');
    await tick();
    expect(app.lastFrame()).toMatch(/email delivery: 13/);
    app.stdin.write('r');
    await tick();
    expect(m.refreshed).toBe(1);
    app.stdin.write(' ');
    await tick();
    expect(app.lastFrame()).toMatch(/paused/);
    app.stdin.write('?');
    await tick();
    expect(app.lastFrame()).toMatch(/q \/ Ctrl-C\s+quit/);
    app.unmount();
  });

  it('stops scrolling at the end of the list: back up from there at once', async () => {
    const many = { ...snapshot, failuresTotal: 40, failures: Array.from({ length: 40 }, (_, i) => ({ ...snapshot.failures[0]!, id: 3000 + i })) };
    const app = render(<App model={model({ snapshot: many })} size={{ columns: 80, rows: 24 }} />);
    app.stdin.write('4');
    await tick();
    for (let i = 0; i < 30; i++) app.stdin.write('j');
    await tick();
    const bottom = /(\d+)–(\d+) of 40/.exec(app.lastFrame() ?? '');
    expect(bottom?.[2]).toBe('40');
    for (let i = 0; i < 11; i++) app.stdin.write('k');
    await tick();
    const up = /(\d+)–(\d+) of 40/.exec(app.lastFrame() ?? '');
    expect(Number(up?.[1])).toBe(Number(bottom?.[1]) - 11);
    app.unmount();
  });

  it('pages through every failed alert, not only those the snapshot brought: 1–N of 256 to the last one', async () => {
    // Failed alert i (newest first) has id 10000 + i; the model holds a window of 60 and
    // fetches another when the view asks for rows outside it, as DashboardModel does.
    const failure = (i: number) => ({ ...snapshot.failures[0]!, id: 10_000 + i });
    const window = (offset: number) => ({ ...snapshot, failuresTotal: 256, failuresOffset: offset, failures: Array.from({ length: Math.min(60, 256 - offset) }, (_, k) => failure(offset + k)) });
    const seeks: number[] = [];
    const m = model({ snapshot: window(0) });
    m.seekFailures = (start, count) => {
      const held = m.snapshot as Snapshot;
      if (start >= held.failuresOffset && start + count <= held.failuresOffset + held.failures.length) return;
      seeks.push(start);
      setTimeout(() => {
        (m as { snapshot: Snapshot }).snapshot = window(Math.max(0, start - 20));
        m.emit('update');
      }, 1);
    };
    const app = render(<App model={m} size={{ columns: 80, rows: 24 }} />);
    app.stdin.write('4');
    await tick();
    const first = /(\d+)–(\d+) of 256/.exec(app.lastFrame() ?? '');
    expect(first?.[1]).toBe('1');
    expect(app.lastFrame()).toMatch(/^10000\s+failed/m);
    for (let i = 0; i < 300; i++) app.stdin.write('j');
    // Rendered once the model's answer came (a timer, then a render: slower on a loaded machine).
    await expect.poll(() => app.lastFrame(), { timeout: 5000 }).toMatch(/^10255\s+failed/m);
    const last = /(\d+)–(\d+) of 256/.exec(app.lastFrame() ?? '');
    expect(last?.[2]).toBe('256');
    // The model was asked for the rows at the end, and the view shows them once they came.
    expect(seeks.at(-1)).toBe(Number(last?.[1]) - 1);
    expect(app.lastFrame()).toMatch(/^10255\s+failed/m);
    expect(app.lastFrame()).not.toMatch(/^…$/m);
    app.unmount();
  });

  it('fits 80×24: no line wider than 80 columns, no more than 24 lines, in any view', async () => {
    const app = render(<App model={model()} size={{ columns: 80, rows: 24 }} />);
    for (const key of ['1', '2', '3', '4', '5', '6']) {
      app.stdin.write(key);
      await tick();
      const lines = (app.lastFrame() ?? '').split('\n');
      expect(lines.length).toBeLessThanOrEqual(24);
      for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(80);
    }
    app.unmount();
  });

  it('keeps the last data and says it is stale while the database is down', async () => {
    const app = render(<App model={model({ stale: true, error: 'connect ECONNREFUSED' })} />);
    expect(app.lastFrame()).toMatch(/STALE \(database unreachable, reconnecting…\)/);
    expect(app.lastFrame()).toMatch(/new\s+12/);
    app.unmount();
  });

  it('shows fallback credentials in the header, and quits on q', async () => {
    let quit = false;
    const app = render(<App model={model({ credentials: () => ({ ...credentials, source: 'kv', fallback: true, ttlSeconds: null }) })} onQuit={() => (quit = true)} />);
    expect(app.lastFrame()).toMatch(/creds kv \(FALLBACK\)/);
    app.stdin.write('q');
    await tick();
    expect(quit).toBe(true);
  });

  it('says in the header when the Vault token has expired', () => {
    const app = render(<App model={model({ credentials: () => ({ ...credentials, source: 'kv', fallback: true, ttlSeconds: null, alert: 'Vault token expired' }) })} />);
    expect(app.lastFrame()).toMatch(/creds kv \(FALLBACK\)\s+VAULT TOKEN EXPIRED/);
    app.unmount();
  });

  it('shows database text without its control characters: no escape sequence reaches the terminal', () => {
    const hostile = '\u001b[2J\u001b]0;pwned\u0007\u009b31m';
    const forged: Snapshot = {
      ...snapshot,
      parserErrors: [{ ...snapshot.parserErrors[0]!, error: `bad ${hostile} error` }],
      failures: [{ ...snapshot.failures[0]!, reason: `r${hostile}`, error: `SMTP ${hostile}` }],
      agents: { ...snapshot.agents, top: [{ ...snapshot.agents.top[0]!, name: `a${hostile}` }] },
    };
    for (const view of ['Parsers', 'Failures', 'Agents'] as const) {
      const Component = VIEW_COMPONENTS[view];
      const frame = render(<Component {...props} snapshot={forged} />).lastFrame() ?? '';
      expect(frame, view).not.toContain('\u001b[2J');
      expect(frame, view).not.toContain('\u001b]0;');
      expect(frame, view).not.toContain('\u0007');
      expect(frame, view).not.toContain('\u009b');
      expect(frame, view).toContain('\ufffd');
    }
  });
});
