import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, hasAnsi, REPO_ROOT } from '../helpers/cli.js';
import { fetchWithCa } from '../helpers/https.js';
import { startTlsSite, type TlsSite } from '../helpers/tls-site.js';

const SETUP_DOC = readFileSync(path.join(REPO_ROOT, 'docs', 'setup.md'), 'utf8');

/** Every command of every ```sh block, in order, with `\` continuations joined. */
function commandsOf(markdown: string): string[] {
  const commands: string[] = [];
  for (const block of markdown.matchAll(/```sh\n([\s\S]*?)```/g)) {
    let pending = '';
    for (const line of (block[1] as string).split('\n')) {
      const joined = pending ? `${pending} ${line.trim()}` : line;
      if (/\\\s*$/.test(joined)) {
        pending = joined.replace(/\\\s*$/, '').trimEnd();
        continue;
      }
      pending = '';
      if (joined.trim() !== '' && !joined.trim().startsWith('#')) commands.push(joined.trim());
    }
  }
  return commands;
}

/**
 * The commands the test leaves out, each with why. Each must still be in the document: a
 * command renamed there fails the test here instead of silently running nothing.
 */
const LEFT_OUT: { starts: string; why: string }[] = [
  { starts: 'eos self secrets configure\n', why: 'asks on a terminal; the script form below it is run instead' },
  { starts: 'eos self secrets configure --auth jwt --role delphi-dashboard', why: "needs a Kubernetes pod's projected identity token" },
  { starts: 'eos self secrets configure --auth jwt --role delphi-ci --github-oidc', why: "needs GitHub Actions' OIDC token service" },
  { starts: 'eos self secrets configure --auth jwt --role delphi-ci --jwt-env', why: "needs a GitLab job's id_token" },
  // A wrapped secret-id serves one process; the steps after it run as many.
  { starts: '(umask 077; vault write -wrap-ttl=5m', why: 'a wrapped secret-id serves one process, and the later steps are several (test/e2e/wrapped-secret-id.test.ts runs it)' },
  { starts: 'eos self secrets configure --addr https://vault.example.com:8200 --auth approle --secret-id-wrapped', why: 'the wrapped delivery above' },
  // This site has one PostgreSQL; the same command runs over a primary and its standby there.
  { starts: 'eos self secrets set delphi-db-config --host 10.0.0.5,10.0.0.6', why: 'needs a streaming standby (test/e2e/failover.test.ts runs it over one)' },
  // The audit runs as an auditor, not as the host's reader the steps above configured.
  { starts: 'eos self secrets audit   ', why: 'needs the auditor token and a pg_monitor login (test/e2e/audit.test.ts runs the audit)' },
  { starts: 'eos self secrets audit --json', why: 'the same' },
  { starts: 'eos self secrets audit --fix', why: 'the same' },
];

/**
 * docs/setup.md, run as written (issue 25): its commands, in order, in one bash shell with
 * `set -euo pipefail`, on a site shaped like production — an HTTPS Vault-API dev server with
 * nothing mounted and an init-style root token, a PostgreSQL that takes TLS connections only,
 * both certified by a private CA — as the Vault admin's shell has it (VAULT_ADDR, VAULT_TOKEN,
 * VAULT_CACERT; stdin typing the admin password at each `read`). Only the document's example
 * addresses and paths are swapped for the site's. The `vault` commands run through
 * test/helpers/vault-cli-shim.mjs (or a real `vault`/`bao` given by EOS_TEST_VAULT_CLI).
 *
 * EOS_TEST_SETUP_VAULT_ADDR, _TOKEN and _CACERT name a real Vault or OpenBao instead of the dev
 * server: a fresh production-mode one (`operator init`, TLS), which the document then sets up
 * (docs/vault-dev-server.md, "Checking against OpenBao").
 */
