#!/usr/bin/env node
/**
 * The `eos` executable. `--version` is answered here, before anything is loaded; every other
 * invocation runs the program from `eos.cjs` beside this file: every command in one CommonJS
 * bundle, compiled from V8's code cache when there is one (docs/architecture.md, Start-up).
 */
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { IMPORT_ESM } from './util/import-esm.js';

// What only a command needs is required when one runs: `--version` loads nothing but the above.
const lazyRequire = createRequire(import.meta.url);
const fs = () => lazyRequire('node:fs') as typeof import('node:fs');
const path = () => lazyRequire('node:path') as typeof import('node:path');

/** Set by the build (tools/build.mjs) so that `--version` reads no file; from package.json otherwise. */
declare const EOS_VERSION: string | undefined;
const version = typeof EOS_VERSION === 'string' ? EOS_VERSION : (createRequire(import.meta.url)('../package.json') as { version: string }).version;

type Core = typeof import('./commands/entry.js');

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/**
 * Where this user's code cache for this very bundle lives, or undefined when there is no safe
 * place: a directory of our own (owned by us, no one else may write it, not a symlink), so that
 * nobody else can hand this process code to run — `sudo eos` with another user's HOME included.
 */
export function codeCachePath(bundle: string, env: NodeJS.ProcessEnv, command: string): string | undefined {
  const { isAbsolute, join } = path();
  const base = env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : env.HOME ? join(env.HOME, '.cache') : undefined;
  if (!base || process.getuid === undefined) return undefined;
  const dir = join(base, 'eos');
  const { lstatSync, mkdirSync, statSync } = fs();
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stat = lstatSync(dir);
    if (!stat.isDirectory() || stat.uid !== process.getuid() || (stat.mode & 0o022) !== 0) return undefined;
  } catch {
    return undefined;
  }
  // One file per bundle, Node and command: a new build or another V8 never reads another's
  // cache, and each command's cache holds the functions its own runs compiled.
  const { size, mtimeMs } = statSync(bundle);
  const { createHash } = lazyRequire('node:crypto') as typeof import('node:crypto');
  const key = createHash('sha256').update(`${bundle}\0${size}\0${mtimeMs}\0${process.version}\0${process.arch}\0${command}`).digest('hex').slice(0, 16);
  return join(dir, `v8-${key}.cache`);
}

/** Caches of builds not run for a month (an old version, a removed checkout) are removed. */
function forgetOldCaches(dir: string): void {
  const { readdirSync, statSync, unlinkSync } = fs();
  const monthAgo = Date.now() - 30 * 24 * 3600 * 1000;
  for (const name of readdirSync(dir)) {
    if (!/^v8-[0-9a-f]{16}\.cache$/.test(name)) continue;
    const file = path().join(dir, name);
    if (statSync(file).atimeMs < monthAgo && statSync(file).mtimeMs < monthAgo) unlinkSync(file);
  }
}

/** The cache's bytes if the file is ours alone (read through one descriptor: no swap between check and read). */
function readOwnFile(file: string): Buffer | undefined {
  const { closeSync, constants, fstatSync, openSync, readFileSync } = fs();
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.uid !== process.getuid?.() || (stat.mode & 0o022) !== 0) return undefined;
    return readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Runs `eos.cjs` as Node would require it, but from V8's code cache of it when one is there:
 * compiling the bundle is most of what a command costs to start. The cache is written after the
 * first run of this build (with what that run compiled) and whenever V8 refuses it.
 */
function loadCore(argv: string[]): Core {
  const vm = lazyRequire('node:vm') as typeof import('node:vm');
  const { readFileSync, renameSync, writeFileSync } = fs();
  const bundle = fileURLToPath(new URL('./eos.cjs', import.meta.url));
  // The command: its first words, before any option (at most three: `self secrets get`).
  const firstOption = argv.findIndex((a) => a.startsWith('-'));
  const command = argv.slice(0, firstOption === -1 ? 3 : Math.min(firstOption, 3)).join(' ');
  const cacheFile = codeCachePath(bundle, process.env, command);
  const cachedData = cacheFile ? readOwnFile(cacheFile) : undefined;
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${readFileSync(bundle, 'utf8')}\n})`, {
    filename: bundle,
    cachedData,
  });
  if (cacheFile && (!cachedData || script.cachedDataRejected)) {
    process.once('exit', () => {
      try {
        const temp = `${cacheFile}.${process.pid}.tmp`;
        writeFileSync(temp, script.createCachedData(), { mode: 0o600, flag: 'wx' });
        renameSync(temp, cacheFile);
        forgetOldCaches(path().dirname(cacheFile));
      } catch {
        // No cache this time: the next start compiles again.
      }
    });
  }
  const module = { exports: {} as Core };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(bundle), module, bundle, path().dirname(bundle));
  return module.exports;
}

if (isEntryPoint()) {
  const argv = process.argv.slice(2);
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(`${version}\n`);
  } else {
    // The core may not call import() itself (a script, on Node 20): it asks this module.
    (globalThis as Record<symbol, unknown>)[IMPORT_ESM] = (specifier: string) => import(specifier);
    const { main, processIO } = loadCore(argv);
    process.exitCode = await main(argv, processIO(), version);
  }
}
