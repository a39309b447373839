import { chmodSync, chownSync, lchownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigFile } from '../../src/config/load.js';
import { writeConfigFile } from '../../src/config/write.js';
import { saveConfiguration } from '../../src/setup/configure.js';
import { REPO_ROOT, runNodeSnippet } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

// The crash tests run writeConfigFile in a plain Node child, so it is bundled for Node first
// (dist/ holds only the bundled CLI).
let WRITE_MODULE = '';
const bundleDir = mkdtempSync(path.join(tmpdir(), 'eos-write-'));
afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));
beforeAll(async () => {
  const outfile = path.join(bundleDir, 'write.mjs');
  await build({ entryPoints: [path.join(REPO_ROOT, 'src/config/write.ts')], outfile, bundle: true, format: 'esm', platform: 'node', logLevel: 'error', nodePaths: [path.join(REPO_ROOT, 'node_modules')] });
  WRITE_MODULE = pathToFileURL(outfile).href;
});
const mode = (p: string) => statSync(p).mode & 0o777;

describe('writing the configuration', () => {
  it('creates the file 0600 in a new directory 0700, even under a permissive umask', async () => {
    const dir = path.join(tempDir(), 'eos');
    const file = path.join(dir, 'config.json');
    const old = process.umask(0o000);
    try {
      await writeConfigFile(file, { vault: { address: 'https://vault.example:8200' } });
    } finally {
      process.umask(old);
    }
    expect(mode(file)).toBe(0o600);
    expect(mode(dir)).toBe(0o700);
    expect(parseConfigFile(file).vault.address).toBe('https://vault.example:8200');
  });

  it('keeps the mode of a file it replaces, less write for group and others, and leaves no temp file', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'config.json');
    writeFileSync(file, '{}');
    chmodSync(file, 0o666);
    await writeConfigFile(file, { kv: { mount: 'kv' } });
    expect(mode(file)).toBe(0o644);
    expect(readdirSync(dir)).toEqual(['config.json']);
  });

  it('resolves a relative link against its real directory, as the kernel does', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'repo', 'etc'), { recursive: true });
    mkdirSync(path.join(dir, 'repo', 'shared'));
    writeFileSync(path.join(dir, 'repo', 'shared', 'config.json'), '{}');
    symlinkSync(path.join('..', 'shared', 'config.json'), path.join(dir, 'repo', 'etc', 'config.json'));
    symlinkSync(path.join('repo', 'etc'), path.join(dir, 'eos'));
    await writeConfigFile(path.join(dir, 'eos', 'config.json'), { kv: { mount: 'kv' } });
    expect(parseConfigFile(path.join(dir, 'repo', 'shared', 'config.json')).kv.mount).toBe('kv');
    expect(readdirSync(dir).sort()).toEqual(['eos', 'repo']);
  });

  it('writes a config reached through a symbolic link at its target, and the link stays', async () => {
    const dir = tempDir();
    const real = path.join(dir, 'repo', 'eos.json');
    mkdirSync(path.dirname(real));
    writeFileSync(real, '{}', { mode: 0o640 });
    const link = path.join(dir, 'config.json');
    symlinkSync(path.join('repo', 'eos.json'), link);
    await writeConfigFile(link, { kv: { mount: 'kv' } });
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(parseConfigFile(real).kv.mount).toBe('kv');
    expect(mode(real)).toBe(0o640);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'repo']);
  });

  it.runIf(process.getuid?.() === 0)('run as root (a sudo eos), keeps the owner of the file it replaces, and refuses a link another user owns', async () => {
    const dir = tempDir();
    chmodSync(dir, 0o755);
    const file = path.join(dir, 'config.json');
    writeFileSync(file, '{}', { mode: 0o600 });
    chownSync(file, 65534, 65534);
    await writeConfigFile(file, { kv: { mount: 'kv' } });
    expect([statSync(file).uid, statSync(file).gid]).toEqual([65534, 65534]);

    const elsewhere = path.join(dir, 'elsewhere.json');
    writeFileSync(elsewhere, '{"kv":{"mount":"keep"}}');
    const planted = path.join(dir, 'planted.json');
    symlinkSync(elsewhere, planted);
    lchownSync(planted, 65534, 65534);
    await expect(writeConfigFile(planted, { kv: { mount: 'kv' } })).rejects.toThrow(/a symbolic link owned by another user \(uid 65534\): eos does not write through it/);
    expect(readFileSync(elsewhere, 'utf8')).toBe('{"kv":{"mount":"keep"}}');
    // A linked directory on the way counts the same.
    const victim = path.join(dir, 'victim');
    mkdirSync(victim);
    const linkedDir = path.join(dir, 'eos-dir');
    symlinkSync(victim, linkedDir);
    lchownSync(linkedDir, 65534, 65534);
    await expect(writeConfigFile(path.join(linkedDir, 'config.json'), { kv: { mount: 'kv' } })).rejects.toThrow(/goes through .*eos-dir, a symbolic link owned by another user/);
    expect(readdirSync(victim)).toEqual([]);
  });

  it('refuses to write an invalid configuration and leaves the old file alone', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'config.json');
    writeFileSync(file, '{"kv":{"mount":"keep"}}');
    await expect(writeConfigFile(file, { database: { port: 0 } } as never)).rejects.toThrow(/database\.port/);
    expect(readFileSync(file, 'utf8')).toBe('{"kv":{"mount":"keep"}}');
  });

  // A real process killed with SIGKILL in the middle of a write: the old file must stay whole.
  const crashCases = {
    'after the temp file is written, before the rename': `
      fsp.rename = async () => { process.kill(process.pid, 'SIGKILL'); await new Promise(() => {}); };`,
    'half-way through writing the temp file': `
      const open = fsp.open;
      fsp.open = async (...args) => {
        const handle = await open(...args);
        handle.writeFile = async (data) => {
          await handle.write(String(data).slice(0, Math.floor(String(data).length / 2)));
          await handle.sync();
          process.kill(process.pid, 'SIGKILL');
          await new Promise(() => {});
        };
        return handle;
      };`,
  };

  for (const [when, patch] of Object.entries(crashCases)) {
    it(`survives a crash ${when}`, async () => {
      const dir = path.join(tempDir(), 'eos');
      mkdirSync(dir);
      const file = path.join(dir, 'config.json');
      const original = JSON.stringify({ vault: { address: 'https://old:8200' } }, null, 2);
      writeFileSync(file, original, { mode: 0o600 });

      const result = await runNodeSnippet(`
        import { createRequire, syncBuiltinESMExports } from 'node:module';
        const fsp = createRequire(import.meta.url)('node:fs/promises');
        ${patch}
        syncBuiltinESMExports();
        const { writeConfigFile } = await import(${JSON.stringify(WRITE_MODULE)});
        await writeConfigFile(${JSON.stringify(file)}, { vault: { address: 'https://new-and-much-longer-address.example:8200' }, kv: { mount: 'x' } });
        console.log('not crashed');
      `);
      expect(result.signal).toBe('SIGKILL');
      expect(result.stdout).not.toContain('not crashed');
      // The crash happened with a temp file on disk, and the real file is untouched and valid.
      expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toHaveLength(1);
      expect(readFileSync(file, 'utf8')).toBe(original);
      expect(parseConfigFile(file).vault.address).toBe('https://old:8200');
    });
  }
});

describe('writing the token file (configure)', () => {
  it('never writes the token into a file another local user planted where the temp file goes', async () => {
    const home = tempDir();
    const tokenFile = path.join(home, '.vault-token');
    // Before, the temp name was <file>.<pid>.tmp, opened without O_EXCL: a world-writable file
    // (or link) planted there kept its owner and mode, and became the token file.
    const planted = `${tokenFile}.${process.pid}.tmp`;
    writeFileSync(planted, '');
    chmodSync(planted, 0o666);
    if (process.getuid?.() === 0) chownSync(planted, 65534, 65534);
    await saveConfiguration(path.join(home, 'config.json'), {}, { address: 'https://vault.example:8200', auth: { method: 'token' }, token: 'hvs.planted-test-token' }, home);
    const stat = statSync(tokenFile);
    expect(mode(tokenFile)).toBe(0o600);
    expect(stat.uid).toBe(process.getuid?.());
    expect(readFileSync(tokenFile, 'utf8')).toBe('hvs.planted-test-token');
    expect(readFileSync(planted, 'utf8')).toBe('');
    // And no temp file of ours is left beside it.
    expect(readdirSync(home).filter((f) => f.endsWith('.tmp'))).toEqual([path.basename(planted)]);
  });
});
