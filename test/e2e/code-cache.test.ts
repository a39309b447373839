import { chmodSync, chownSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { codeCachePath } from '../../src/cli.js';
import { CLI, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The built CLI compiles its core from V8's code cache in the user's cache directory (src/cli.ts):
 * written after a first run, used after, replaced when V8 refuses it — and never read from a
 * place someone else could have written (a process must not run code another user planted).
 */
describe('the code cache', () => {
  it('is written after the first run of a command (0600, in a 0700 directory), used as it is by the next, replaced when V8 refuses it', async () => {
    const home = tempDir();
    const env = { HOME: home, XDG_STATE_HOME: path.join(home, 'state') };
    const first = await runCli(['self', 'config', 'show', '--json'], { env });
    expect(first.code).toBe(0);
    const dir = path.join(home, '.cache', 'eos');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    const cache = path.join(dir, files[0] as string);
    const written = statSync(cache);
    expect(written.mode & 0o777).toBe(0o600);
    expect(written.size).toBeGreaterThan(10_000);

    // V8 accepted it: the second run leaves it as it was.
    const second = await runCli(['self', 'config', 'show', '--json'], { env });
    expect(second.stdout).toBe(first.stdout);
    expect(statSync(cache).mtimeMs).toBe(written.mtimeMs);

    // A cache V8 refuses (corrupt, or another V8's) costs nothing but a compile, and is replaced.
    writeFileSync(cache, Buffer.alloc(4096, 7), { mode: 0o600 });
    const third = await runCli(['self', 'config', 'show', '--json'], { env });
    expect(third).toMatchObject({ code: 0, stdout: first.stdout, stderr: '' });
    expect(statSync(cache).size).toBeGreaterThan(10_000);

    // Another command has a cache of its own (its runs compile other functions).
    await runCli(['self', 'secrets', 'status', '--json'], { env });
    expect(readdirSync(dir)).toHaveLength(2);
  });

  it('is not used where another user could have written it: a symlinked, shared or foreign directory', () => {
    const bundle = CLI; // any file: the path is keyed by the bundle's size and time
    const ok = tempDir();
    expect(codeCachePath(bundle, { XDG_CACHE_HOME: ok }, 'self secrets get')).toMatch(new RegExp(`^${ok}/eos/v8-[0-9a-f]{16}\\.cache$`));
    expect(codeCachePath(bundle, { XDG_CACHE_HOME: ok }, 'self secrets get')).not.toBe(codeCachePath(bundle, { XDG_CACHE_HOME: ok }, 'self secrets status'));

    const shared = tempDir();
    mkdirSync(path.join(shared, 'eos'));
    chmodSync(path.join(shared, 'eos'), 0o777);
    expect(codeCachePath(bundle, { XDG_CACHE_HOME: shared }, 'x')).toBeUndefined();

    const linked = tempDir();
    const elsewhere = tempDir();
    symlinkSync(elsewhere, path.join(linked, 'eos'));
    expect(codeCachePath(bundle, { XDG_CACHE_HOME: linked }, 'x')).toBeUndefined();

    if (process.getuid?.() === 0) {
      const foreign = tempDir();
      mkdirSync(path.join(foreign, 'eos'), { mode: 0o700 });
      chownSync(path.join(foreign, 'eos'), 65534, 65534);
      expect(codeCachePath(bundle, { XDG_CACHE_HOME: foreign }, 'x')).toBeUndefined();
    }

    // No home at all, or a relative XDG_CACHE_HOME with no HOME: no cache.
    expect(codeCachePath(bundle, {}, 'x')).toBeUndefined();
    expect(codeCachePath(bundle, { XDG_CACHE_HOME: 'relative' }, 'x')).toBeUndefined();
  });
});
