import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The rule of `npm run lint` that keeps the design inside the repository
 * (tools/check-references.mjs): a citation of a document a clone does not contain fails it.
 */
const run = promisify(execFile);
const SCRIPT = path.join(REPO_ROOT, 'tools', 'check-references.mjs');

async function check(files: Record<string, string>): Promise<{ code: number; stderr: string }> {
  const dir = tempDir();
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  try {
    await run(process.execPath, [SCRIPT, 'src', 'test', 'docs'], { cwd: dir });
    return { code: 0, stderr: '' };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

describe('no reference to a document outside the repository', () => {
  it('passes citations of the project\'s own docs', async () => {
    const r = await check({
      'src/vault/lifetime.ts': '/** The timing rule (docs/design.md §5). */\nexport const x = 1;\n',
      'docs/architecture.md': 'The reasons are in [design.md](design.md#5-the-lease-keeper); the seed statements of `--statements seed`.\n',
    });
    expect(r).toEqual({ code: 0, stderr: '' });
  });

  // Written in pieces, so that this file does not itself cite what it plants.
  const design = 'DES' + 'IGN';
  const shared = '..' + '/shared';
  it.each([
    ['src/vault/lease-keeper.ts', `/** Keeps a lease alive (${design} §5). */`, `a section of ${design}.md`],
    ['test/unit/x.test.ts', `// as ${shared}/reference/` + 'vault-api.md says', 'a reference document'],
    ['docs/setup.md', `Read \`${design}.md\` first.`, `${design}.md`],
    ['src/delphi/schema.sql', `-- see ../${shared}/seed/` + 'vault-database-dynamic-credentials.md', 'the seed document'],
    ['docs/ci.md', 'house rules in STY' + 'LE.md', 'STY' + 'LE.md'],
  ])('fails on %s citing %s', async (file, line, what) => {
    const r = await check({ [file]: `${line}\n` });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file}:1: cites ${what}, which is not in the repository`);
    expect(r.stderr).toMatch(/1 reference\(s\) to documents outside the repository/);
  });
});
