import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { summarisePostgresLog } from '../../src/setup/postgres-log.js';
import { tempDir } from '../helpers/tmp.js';

/** csvlog, PostgreSQL's fixed columns: quoted fields, "" for a quote, a message over two lines. */
describe('a csvlog, summarised', () => {
  it('reads records with quoted and multi-line fields, counts only v-* roles and the two SQLSTATEs', async () => {
    const dir = tempDir('eos-csvlog-');
    const file = path.join(dir, 'postgresql.csv');
    const row = (time: string, user: string, from: string, code: string, message: string) =>
      `${time},"${user}","delphi",4242,"${from}",abc.1,1,"authentication",${time},3/1,0,FATAL,${code},"${message}",,,,,,,,,"client backend",,0`;
    writeFileSync(
      file,
      [
        row('2026-12-07 10:00:00.000 UTC', 'v-token-a', '10.0.0.9:51234', '28P01', 'password authentication failed for user ""v-token-a""'),
        row('2026-12-07 10:00:05.000 UTC', 'v-token-a', '10.0.0.9:51240', '28P01', 'password authentication failed\nDETAIL: line two, with a comma'),
        row('2026-12-07 10:01:00.000 UTC', 'v-token-a', '10.0.0.9:51300', '42501', 'permission denied for table secret'),
        row('2026-12-07 10:02:00.000 UTC', 'alice', '10.0.0.7:40000', '28P01', 'not a dynamic user'),
        row('2026-12-07 10:03:00.000 UTC', 'v-token-b', '', '57P01', 'terminating connection'),
      ].join('\n') + '\n',
    );
    const summary = await summarisePostgresLog(file);
    expect(summary.format).toBe('csvlog');
    expect(summary.lines).toBe(5);
    expect(summary.unreadable).toBe(0);
    expect(summary.refusals).toEqual([
      { role: 'v-token-a', address: '10.0.0.9', code: '28P01', count: 2, first: '2026-12-07 10:00:00.000 UTC', last: '2026-12-07 10:00:05.000 UTC' },
      { role: 'v-token-a', address: '10.0.0.9', code: '42501', count: 1, first: '2026-12-07 10:01:00.000 UTC', last: '2026-12-07 10:01:00.000 UTC' },
    ]);
  });

  it('a file that begins inside a record loses that record only, not the rest', async () => {
    const dir = tempDir('eos-csvlog-');
    const file = path.join(dir, 'postgresql.csv');
    const row = (time: string, user: string, code: string) => `${time},"${user}","delphi",4242,"10.0.0.9:5000",abc.1,1,"authentication",${time},3/1,0,FATAL,${code},"failed",,,,,,,,,"client backend",,0`;
    writeFileSync(file, ['tail of a message" with one quote,,,', row('2026-12-07 10:00:00.000 UTC', 'v-token-a', '28P01'), row('2026-12-07 10:00:01.000 UTC', 'v-token-a', '28P01')].join('\n') + '\n');
    const summary = await summarisePostgresLog(file);
    expect(summary.refusals.map((r) => r.count)).toEqual([2]);
    expect(summary.unreadable).toBe(1);
  });
});