describe('docs/setup.md, verbatim, on a production-shaped site', () => {
  let site: TlsSite;
  let admin: pg.Client;

  beforeAll(async () => {
    site = await startTlsSite({ alerts: 30 });
    admin = new pg.Client({ connectionString: site.adminUrl });
    await admin.connect();
  }, 120_000);
  afterAll(async () => {
    await admin?.end();
    await site?.stop();
  });

  it('leaves out only the commands it says, and each of them is still in the document', () => {
    const commands = commandsOf(SETUP_DOC);
    for (const { starts } of LEFT_OUT) expect(commands.filter((c) => `${c}\n`.startsWith(starts)), starts).toHaveLength(1);
    expect(commands.length).toBeGreaterThanOrEqual(22);
  });

  it('runs from Step 0 to Step 5 and passes: the engine, the policies, AppRole, eos\'s schema, test, status, get', async () => {
    const real = process.env.EOS_TEST_SETUP_VAULT_ADDR
      ? { addr: process.env.EOS_TEST_SETUP_VAULT_ADDR, rootToken: process.env.EOS_TEST_SETUP_VAULT_TOKEN ?? '', caFile: process.env.EOS_TEST_SETUP_VAULT_CACERT ?? '' }
      : undefined;
    const vault = real ?? { addr: site.vault.addr, rootToken: site.vault.rootToken, caFile: site.caFile };
    const dir = site.dir;
    const etcEos = path.join(dir, 'etc', 'eos');
    const etcVault = path.join(dir, 'etc', 'vault');
    const home = path.join(dir, 'home');
    const bin = path.join(dir, 'bin');
    const work = path.join(dir, 'work');
    for (const d of [etcEos, etcVault, home, bin, work]) mkdirSync(d, { recursive: true });
    // The site's CA where the document keeps it: for eos on this host, and for Vault's plugin on "the Vault host".
    copyFileSync(site.caFile, path.join(etcEos, 'postgres-ca.pem'));
    copyFileSync(vault.caFile, path.join(etcEos, 'vault-ca.pem'));
    copyFileSync(site.caFile, path.join(etcVault, 'postgres-ca.pem'));
    // `eos` is the built CLI; `vault` the admin's CLI.
    writeFileSync(path.join(bin, 'eos'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
    const vaultCli = process.env.EOS_TEST_VAULT_CLI;
    writeFileSync(path.join(bin, 'vault'), vaultCli ? `#!/bin/sh\nexec "${vaultCli}" "$@"\n` : `#!/bin/sh\nexec "${process.execPath}" "${path.join(REPO_ROOT, 'test', 'helpers', 'vault-cli-shim.mjs')}" "$@"\n`);
    for (const f of ['eos', 'vault']) chmodSync(path.join(bin, f), 0o755);

    // The document's example site, and this one.
    const swaps: [string, string][] = [
      ['https://vault.example.com:8200', vault.addr],
      ['100.88.69.11', site.postgres.host],
      ['--port 5432', `--port ${site.postgres.port}`],
      ['/etc/eos/', `${etcEos}/`],
      ['/etc/vault/', `${etcVault}/`],
    ];
    const commands = commandsOf(SETUP_DOC)
      .filter((c) => !LEFT_OUT.some(({ starts }) => `${c}\n`.startsWith(starts)))
      .map((c) => swaps.reduce((text, [from, to]) => text.split(from).join(to), c));
    const script = [
      'set -euo pipefail',
      ...commands.flatMap((c, i) => [`echo ${shellWord(`>>> ${i + 1}: ${c}`)} >&2`, c]),
      'echo ">>> done" >&2',
    ].join('\n');

    const password = site.postgres.adminPassword;
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn('bash', ['-c', script], {
        cwd: work,
        env: {
          PATH: `${bin}:${process.env.PATH}`,
          HOME: home,
          VAULT_ADDR: vault.addr,
          VAULT_TOKEN: vault.rootToken,
          VAULT_CACERT: vault.caFile,
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
      // What the admin types at each `read -rs DELPHI_DB_ADMIN_PASSWORD`.
      child.stdin.end(`${password}\n${password}\n`);
    });
    const failedAt = [...result.stderr.matchAll(/^>>> (.*)$/gm)].at(-1)?.[1];
    expect(result.code, `stopped at ${failedAt}:\n${result.stderr.slice(-3000)}`).toBe(0);
    expect(failedAt).toBe('done');
    expect(hasAnsi(result.stdout + result.stderr)).toBe(false);
    // The admin password was typed, never printed.
    expect(result.stdout + result.stderr).not.toContain(password);

    // Step 1 then Step 3: the host ends up on AppRole with the reader's policy and the CA.
    const config = JSON.parse(readFileSync(path.join(home, '.config', 'eos', 'config.json'), 'utf8'));
    expect(config.vault).toMatchObject({ address: vault.addr, caCert: path.join(etcEos, 'vault-ca.pem'), auth: { method: 'approle' } });
    expect(config.credentials).toEqual({ sources: ['dynamic'] });
    expect((readFileSync(path.join(etcEos, 'secret-id')).length)).toBeGreaterThan(0);
    // Step 3's engine, with the CA for Vault's plugin; Step 4's SQL file and objects.
    const asRoot = (p: string) => fetchWithCa(`${vault.addr}/v1/${p}`, { ca: readFileSync(vault.caFile), headers: { 'X-Vault-Token': vault.rootToken } });
    const connection = (await asRoot('database/config/delphi-postgresql')).json<{ data: { connection_details: { connection_url: string } } }>();
    expect(connection.data.connection_details.connection_url).toContain(`sslmode=verify-full&sslrootcert=${etcVault}/postgres-ca.pem`);
    expect(readFileSync(path.join(work, 'eos.sql'), 'utf8')).toMatch(/CREATE SCHEMA/);
    expect((await admin.query(`SELECT max(version)::int AS v FROM eos.schema_migrations`)).rows[0].v).toBeGreaterThanOrEqual(4);
    // Step 5: every essential check passed, and nothing was left behind: no lease, no dynamic role.
    expect(result.stdout).toMatch(/^all essential checks passed$/m);
    expect(result.stdout).toMatch(/^would use +dynamic$/m);
    expect(result.stdout).toMatch(/^username +v-approle-delphi-r-/m);
    // Vault lists no lease of either role (404: none under the prefix).
    for (const role of ['delphi-readonly', 'delphi-worker']) expect((await asRoot(`sys/leases/lookup/database/creds/${role}?list=true`)).status).toBe(404);
    expect((await admin.query(`SELECT rolname FROM pg_roles WHERE rolname LIKE 'v-%'`)).rows).toEqual([]);
  }, 180_000);
});

/** One word for sh, in single quotes. */
function shellWord(text: string): string {
  return `'${text.split("'").join(`'\\''`)}'`;
}
