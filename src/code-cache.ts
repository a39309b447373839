/**
 * V8's code cache of the command bundle (dist/eos.cjs), kept per user: compiling what a command
 * loads is most of what it costs to start, Node 20 has no module compile cache, and a script can
 * be given one (docs/architecture.md, Start-up). The cache is code this process will run, so it
 * is only ever read from, or written to, a place no one else could have written:
 * - every directory from `/` down to the cache directory is owned by root or by us and writable by
 *   no one else (unless sticky, as /tmp is), and none of them is a symlink;
 * - under sudo (root with SUDO_UID set) there is no cache: HOME may still be the user's;
 * - the file is ours alone, opened without following a link, and starts with a sha256 of the rest
 *   (a release V8 does not check a cache's bytes: a torn or corrupt file would crash every run);
 * - it is keyed by the bundle's content (a build id the build computes), Node, V8's flags and the
 *   command, so another build or another V8 never meets it.
 * `EOS_NO_CODE_CACHE=1` turns it off.
 */
import { closeSync, constants, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

// Loaded only when a command runs (not for --version).
const lazyRequire = createRequire(import.meta.url);
const crypto = () => lazyRequire('node:crypto') as typeof import('node:crypto');

/** A directory only root or we could have written, and no one else can. */
function trusted(stat: { uid: number; mode: number }, uid: number): boolean {
  const sticky = (stat.mode & 0o1000) !== 0;
  return (stat.uid === uid || stat.uid === 0) && ((stat.mode & 0o022) === 0 || sticky);
}

/** Each directory from `/` down to `dir` exists, is a real directory (no symlink) and is trusted. */
function safeAncestors(dir: string, uid: number): boolean {
  let current = path.parse(dir).root;
  for (const part of path.relative(current, dir).split(path.sep).filter(Boolean)) {
    current = path.join(current, part);
    const stat = lstatSync(current, { throwIfNoEntry: false });
    if (!stat || !stat.isDirectory() || !trusted(stat, uid)) return false;
  }
  return true;
}

/** `dir` and every directory above it are safe, and `dir` is ours alone. */
function safeDirectory(dir: string, uid: number): { dev: number; ino: number } | undefined {
  if (!safeAncestors(dir, uid)) return undefined;
  const own = lstatSync(dir);
  return own.uid === uid && (own.mode & 0o077) === 0 ? { dev: own.dev, ino: own.ino } : undefined;
}

export interface CodeCache {
  file: string;
  /** The directory as it was found, so that the write at exit goes to that very directory. */
  dir: { path: string; dev: number; ino: number };
}

/**
 * Where this user's cache of `command` for the build `buildId` lives, creating only the last one
 * or two directories (`<cache home>/eos`, and `~/.cache` under an existing home of ours), or
 * undefined when there is no safe place for it.
 */
export function codeCacheFor(buildId: string, command: string, env: NodeJS.ProcessEnv): CodeCache | undefined {
  const uid = process.getuid?.();
  if (uid === undefined || env.EOS_NO_CODE_CACHE === '1' || (uid === 0 && env.SUDO_UID !== undefined)) return undefined;
  const base = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : env.HOME && path.isAbsolute(env.HOME) ? path.join(env.HOME, '.cache') : undefined;
  if (!base) return undefined;
  const dir = path.join(base, 'eos');
  try {
    // Nothing is created where someone else could meddle: the home (or cache home) must be ours.
    if (!safeAncestors(path.dirname(base), uid)) return undefined;
    for (const level of [base, dir]) {
      // Created one level at a time, never with `recursive` (no directory planted for another user).
      if (!lstatSync(level, { throwIfNoEntry: false })) mkdirSync(level, { mode: 0o700 });
    }
    const found = safeDirectory(dir, uid);
    if (!found) return undefined;
    const v8 = lazyRequire('node:v8') as typeof import('node:v8');
    const key = crypto()
      .createHash('sha256')
      .update(`${buildId}\0${process.version}\0${process.arch}\0${v8.cachedDataVersionTag()}\0${command}`)
      .digest('hex')
      .slice(0, 16);
    return { file: path.join(dir, `v8-${key}.cache`), dir: { path: dir, ...found } };
  } catch {
    return undefined;
  }
}

const DIGEST_BYTES = 32;

/** The cached data, if the file is ours alone and whole (its digest matches); else undefined. */
export function readCodeCache(cache: CodeCache): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(cache.file, constants.O_RDONLY | constants.O_NOFOLLOW);
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.uid !== process.getuid?.() || (stat.mode & 0o077) !== 0 || stat.nlink !== 1) return undefined;
    const bytes = readFileSync(fd);
    const data = bytes.subarray(DIGEST_BYTES);
    const digest = crypto().createHash('sha256').update(data).digest();
    return bytes.length > DIGEST_BYTES && digest.equals(bytes.subarray(0, DIGEST_BYTES)) ? data : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Writes `data` as the cache, whole or not at all: into a new temp file (0600) in the directory
 * found earlier — if it is still that directory —, synced, then renamed over the old one.
 * Failures (a full disk, a read-only home) leave no temp file and no cache.
 */
export function writeCodeCache(cache: CodeCache, data: Buffer): void {
  const uid = process.getuid?.();
  if (uid === undefined) return;
  const now = safeDirectory(cache.dir.path, uid);
  if (!now || now.dev !== cache.dir.dev || now.ino !== cache.dir.ino) return;
  const temp = `${cache.file}.${process.pid}.tmp`;
  let fd: number | undefined;
  try {
    fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    writeSync(fd, crypto().createHash('sha256').update(data).digest());
    writeSync(fd, data);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, cache.file);
    forgetOldCaches(cache.dir.path);
  } catch {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      // never created
    }
  }
}

/** Caches and temp files not touched for a month (an old build, a run killed mid-write) go. */
function forgetOldCaches(dir: string): void {
  const monthAgo = Date.now() - 30 * 24 * 3600 * 1000;
  for (const name of readdirSync(dir)) {
    if (!/^v8-[0-9a-f]{16}\.cache(?:\.\d+\.tmp)?$/.test(name)) continue;
    try {
      const stat = statSync(path.join(dir, name));
      if (Math.max(stat.atimeMs, stat.mtimeMs) < monthAgo) unlinkSync(path.join(dir, name));
    } catch {
      // gone meanwhile
    }
  }
}
