import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runEos } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * `eos self secrets env` writes lines a shell sources (`shell`) or a service manager reads
 * (`dotenv`): a value that came from somewhere else — a password in PG_DSN or KV, a host — must
 * stay text, never run (issue 24, item 4).
 */
describe('eos self secrets env output, sourced by a shell', () => {
  it.each(['shell', 'dotenv'])('--format %s: a password holding $(…) and a backtick stays text', async (format) => {
    const dir = tempDir();
    const planted = path.join(dir, 'ran');
    const password = `p$(touch ${planted})\`touch ${planted}\`'"x`;
    const dsn = `postgresql://delphi_static:${encodeURIComponent(password)}@db.internal:5432/delphi?sslmode=disable`;
    const r = await runEos(['self', 'secrets', 'env', '--source', 'env', '--format', format, '--reveal'], { env: { HOME: dir, PG_DSN: dsn } });
    r.revealed = true;
    expect(r.code, r.stderr).toBe(0);
    const file = path.join(dir, 'creds.env');
    writeFileSync(file, r.stdout);
    const seen = execFileSync('sh', ['-c', `set -a; . "${file}"; printf '%s' "$PGPASSWORD"`], { encoding: 'utf8' });
    expect(seen).toBe(password);
    expect(existsSync(planted)).toBe(false);
  });
});
