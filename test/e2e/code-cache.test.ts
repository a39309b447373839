import { chmodSync, chownSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { codeCacheFor, readCodeCache, writeCodeCache } from '../../src/code-cache.js';
import { commandOf, COMMAND_PATHS } from '../../src/commands/command-line.js';
import { COMMANDS } from '../../src/commands/program.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The built CLI compiles its core from V8's code cache in the user's cache directory
 * (src/code-cache.ts): written after a first run, used after, replaced when V8 refuses it or its
 * bytes are not whole — and never read from, nor written to, a place someone else could write.
 */
describe('the code cache, as the built CLI uses it', () => {
  it('is written after a command\'s first run (0600 in a 0700 directory), used as it is by the next, replaced when torn', async () => {
    const home = tempDir();
    const env = { HOME: home, XDG_STATE_HOME: path.join(home, 'state') };
    const first = await runCli(['self', 'config', 'show', '--json'], { env });
    expect(first.code).toBe(0);
    const dir = path.join(home, '.cache', 'eos');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const files = readdirSync(dir);
    expect(files).toEqual([expect.stringMatching(/^v8-[0-9a-f]{16}\.cache$/)]);
    const cache = path.join(dir, files[0] as string);
    const written = statSync(cache);
    expect(written.mode & 0o777).toBe(0o600);
    expect(written.size).toBeGreaterThan(10_000);

    // V8 accepted it: the second run leaves it as it was.
    const second = await runCli(['self', 'config', 'show', '--json'], { env });
    expect(second.stdout).toBe(first.stdout);
    expect(statSync(cache).mtimeMs).toBe(written.mtimeMs);

    // Bytes flipped inside a valid cache (V8 itself would accept them and crash): the digest
    // refuses it, the command compiles from source and writes a whole cache again.
    const bytes = readFileSync(cache);
    for (const at of [100, 5_000, bytes.length - 50]) bytes[at] = (bytes[at] as number) ^ 0xff;
    writeFileSync(cache, bytes, { mode: 0o600 });
    const third = await runCli(['self', 'config', 'show', '--json'], { env });
    expect(third).toMatchObject({ code: 0, stdout: first.stdout, stderr: '' });
    expect(readFileSync(cache).equals(bytes)).toBe(false);
    expect(readdirSync(dir)).toHaveLength(1); // no temp file left

    // Another command has a cache of its own; help and a typo get none.
    await runCli(['self', 'secrets', 'status', '--json'], { env });
    await runCli(['self', 'secrets', '--help'], { env });
    await runCli(['self', 'secerts', 'get'], { env });
    expect(readdirSync(dir)).toHaveLength(2);
  });

  it('EOS_NO_CODE_CACHE=1 turns it off', async () => {
    const home = tempDir();
    const r = await runCli(['self', 'config', 'show'], { env: { HOME: home, EOS_NO_CODE_CACHE: '1' } });
    expect(r.code).toBe(0);
    expect(existsSync(path.join(home, '.cache'))).toBe(false);
  });
});

describe('where a code cache may live', () => {
  const id = 'b'.repeat(32);

  it('keys a file by build, Node, V8 flags and command, under <cache home>/eos', () => {
    const home = tempDir();
    const get = codeCacheFor(id, 'self secrets get', { HOME: home });
    expect(get?.file).toMatch(new RegExp(`^${home}/\\.cache/eos/v8-[0-9a-f]{16}\\.cache$`));
    expect(codeCacheFor(id, 'self secrets status', { HOME: home })?.file).not.toBe(get?.file);
    expect(codeCacheFor('c'.repeat(32), 'self secrets get', { HOME: home })?.file).not.toBe(get?.file);
    const xdg = tempDir();
    expect(codeCacheFor(id, 'sandbox', { HOME: home, XDG_CACHE_HOME: xdg })?.file.startsWith(`${xdg}/eos/`)).toBe(true);
  });

  it('names only commands eos has, whatever options come first', () => {
    expect(COMMAND_PATHS).toEqual(COMMANDS.map((c) => c.path.join(' ')));
    expect(commandOf(['self', 'secrets', 'get', 'secret/x', '--json'])).toBe('self secrets get');
    expect(commandOf(['--config', 'f.json', '--debug', 'delphi', 'schema', 'apply', '--dry-run'])).toBe('delphi schema apply');
    expect(commandOf(['self', 'secrets', 'set', 'delphi-db-config', '--host', 'a'])).toBe('self secrets set delphi-db-config');
    for (const none of [[], ['--help'], ['self', 'secrets'], ['self', 'secrets', '--help', 'get'], ['nosuch'], ['self', 'secerts', 'get']]) expect(commandOf(none)).toBeUndefined();
  });

  it('has none where someone else could have written: a foreign home, a symlink on the way, a shared directory, under sudo', () => {
    // A home owned by another user: nothing is created in it either.
    const foreign = tempDir();
    chownSync(foreign, 65534, 65534);
    expect(codeCacheFor(id, 'sandbox', { HOME: foreign })).toBeUndefined();
    expect(readdirSync(foreign)).toEqual([]);

    // ~/.cache is a symlink to elsewhere.
    const linked = tempDir();
    symlinkSync(tempDir(), path.join(linked, '.cache'));
    expect(codeCacheFor(id, 'sandbox', { HOME: linked })).toBeUndefined();

    // A cache home others may write (not sticky), and an eos directory others may write.
    const shared = tempDir();
    chmodSync(shared, 0o777);
    expect(codeCacheFor(id, 'sandbox', { XDG_CACHE_HOME: path.join(shared, 'c') })).toBeUndefined();
    const loose = tempDir();
    mkdirSync(path.join(loose, 'eos'), { mode: 0o755 });
    chmodSync(path.join(loose, 'eos'), 0o755);
    expect(codeCacheFor(id, 'sandbox', { XDG_CACHE_HOME: loose })).toBeUndefined();

    // A cache home that does not exist is not made with its parents.
    const missing = path.join(tempDir(), 'no', 'such');
    expect(codeCacheFor(id, 'sandbox', { XDG_CACHE_HOME: missing })).toBeUndefined();
    expect(existsSync(path.join(missing, '..'))).toBe(false);

    // Root under sudo keeps no cache: HOME may still be the user's. No home at all: none.
    expect(codeCacheFor(id, 'sandbox', { HOME: tempDir(), SUDO_UID: '1000' })).toBeUndefined();
    expect(codeCacheFor(id, 'sandbox', {})).toBeUndefined();
    expect(codeCacheFor(id, 'sandbox', { HOME: 'relative' })).toBeUndefined();
  });

  it('reads only a whole file of ours with one link; writes whole files or none, into the directory it found', () => {
    const home = tempDir();
    const cache = codeCacheFor(id, 'sandbox', { HOME: home });
    if (!cache) return expect.fail('no cache where there should be one');
    const data = Buffer.from('compiled code, as V8 would give it');
    writeCodeCache(cache, data);
    expect(readCodeCache(cache)?.equals(data)).toBe(true);

    // A second name for the file (a hard link someone could have planted): not read.
    const twin = `${cache.file}.twin`;
    linkSync(cache.file, twin);
    expect(readCodeCache(cache)).toBeUndefined();
    unlinkSync(twin);
    expect(readCodeCache(cache)?.equals(data)).toBe(true);

    // A file others may read or write, or someone else's: not read.
    chmodSync(cache.file, 0o644);
    expect(readCodeCache(cache)).toBeUndefined();
    chmodSync(cache.file, 0o600);
    chownSync(cache.file, 65534, 65534);
    expect(readCodeCache(cache)).toBeUndefined();

    // A write that fails (here the name is taken by a directory; a full disk fails likewise)
    // leaves no temp file behind, and the cache is simply absent.
    const other = codeCacheFor(id, 'self secrets get', { HOME: home });
    if (!other) return expect.fail('no cache where there should be one');
    mkdirSync(path.join(other.file, 'occupied'), { recursive: true });
    writeCodeCache(other, data);
    expect(readdirSync(path.dirname(other.file)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(readCodeCache(other)).toBeUndefined();

    // The directory swapped for another between lookup and write: nothing is written there.
    const dir = path.dirname(cache.file);
    renameSync(dir, `${dir}.old`);
    mkdirSync(dir, { mode: 0o700 });
    writeCodeCache(cache, data);
    expect(readdirSync(dir)).toEqual([]);
  });
});
