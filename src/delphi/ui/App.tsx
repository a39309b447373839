import { Box, Text, useApp, useInput, useStdout } from 'ink';
import { useEffect, useMemo, useRef, useState } from 'react';
import { printable } from '../format.js';
import type { DashboardModel } from '../dashboard.js';
import { VIEW_COMPONENTS, VIEWS } from './views.js';

/** What the App needs of the model (the real DashboardModel, or a fixed one in tests). */
export type DashboardSource = Pick<DashboardModel, 'snapshot' | 'stale' | 'error' | 'paused' | 'listening' | 'credentials' | 'refresh' | 'togglePause' | 'on' | 'off'> &
  Partial<Pick<DashboardModel, 'seekFailures' | 'notifyState'>>;

const HELP = [
  '1–6 / Tab   switch view (Overview, Health, Parsers, Failures, Agents, Credentials)',
  '↑↓ / j k    scroll',
  'r           refresh now',
  'space       pause / resume refreshing',
  '?           this help',
  'q / Ctrl-C  quit (the lease is revoked)',
];

/** `size` stands in for the terminal's in tests. */
export function App({ model, onQuit, size }: { model: DashboardSource; onQuit?: () => void; size?: { columns: number; rows: number } }) {
  const { exit } = useApp();
  const { stdout } = useStdout();
  const [, setTick] = useState(0);
  const [view, setView] = useState(0);
  const [scroll, setScroll] = useState(0);
  const [help, setHelp] = useState(false);
  // How far the current view's list can scroll, as it last drew it: j stops there.
  const scrollLimit = useRef(0);
  const seekFailures = useMemo(() => model.seekFailures?.bind(model), [model]);

  useEffect(() => {
    const update = () => setTick((t) => t + 1);
    model.on('update', update);
    return () => {
      model.off('update', update);
    };
  }, [model]);

  useInput((input, key) => {
    if (input === 'q' || (key.ctrl && input === 'c')) {
      onQuit?.();
      exit();
      return;
    }
    const n = Number(input);
    if (n >= 1 && n <= VIEWS.length) {
      setView(n - 1);
      setScroll(0);
    } else if (key.tab) {
      setView((v) => (v + (key.shift ? VIEWS.length - 1 : 1)) % VIEWS.length);
      setScroll(0);
    } else if (key.downArrow || input === 'j') setScroll((s) => Math.min(s + 1, scrollLimit.current));
    else if (key.upArrow || input === 'k') setScroll((s) => Math.max(0, Math.min(s, scrollLimit.current) - 1));
    else if (input === 'r') void model.refresh(true);
    else if (input === ' ') model.togglePause();
    else if (input === '?') setHelp((h) => !h);
  });

  const width = Math.max(60, size?.columns ?? stdout?.columns ?? 80);
  const height = Math.max(24, size?.rows ?? stdout?.rows ?? 24);
  const bodyHeight = height - 5;
  const snapshot = model.snapshot;
  const credentials = model.credentials();
  const Current = VIEW_COMPONENTS[VIEWS[view] ?? 'Overview'];
  const status = model.error ? (model.stale ? 'STALE (database unreachable, reconnecting…)' : `error: ${printable(model.error)}`) : model.paused ? 'paused' : 'live';

  return (
    <Box flexDirection="column" width={width}>
      <Box>
        <Text bold>eos </Text>
        {VIEWS.map((name, i) => (
          <Text key={name} inverse={i === view}>{` ${i + 1} ${name} `}</Text>
        ))}
      </Box>
      <Text>
        <Text color={credentials.fallback ? 'yellow' : 'green'}>{`creds ${credentials.source}${credentials.fallback ? ' (FALLBACK)' : ''}`}</Text>
        {credentials.alert ? <Text color="red" bold>{`  ${credentials.alert.toUpperCase()}`}</Text> : null}
        {credentials.ttlSeconds !== null ? `  lease ${credentials.ttlSeconds}s` : ''}
        {`  rotations ${credentials.rotations}  `}
        <Text color={model.error ? 'red' : model.paused ? 'yellow' : 'green'}>{status}</Text>
        {model.notifyState ? (model.notifyState() ? `  ${model.notifyState()}` : '') : model.listening ? '  ⚡listening' : ''}
        {snapshot?.server.standby ? (
          <Text color={(snapshot.server.replayLagSeconds ?? 0) > 5 ? 'yellow' : undefined}>{`  standby, lag ${snapshot.server.replayLagSeconds ?? '?'}s`}</Text>
        ) : null}
      </Text>
      <Box flexDirection="column" height={bodyHeight} marginTop={1}>
        {help ? (
          HELP.map((line) => <Text key={line}>{line}</Text>)
        ) : snapshot ? (
          <Current snapshot={snapshot} credentials={credentials} width={width} height={bodyHeight - 1} scroll={scroll} scrollLimit={scrollLimit} seekFailures={seekFailures} />
        ) : (
          <Text>{model.error ? `cannot read the pipeline: ${printable(model.error)}` : 'loading…'}</Text>
        )}
      </Box>
      {/* Short enough for 80 columns with the time: r and space are in the help. */}
      <Text dimColor>{`? help · 1-6 views · ↑↓ scroll · q quit${snapshot ? ` · ${snapshot.takenAt.slice(11, 19)}Z ${snapshot.ms} ms` : ''}`}</Text>
    </Box>
  );
}
