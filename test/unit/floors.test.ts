import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The floors rule of `npm run lint` (.dependency-cruiser.cjs), run on small trees laid out like
 * src/: it must pass a clean one and name every arrow up, sideways import and circle.
 */
const root = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function cruise(files: Record<string, string>): Promise<{ code: number; out: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'eos-floors-'));
  dirs.push(dir);
  cpSync(path.join(root, 'tsconfig.json'), path.join(dir, 'tsconfig.json'));
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  const bin = path.join(root, 'node_modules/.bin/depcruise');
  try {
    const { stdout } = await run(bin, ['src', '--config', path.join(root, '.dependency-cruiser.cjs')], { cwd: dir });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, out: e.stdout };
  }
}

const clean = {
  'src/util/clock.ts': 'export const now = () => 0;\n',
  'src/vault/client.ts': "import { now } from '../util/clock.js';\nexport const v = now();\n",
  'src/db/pool.ts': "import { now } from '../util/clock.js';\nexport const p = now();\n",
  'src/credentials/chain.ts': "import { v } from '../vault/client.js';\nimport { p } from '../db/pool.js';\nexport const c = v + p;\n",
};

describe('the floors lint rule', () => {
  it('passes a tree whose imports only go down', async () => {
    const { code, out } = await cruise(clean);
    expect(out).toMatch(/no dependency violations/);
    expect(code).toBe(0);
  });

  it('fails on an arrow up, naming both files', async () => {
    const { code, out } = await cruise({ ...clean, 'src/vault/client.ts': "import { c } from '../credentials/chain.js';\nexport const v = c;\n" });
    expect(code).not.toBe(0);
    expect(out).toMatch(/no-arrow-up: src\/vault\/client\.ts → src\/credentials\/chain\.ts/);
  });

  it('fails when vault/ and db/ know each other', async () => {
    const { code, out } = await cruise({ ...clean, 'src/db/pool.ts': "import { v } from '../vault/client.js';\nexport const p = v;\n" });
    expect(code).not.toBe(0);
    expect(out).toMatch(/no-sideways: src\/db\/pool\.ts → src\/vault\/client\.ts/);
  });

  it('fails on a circle inside one folder', async () => {
    const { code, out } = await cruise({
      ...clean,
      'src/util/a.ts': "import { b } from './b.js';\nexport const a = () => b();\n",
      'src/util/b.ts': "import { a } from './a.js';\nexport const b = (): number => (a ? 1 : 0);\n",
    });
    expect(code).not.toBe(0);
    expect(out).toMatch(/no-circular: src\/util\/a\.ts →/);
  });

  it('fails on a circle of type-only imports inside the dev server', async () => {
    const { code, out } = await cruise({
      ...clean,
      'src/sandbox/vault-dev-server/router.ts': "import type { Backend } from './backend.js';\nexport interface Router { backends: Backend[] }\n",
      'src/sandbox/vault-dev-server/backend.ts': "import type { Router } from './router.js';\nexport interface Backend { router: Router }\n",
    });
    expect(code).not.toBe(0);
    expect(out).toMatch(/no-circular: src\/sandbox\/vault-dev-server\/(router|backend)\.ts →/);
  });
});
