import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { validateConfig } from './load.js';
import type { ConfigInput } from './schema.js';

/**
 * Writes the configuration atomically (writeFileAtomically). Validated first: an invalid config
 * is never written.
 */
export async function writeConfigFile(file: string, config: ConfigInput): Promise<void> {
  validateConfig(file, config);
  await writeFileAtomically(file, `${JSON.stringify(config, null, 2)}\n`);
}

/**
 * Writes a file atomically and privately — the config, a token file: a new temp file of an
 * unguessable name in the same directory, created exclusively (never an existing file or a link
 * someone planted, whose owner and mode it would keep), 0600, flushed to disk, then renamed over
 * the old one. A crash at any point leaves either the old file or the new one, never a half-written
 * one; a directory we create is 0700.
 */
export async function writeFileAtomically(file: string, text: string): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });

  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(8).toString('hex')}.tmp`);
  const handle = await open(temp, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o600);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  try {
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncDirectory(dir);
}

/** Makes the rename itself durable; not every filesystem allows it, which is harmless. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY).catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => undefined);
  await handle.close();
}
