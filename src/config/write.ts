import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readlink, realpath, rename, stat, unlink } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import path from 'node:path';
import { validateConfig } from './load.js';
import type { ConfigInput } from './schema.js';

/**
 * Writes the configuration atomically (writeFileAtomically). Validated first: an invalid config
 * is never written. An existing file keeps its owner and mode (the config holds no secret; an
 * admin may have made it readable for a group), without write for anyone but the owner.
 */
export async function writeConfigFile(file: string, config: ConfigInput): Promise<void> {
  validateConfig(file, config);
  await writeFileAtomically(file, `${JSON.stringify(config, null, 2)}\n`, { keepMode: true });
}

/**
 * Writes a file atomically and privately — the config, a token file: a new temp file of an
 * unguessable name in the same directory, created exclusively (never an existing file or a link
 * someone planted, whose owner and mode it would keep), 0600, flushed to disk, then renamed over
 * the old one. A crash at any point leaves either the old file or the new one, never a half-written
 * one; a directory we create is 0700.
 *
 * A file reached through a symbolic link is written at the link's target, so the link stays (a
 * config kept in a repository and linked into place); a link owned by another user is refused.
 * The file keeps its owner when eos runs as root (a `sudo eos` must not take a user's file), and
 * with `keepMode` its mode too, less any write bit for group and others.
 */
export async function writeFileAtomically(file: string, text: string, options: { keepMode?: boolean } = {}): Promise<void> {
  const target = await linkTarget(file);
  const dir = path.dirname(target);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const existing = await stat(target).catch(() => undefined);

  const temp = path.join(dir, `.${path.basename(target)}.${process.pid}.${randomBytes(8).toString('hex')}.tmp`);
  const handle = await open(temp, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o600);
  try {
    if (existing && options.keepMode) await handle.chmod(existing.mode & 0o755);
    if (existing && process.getuid?.() === 0 && (existing.uid !== 0 || existing.gid !== 0)) await handle.chown(existing.uid, existing.gid);
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  try {
    await rename(temp, target);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncDirectory(dir);
}

/**
 * Where writing `file` lands: itself, or the end of its chain of symbolic links — each link, and
 * each linked directory on the way, ours or root's only (another user's would send the write
 * where they choose). A link's target is taken relative to the link's real directory, as the
 * kernel takes it.
 */
async function linkTarget(file: string): Promise<string> {
  let current = path.resolve(file);
  for (let hops = 0; hops < 16; hops++) {
    await refuseForeignLinks(file, path.dirname(current));
    const link = await lstat(current).catch(() => undefined);
    if (!link?.isSymbolicLink()) return current;
    refuseForeign(file, current, link.uid);
    const realDir = await realpath(path.dirname(current)).catch(() => path.dirname(current));
    current = path.resolve(realDir, await readlink(current));
  }
  throw new UsageError(`${file}: too many symbolic links`, 'point --config at the file itself');
}

function refuseForeign(file: string, link: string, uid: number): void {
  const me = process.getuid?.();
  if (me !== undefined && uid !== me && uid !== 0) {
    throw new UsageError(`${file} goes through ${link}, a symbolic link owned by another user (uid ${uid}): eos does not write through it`, 'replace the link with one of your own, or point --config at the file itself');
  }
}

/** Every directory from `/` to `dir` that is a symbolic link must be ours or root's. */
async function refuseForeignLinks(file: string, dir: string): Promise<void> {
  const parts = path.resolve(dir).split(path.sep).filter(Boolean);
  let at: string = path.sep;
  for (const part of parts) {
    at = path.join(at, part);
    const st = await lstat(at).catch(() => undefined);
    if (!st) return;
    if (st.isSymbolicLink()) refuseForeign(file, at, st.uid);
  }
}
/** Makes the rename itself durable; not every filesystem allows it, which is harmless. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY).catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => undefined);
  await handle.close();
}
