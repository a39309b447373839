import { homeOf } from '../util/home.js';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { shortLeaseId } from '../redact.js';
import type { DbCredentials } from '../db/credentials.js';
import type { LeaseKeeper } from '../vault/lease-keeper.js';

/**
 * A small file per running eos process that holds a lease, so `eos self secrets status` can
 * show what running processes hold without minting anything. No secrets: the lease id is kept
 * shortened plus its SHA-256 (enough to match it in a LIST of leases, useless to renew or revoke).
 */
export interface LeaseStateRecord {
  pid: number;
  command: string;
  source: string;
  role: string | null;
  lease: string | null;
  leaseSha256: string | null;
  issuedAt: string | null;
  expiresAt: string | null;
  lastRenewalAt: string | null;
  nextActionAt: string | null;
  /** What the keeper does then (`renew`, `issue new credentials (max_ttl reached)`, …). */
  nextAction: string | null;
  rotations: number;
  /** The database host its pool's sessions go to, and whether that is a standby (when it has a pool). */
  database?: { host: string; standby: boolean | null } | null;
  updatedAt: string;
}

export function leaseStateDir(env: NodeJS.ProcessEnv, home = homeOf(env)): string {
  const state = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(home, '.local', 'state');
  return path.join(state, 'eos', 'leases');
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Keeps `<dir>/<pid>.json` up to date with the keeper's events, and with `touch()` (the pool
 * moved to another host); `stop()` removes it.
 */
export function trackLeaseState(
  keeper: LeaseKeeper<DbCredentials>,
  options: { dir: string; command: string; role: string | null; now: () => number },
): { stop(): void; touch(database: { host: string; standby: boolean | null }): void } {
  let database: { host: string; standby: boolean | null } | null = null;
  const file = path.join(options.dir, `${process.pid}.json`);
  const iso = (ms: number | null | undefined) => (ms === null || ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString());
  const write = () => {
    const c = keeper.credentials;
    const record: LeaseStateRecord = {
      pid: process.pid,
      command: options.command,
      source: c?.source ?? 'none',
      role: options.role,
      lease: c?.lease ? shortLeaseId(c.lease.id) : null,
      leaseSha256: c?.lease ? sha256(c.lease.id) : null,
      issuedAt: iso(c?.lease?.issuedAt),
      expiresAt: iso(keeper.expiry),
      lastRenewalAt: iso(keeper.lastRenewalAt),
      nextActionAt: iso(keeper.nextActionAt),
      nextAction: keeper.nextAction,
      rotations: keeper.rotations,
      database,
      updatedAt: new Date(options.now()).toISOString(),
    };
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    const temp = `${file}.tmp`;
    writeFileSync(temp, `${JSON.stringify(record)}\n`, { mode: 0o600 });
    renameSync(temp, file);
  };
  write();
  // Written once the keeper's step is done: an event comes before the step plans what is next.
  let pending = false;
  let stopped = false;
  const onEvent = () => {
    if (pending) return;
    pending = true;
    queueMicrotask(() => {
      pending = false;
      if (stopped) return;
      try {
        write();
      } catch {
        // The state file is a convenience for `status`; never let it break the keeper.
      }
    });
  };
  keeper.on('event', onEvent);
  return {
    stop() {
      stopped = true;
      keeper.off('event', onEvent);
      rmSync(file, { force: true });
    },
    touch(where) {
      database = where;
      onEvent();
    },
  };
}

/** The records of eos processes that are still running (stale files are skipped). */
export function readLeaseStates(dir: string): LeaseStateRecord[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /^\d+\.json$/.test(n));
  } catch {
    return [];
  }
  const out: LeaseStateRecord[] = [];
  for (const name of names) {
    try {
      const record = JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as LeaseStateRecord;
      process.kill(record.pid, 0);
      out.push(record);
    } catch {
      // unreadable, or its process is gone
    }
  }
  return out;
}
