import { fileLines, MAX_LOG_LINE_BYTES } from '../util/bounded-lines.js';
import { UsageError } from '../errors.js';

/**
 * The database's side of failed logins and refused privileges for the audit: from a server log
 * written as `jsonlog` (one JSON object a line) or `csvlog` (PostgreSQL's fixed columns), the
 * entries with SQLSTATE 28P01 (password authentication failed) and 42501 (permission denied)
 * of Vault's users (`v-…`), grouped by role and client address. Statement texts are not kept:
 * a failed statement may hold data.
 */

export interface LogRefusal {
  role: string;
  address: string | null;
  code: '28P01' | '42501';
  count: number;
  first: string;
  last: string;
}

export interface PostgresLogSummary {
  file: string;
  format: 'jsonlog' | 'csvlog';
  since: string | null;
  lines: number;
  unreadable: number;
  refusals: LogRefusal[];
}

const CODES = new Set(['28P01', '42501']);
/** How every csvlog record begins: its log_time. */
const RECORD_START = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/;

/** csvlog's columns (PostgreSQL 13+): the ones read here by their place. */
const CSV = { time: 0, user: 1, connectionFrom: 4, code: 12 } as const;

export async function summarisePostgresLog(file: string, options: { since?: number | undefined } = {}): Promise<PostgresLogSummary> {
  const format = file.endsWith('.csv') ? 'csvlog' : 'jsonlog';
  const groups = new Map<string, LogRefusal>();
  let lines = 0;
  let unreadable = 0;
  const note = (time: string, user: string | undefined, address: string | null, code: string | undefined) => {
    if (!user?.startsWith('v-') || !code || !CODES.has(code)) return;
    if (options.since !== undefined && Date.parse(time) < options.since) return;
    const key = `${user}\u0000${address ?? ''}\u0000${code}`;
    const g = groups.get(key);
    if (g) {
      g.count += 1;
      g.last = time;
    } else groups.set(key, { role: user, address, code: code as LogRefusal['code'], count: 1, first: time, last: time });
  };
  let pending = '';
  const cannotRead = (reason: string) =>
    new UsageError(`the PostgreSQL log ${file} cannot be read: ${reason}`, "name a jsonlog (.json) or csvlog (.csv) file of the server (SELECT pg_current_logfile('jsonlog')) on a host that can read it");
  for await (const line of fileLines(file, cannotRead)) {
    if (line === null) {
      unreadable += 1;
      continue;
    }
    if (format === 'jsonlog') {
      if (line.trim() === '') continue;
      lines += 1;
      try {
        const e = JSON.parse(line) as { timestamp?: string; user?: string; remote_host?: string; state_code?: string };
        note(e.timestamp ?? '', e.user, e.remote_host ?? null, e.state_code);
      } catch {
        unreadable += 1;
      }
      continue;
    }
    // csvlog: a quoted field may span lines; a record is complete when its quotes balance. A line
    // that starts with a timestamp starts a record: whatever was pending unbalanced (a file that
    // begins inside a record) is given up, not carried on.
    if (pending !== '' && RECORD_START.test(line)) {
      unreadable += 1;
      pending = '';
    }
    pending = pending === '' ? line : `${pending}\n${line}`;
    if ((pending.match(/"/g)?.length ?? 0) % 2 === 1) {
      // An unbalanced quote (a file that starts inside a record) must not swallow the rest.
      if (pending.length > MAX_LOG_LINE_BYTES) {
        unreadable += 1;
        pending = '';
      }
      continue;
    }
    lines += 1;
    const fields = parseCsvRecord(pending);
    pending = '';
    if (fields.length < 14) {
      unreadable += 1;
      continue;
    }
    const from = fields[CSV.connectionFrom] ?? '';
    note(fields[CSV.time] ?? '', fields[CSV.user], from === '' ? null : from.replace(/:\d+$/, ''), fields[CSV.code]);
  }
  return {
    file,
    format,
    since: options.since === undefined ? null : new Date(options.since).toISOString(),
    lines,
    unreadable,
    refusals: [...groups.values()].sort((a, b) => b.count - a.count || a.role.localeCompare(b.role)),
  };
}

/** One CSV record: fields separated by commas, quoted ones with `""` for a quote. */
function parseCsvRecord(text: string): string[] {
  const fields: string[] = [];
  let i = 0;
  while (i <= text.length) {
    if (text[i] === '"') {
      let value = '';
      i += 1;
      for (;;) {
        const quote = text.indexOf('"', i);
        if (quote === -1) return fields;
        value += text.slice(i, quote);
        if (text[quote + 1] === '"') {
          value += '"';
          i = quote + 2;
        } else {
          i = quote + 1;
          break;
        }
      }
      fields.push(value);
      i += 1; // the comma
    } else {
      const comma = text.indexOf(',', i);
      const end = comma === -1 ? text.length : comma;
      fields.push(text.slice(i, end));
      i = end + 1;
    }
    if (i > text.length) break;
  }
  return fields;
}
