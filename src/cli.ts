#!/usr/bin/env node
/**
 * The `eos` executable. `--version` is answered here, before anything is loaded; every other
 * invocation goes to the program (commands/program.ts), which mounts the command specs.
 */
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Set by the build (tools/build.mjs) so that `--version` reads no file; from package.json otherwise. */
declare const EOS_VERSION: string | undefined;
const version = typeof EOS_VERSION === 'string' ? EOS_VERSION : (createRequire(import.meta.url)('../package.json') as { version: string }).version;

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
 * What the most used commands' runs import, started while commander and the specs load: each
 * `import()` a run awaits is otherwise one more trip through the module loader, one after the
 * other (docs/benchmarks.md, start-up). Any other command loads what it needs as it runs.
 */
const PRELOAD: Record<string, () => Promise<unknown>[]> = {
  'self secrets get': () => [import('./commands/context.js'), import('./config/load.js'), import('./vault/session.js'), import('./vault/read-secret.js')],
  'self secrets status': () => [import('./commands/context.js'), import('./config/load.js'), import('./vault/session.js'), import('./setup/status.js')],
  'self secrets env': () => [import('./commands/context.js'), import('./config/load.js'), import('./credentials/hold.js')],
};

if (isEntryPoint()) {
  const argv = process.argv.slice(2);
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(`${version}\n`);
  } else {
    if (!argv.includes('--help') && !argv.includes('-h')) {
      for (const started of PRELOAD[argv.slice(0, 3).join(' ')]?.() ?? []) started.catch(() => undefined);
    }
    const [{ main }, { processIO }] = await Promise.all([import('./commands/program.js'), import('./commands/io.js')]);
    process.exitCode = await main(argv, processIO(), version);
  }
}
