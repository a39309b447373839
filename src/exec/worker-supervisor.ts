import { formatHostList } from '../db/hosts.js';
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { accessSync, constants as fsConstants, renameSync, statSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import { CommandNotRunnableError } from '../errors.js';
import type { Logger } from 'pino';
import { toDsn, type DbCredentials } from '../db/credentials.js';
import { shellQuote } from '../util/shell.js';

/**
 * Runs a pipeline worker with credentials in its environment, as Vault Agent's process
 * supervisor does: on a rotation the worker is restarted gracefully (SIGTERM, wait, SIGKILL) or
 * sent a signal, or left alone; signals to eos are forwarded; when the worker exits on its own,
 * eos exits with its code. The credentials travel only in the environment, never in argv.
 */

/** How long a signalled worker has to reconnect before the old lease is revoked (at most --grace). */
const SIGNAL_SETTLE_MS = 5_000;

export type RotateAction = { kind: 'restart' } | { kind: 'signal'; signal: NodeJS.Signals } | { kind: 'none' };

export function parseRotateAction(text: string): RotateAction | undefined {
  if (text === 'restart') return { kind: 'restart' };
  if (text === 'none') return { kind: 'none' };
  const m = /^signal:(?:SIG)?([A-Z0-9]+)$/i.exec(text);
  if (m && `SIG${m[1]?.toUpperCase()}` in constants.signals) return { kind: 'signal', signal: `SIG${m[1]?.toUpperCase()}` as NodeJS.Signals };
  return undefined;
}

/**
 * Finds the worker's executable as the shell would (a name with a slash as it is, else along
 * PATH) before any credentials are issued, so a typo costs no lease: 127 when there is none,
 * 126 when it exists but cannot be run — the shell's exit codes.
 */
export function resolveCommand(command: string, env: NodeJS.ProcessEnv): string {
  const candidates = command.includes('/') ? [command] : (env.PATH ?? '').split(':').filter((d) => d !== '').map((d) => path.join(d, command));
  let unrunnable: string | undefined;
  for (const file of candidates) {
    let isFile: boolean;
    try {
      isFile = statSync(file).isFile();
    } catch {
      continue;
    }
    try {
      if (!isFile) throw new Error('not a file');
      accessSync(file, fsConstants.X_OK);
      return file;
    } catch {
      unrunnable ??= file;
    }
  }
  if (unrunnable) throw new CommandNotRunnableError(command, 'not executable', `${unrunnable} is not an executable file: chmod +x it, or run it through its interpreter (e.g. -- python3 ${command})`);
  throw new CommandNotRunnableError(command, 'not found', command.includes('/') ? 'check the path' : `no "${command}" in PATH (${env.PATH ?? 'not set'}): give the full path`);
}

/**
 * What eos holds that a worker must not: the Vault tokens eos logs in with, the sandbox's tokens,
 * the admin password, a static database password, and what a CI job proves its identity with. A
 * worker needs its database credentials and nothing of eos's own (docs/security.md).
 */
export const WITHHELD_FROM_WORKER = [
  'VAULT_TOKEN',
  'BAO_TOKEN',
  'DELPHI_DB_ADMIN_PASSWORD',
  'DELPHI_DB_PASSWORD',
  'ACTIONS_ID_TOKEN_REQUEST_TOKEN',
  'ACTIONS_ID_TOKEN_REQUEST_URL',
  'EOS_SANDBOX_ROOT_TOKEN',
  'EOS_SANDBOX_WORKER_TOKEN',
  'EOS_SANDBOX_AUDITOR_TOKEN',
  // The sandbox's admin URLs carry the PostgreSQL superuser's password.
  'EOS_SANDBOX_PG_URL',
  'EOS_SANDBOX_STANDBY_PG_URL',
] as const;

/**
 * The caller's environment without what eos withholds from a worker: WITHHELD_FROM_WORKER, and
 * `also` (the variable the config names for a JWT login's identity token) — except the names
 * `pass` keeps on purpose (`--pass-env`).
 */
export function workerBaseEnvironment(env: NodeJS.ProcessEnv, options: { also?: readonly string[]; pass?: readonly string[] } = {}): NodeJS.ProcessEnv {
  const withheld = new Set<string>([...WITHHELD_FROM_WORKER, ...(options.also ?? [])]);
  for (const name of options.pass ?? []) withheld.delete(name);
  return Object.fromEntries(Object.entries(env).filter(([name]) => !withheld.has(name)));
}

/** The environment a worker gets: the base given (see workerBaseEnvironment), plus PG_DSN and the libpq variables. */
export function workerEnvironment(base: NodeJS.ProcessEnv, c: DbCredentials): NodeJS.ProcessEnv {
  // Several hosts: libpq's lists and target_session_attrs, so the worker's libpq finds the
  // primary (or a standby) itself at every connection, and follows a failover when it reconnects.
  const listed = c.hosts && c.hosts.length > 1 ? formatHostList(c.hosts) : { host: c.host, port: String(c.port) };
  return {
    ...base,
    PG_DSN: toDsn(c),
    PGHOST: listed.host,
    PGPORT: listed.port,
    ...(c.hosts && c.hosts.length > 1 && c.targetSessionAttrs ? { PGTARGETSESSIONATTRS: c.targetSessionAttrs } : {}),
    PGDATABASE: c.database,
    PGUSER: c.user,
    PGPASSWORD: c.password,
    PGSSLMODE: c.sslmode,
    // libpq reads it for verify-ca/verify-full (and for require, as verify-ca, when it is set).
    ...(c.sslrootcert ? { PGSSLROOTCERT: c.sslrootcert } : {}),
    // The client certificate libpq presents when the server asks for one.
    ...(c.sslcert ? { PGSSLCERT: c.sslcert } : {}),
    ...(c.sslkey ? { PGSSLKEY: c.sslkey } : {}),
  };
}

export interface SupervisorOptions {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  onRotate: RotateAction;
  graceMs: number;
  /**
   * A 0600 file kept up to date with the current credentials (dotenv lines), named to the worker
   * as EOS_DB_CREDENTIALS_FILE: how a signalled worker, whose environment cannot change, finds
   * the new credentials (Vault Agent's template-and-signal pattern).
   */
  credentialsFile?: string;
  stdio?: StdioOptions;
  log?: Logger;
  /** Told of each start, restart, exit and signal (for metrics). */
  observe?: (event: WorkerEvent) => void;
}

export type WorkerEvent = { type: 'start' } | { type: 'restart' } | { type: 'exit'; code: number | null; signal: string | null } | { type: 'signal'; signal: NodeJS.Signals };

/**
 * The credentials as `NAME=value` lines, each value quoted for a POSIX shell as `env --format
 * dotenv` quotes it (one function, util/shell.ts): `. "$EOS_DB_CREDENTIALS_FILE"` sets them,
 * and a `$(…)` or backtick in a value stays text. dotenv readers take the same lines.
 */
export function credentialsFileText(c: DbCredentials): string {
  const env = workerEnvironment({}, c);
  return `${Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v ?? '')}`).join('\n')}\n`;
}

/**
 * Makes sure a worker never outlives eos, however eos ends (SIGKILL, the OOM killer): a tiny
 * watchdog process holds a pipe from eos, and when that pipe closes — the kernel closes it when
 * eos dies, by any means — it sends SIGTERM to the worker's whole process group. It is in a
 * group of its own, so a Ctrl-C meant for eos does not take it first. POSIX `sh` only; see
 * docs/workers.md for systemd (KillMode) and other platforms.
 */
function startWatchdog(workerGroup: number): ChildProcess {
  const watchdog = spawn('/bin/sh', ['-c', 'cat >/dev/null; kill -TERM "-$0" 2>/dev/null', String(workerGroup)], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  watchdog.on('error', () => undefined);
  // Neither the watchdog nor its pipe may keep eos running.
  watchdog.unref();
  (watchdog.stdin as (NodeJS.WritableStream & { unref?: () => void }) | null)?.unref?.();
  return watchdog;
}

export class WorkerSupervisor {
  private child: ChildProcess | undefined;
  private current: DbCredentials | undefined;
  private restarting = false;
  private readonly exited: Promise<number>;
  private resolveExit!: (code: number) => void;
  starts = 0;

  constructor(private readonly options: SupervisorOptions) {
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
  }

  /** Resolves with the exit code to use when the worker ends on its own (not by a restart). */
  get done(): Promise<number> {
    return this.exited;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The credentials the worker has now (for a signalled worker: in its file). */
  get credentials(): DbCredentials | undefined {
    return this.current;
  }

  start(credentials: DbCredentials): void {
    this.current = credentials;
    this.writeCredentialsFile(credentials);
    const file = this.options.credentialsFile;
    const child = spawn(this.options.command, this.options.args, {
      env: { ...workerEnvironment(this.options.env, credentials), ...(file ? { EOS_DB_CREDENTIALS_FILE: file } : {}) },
      stdio: this.options.stdio ?? 'inherit',
      // Its own process group: signals from eos, and from the watchdog, reach its children too.
      detached: true,
    });
    this.child = child;
    const watchdog = child.pid === undefined ? undefined : startWatchdog(child.pid);
    this.starts += 1;
    this.options.observe?.({ type: 'start' });
    this.options.log?.info({ workerPid: child.pid, source: credentials.source, user: credentials.user, start: this.starts }, 'worker started');
    child.on('error', (err: NodeJS.ErrnoException) => {
      this.options.log?.error({ error: err.message }, 'worker could not be started');
      if (this.child === child) this.resolveExit(err.code === 'EACCES' ? 126 : 127);
    });
    child.on('exit', (code, signal) => {
      // The worker is gone: its watchdog goes too, before its group id could name another group.
      watchdog?.kill('SIGKILL');
      this.options.observe?.({ type: 'exit', code, signal });
      if (this.child !== child || this.restarting) return;
      const status = code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
      this.options.log?.info({ workerPid: child.pid, code, signal }, 'worker exited');
      this.resolveExit(status);
    });
  }

  /** New credentials: restart, signal, or nothing, as configured. Resolves when done. */
  async rotate(credentials: DbCredentials, reason: string): Promise<void> {
    const action = this.options.onRotate;
    this.current = credentials;
    if (action.kind !== 'restart') this.writeCredentialsFile(credentials);
    if (action.kind === 'none') return;
    if (action.kind === 'signal') {
      // The worker keeps its environment; a signal tells it to re-read what it can (e.g. a file).
      this.signalGroup(action.signal);
      this.options.log?.info({ workerPid: this.child?.pid, signal: action.signal, reason }, 'worker signalled');
      // The old lease is revoked when this resolves, and its revocation ends the role's sessions:
      // the worker gets a moment to reconnect first (or until it exits).
      await this.settle(Math.min(this.options.graceMs, SIGNAL_SETTLE_MS));
      return;
    }
    this.restarting = true;
    try {
      await this.stopChild();
      this.start(credentials);
    } finally {
      this.restarting = false;
    }
    this.options.observe?.({ type: 'restart' });
    this.options.log?.info({ workerPid: this.child?.pid, reason }, 'worker restarted with new credentials');
  }

  private settle(ms: number): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        child.off('exit', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      child.once('exit', done);
    });
  }

  private writeCredentialsFile(credentials: DbCredentials): void {
    const file = this.options.credentialsFile;
    if (!file) return;
    const temp = `${file}.tmp`;
    writeFileSync(temp, credentialsFileText(credentials), { mode: 0o600 });
    renameSync(temp, file);
  }

  /** Passes a signal on to the worker (its process group). */
  forward(signal: NodeJS.Signals): void {
    this.signalGroup(signal);
  }

  /** The worker's process group: the worker and whatever it started. */
  private signalGroup(signal: NodeJS.Signals, child = this.child): void {
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    this.options.observe?.({ type: 'signal', signal });
    try {
      process.kill(-child.pid, signal);
    } catch {
      child.kill(signal);
    }
  }

  /** SIGTERM, then SIGKILL after the grace period. */
  async stopChild(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.signalGroup('SIGTERM', child);
    const timer = setTimeout(() => this.signalGroup('SIGKILL', child), this.options.graceMs);
    await gone;
    clearTimeout(timer);
  }
}
