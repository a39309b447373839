#!/usr/bin/env node
/**
 * The `eos` executable. `--version` is answered here, before anything is loaded; every other
 * invocation runs the program from `eos.cjs` beside this file: every command in one CommonJS
 * bundle, compiled from V8's code cache when there is one (docs/architecture.md, Start-up).
 */
import { readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeCacheFor, readCodeCache, writeCodeCache } from './code-cache.js';
import { commandOf } from './commands/command-line.js';
import { ES_MODULES, IMPORT_ESM } from './util/import-esm.js';

// Loaded only when a command runs: `--version` needs nothing more than the above.
const lazyRequire = createRequire(import.meta.url);

/** Set by the build (tools/build.mjs) so that `--version` reads no file; from package.json otherwise. */
declare const EOS_VERSION: string | undefined;
const version = typeof EOS_VERSION === 'string' ? EOS_VERSION : (lazyRequire('../package.json') as { version: string }).version;

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

/** Set by the build: a digest of dist/eos.cjs, so a cache is only ever read by the build that wrote it. */
declare const EOS_BUILD_ID: string | undefined;

/**
 * Runs `eos.cjs` as Node would require it, but from V8's code cache of it when there is a safe one
 * (src/code-cache.ts): compiling the bundle is most of what a command costs to start. The cache is
 * written at exit after a first run of the command, and whenever V8 refuses it.
 */
function loadCore(argv: string[]): Core {
  const vm = lazyRequire('node:vm') as typeof import('node:vm');
  const bundle = fileURLToPath(new URL('./eos.cjs', import.meta.url));
  // A help run compiles little: its cache would be a thin one that no later run replaces.
  const command = argv.includes('--help') || argv.includes('-h') ? undefined : commandOf(argv);
  const cache = command && typeof EOS_BUILD_ID === 'string' ? codeCacheFor(EOS_BUILD_ID, command, process.env) : undefined;
  const cachedData = cache ? readCodeCache(cache) : undefined;
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${readFileSync(bundle, 'utf8')}\n})`, { filename: bundle, cachedData });
  if (cache && (!cachedData || script.cachedDataRejected)) process.once('exit', () => writeCodeCache(cache, script.createCachedData()));
  const module = { exports: {} as Core };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(bundle), module, bundle, path.dirname(bundle));
  return module.exports;
}

/**
 * The core's `import()` of the ES modules beside it (src/util/import-esm.ts): a script cannot
 * import on Node 20 without an experimental loader that warns on stderr. Only these names, and
 * fixed once set.
 */
function lendImport(): void {
  const allowed = new Set<string>(ES_MODULES);
  Object.defineProperty(globalThis, IMPORT_ESM, {
    value: (specifier: string) => (allowed.has(specifier) ? import(specifier) : Promise.reject(new Error(`eos imports no module ${specifier}`))),
    writable: false,
    configurable: false,
  });
}

if (isEntryPoint()) {
  const argv = process.argv.slice(2);
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(`${version}\n`);
  } else {
    lendImport();
    const { main, processIO, installLastResort, reportError, onInterrupt } = loadCore(argv);
    const io = processIO();
    // Whatever nothing caught still revokes the lease and removes what the run made, then exits 1.
    installLastResort((err) => reportError(err, io, { debug: argv.includes('--debug'), json: false }));
    // SIGINT and SIGTERM end any command within a second, its clean-up done (src/commands/interrupt.ts).
    const interrupt = onInterrupt((line) => io.stderr.write(`${line}\n`));
    const code = await main(argv, io, version, { interrupt });
    // A request to a server that never answered must not hold the process open after a signal.
    if (interrupt.received) process.exit(code);
    process.exitCode = code;
  }
}
