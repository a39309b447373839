import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PermissionDeniedError, UsageError } from '../../src/errors.js';
import { redactString } from '../../src/redact.js';
import { readIdentityToken } from '../../src/vault/identity-token.js';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJqb2IiLCJhdWQiOiJ4In0.c2lnbmF0dXJlLWJ5dGVz';

/** Where the identity token comes from, and each way that can fail: one line, the right exit code. */
describe('reading the identity token', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'eos-idt-'));
  // Every run left this directory behind (85 of them on this machine).
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file afresh each time, trimmed', async () => {
    const file = path.join(dir, 'token');
    writeFileSync(file, `${JWT}\n`);
    expect(await readIdentityToken({ from: 'file', path: file }, {})).toBe(JWT);
    writeFileSync(file, 'second\n');
    expect(await readIdentityToken({ from: 'file', path: file }, {})).toBe('second');
  });

  it('names a missing or empty file, and an unset variable, as usage errors (exit 2)', async () => {
    await expect(readIdentityToken({ from: 'file', path: path.join(dir, 'absent') }, {})).rejects.toThrow(/^the identity token file .*absent does not exist$/);
    writeFileSync(path.join(dir, 'empty'), '  \n');
    await expect(readIdentityToken({ from: 'file', path: path.join(dir, 'empty') }, {})).rejects.toBeInstanceOf(UsageError);
    await expect(readIdentityToken({ from: 'env', name: 'VAULT_ID_TOKEN' }, {})).rejects.toThrow('$VAULT_ID_TOKEN holds no identity token');
    expect(await readIdentityToken({ from: 'env', name: 'VAULT_ID_TOKEN' }, { VAULT_ID_TOKEN: ` ${JWT} ` })).toBe(JWT);
  });

  it('asks GitHub with the bearer and the audience; a job without id-token permission is told so', async () => {
    const env = { ACTIONS_ID_TOKEN_REQUEST_URL: 'http://runner/token?api-version=2.0', ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'bearer-1' };
    const asked: { url: string; auth: string | null }[] = [];
    const github = (status: number, body: unknown) =>
      (async (url: string | URL | Request, init?: RequestInit) => {
        asked.push({ url: String(url), auth: new Headers(init?.headers).get('authorization') });
        return new Response(JSON.stringify(body), { status });
      }) as typeof fetch;
    expect(await readIdentityToken({ from: 'github', audience: 'https://github.com/org' }, env, github(200, { value: JWT }))).toBe(JWT);
    expect(asked[0]).toEqual({ url: 'http://runner/token?api-version=2.0&audience=https%3A%2F%2Fgithub.com%2Forg', auth: 'Bearer bearer-1' });
    await expect(readIdentityToken({ from: 'github' }, {}, github(200, {}))).rejects.toThrow(/ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN are not set/);
    const refused = readIdentityToken({ from: 'github' }, env, github(403, {}));
    await expect(refused).rejects.toBeInstanceOf(PermissionDeniedError);
    await expect(refused).rejects.toThrow('GitHub refused the OIDC token request (HTTP 403)');
    await expect(readIdentityToken({ from: 'github' }, env, github(200, { value: '' }))).rejects.toThrow(/without a token/);
    const down = (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    await expect(readIdentityToken({ from: 'github' }, env, down)).rejects.toThrow("cannot get GitHub's OIDC token: fetch failed");
  });

  it('is redacted wherever it appears in text', () => {
    expect(redactString(`login with ${JWT} failed`)).toBe('login with [REDACTED] failed');
    expect(redactString('version 1.2.3 and eyJ-short')).toBe('version 1.2.3 and eyJ-short');
  });
});
