#!/usr/bin/env node
// The few `vault` CLI commands docs/setup.md shows a Vault admin typing, done as the Vault CLI
// does them: the same HTTP requests, the same environment (VAULT_ADDR, VAULT_TOKEN or
// ~/.vault-token, VAULT_CACERT), the same output for `-field`. The Vault CLI cannot be installed
// on the test machines; this lets test/e2e/setup-doc.test.ts run the document's commands as
// written. It knows only those forms and fails loudly on any other, so a new command in the
// document fails the test until it is taught here. With EOS_TEST_VAULT_CLI set to a real
// `vault` or `bao` binary, the test runs that instead.
import { readFileSync } from 'node:fs';
import { URL } from 'node:url';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { homedir } from 'node:os';
import path from 'node:path';

const fail = (message, code = 1) => {
  process.stderr.write(`vault (test shim): ${message}\n`);
  process.exit(code);
};

function token() {
  if (process.env.VAULT_TOKEN) return process.env.VAULT_TOKEN;
  try {
    return readFileSync(path.join(homedir(), '.vault-token'), 'utf8').trim();
  } catch {
    return '';
  }
}

function call(method, apiPath, body) {
  const address = process.env.VAULT_ADDR ?? 'https://127.0.0.1:8200';
  const url = new URL(`/v1/${apiPath}`, address);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const ca = process.env.VAULT_CACERT ? readFileSync(process.env.VAULT_CACERT) : undefined;
  return new Promise((resolve, reject) => {
    const req = send(url, { method, headers: { 'X-Vault-Token': token(), 'Content-Type': 'application/json' }, ...(ca ? { ca } : {}) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        const parsed = text ? JSON.parse(text) : {};
        if (res.statusCode >= 400) {
          // The Vault CLI's error shape: the request, the status and Vault's errors.
          fail(`Error making API request.\n\nURL: ${method} ${url}\nCode: ${res.statusCode}. Errors:\n\n${(parsed.errors ?? []).map((e) => `* ${e}`).join('\n')}`, 2);
        }
        resolve(parsed);
      });
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** `k=v` pairs as the CLI reads them: `k=-` from stdin, `k=@file` from a file. */
function fields(pairs) {
  const body = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq < 1) fail(`cannot read the argument ${JSON.stringify(pair)} (want key=value)`);
    const key = pair.slice(0, eq);
    let value = pair.slice(eq + 1);
    if (value === '-') value = readFileSync(0, 'utf8');
    else if (value.startsWith('@')) value = readFileSync(value.slice(1), 'utf8');
    body[key] = value;
  }
  return body;
}

/** Flags before the positional arguments, as Go's flag package parses them. */
function flags(args) {
  const out = { flags: {}, rest: [] };
  let i = 0;
  for (; i < args.length && args[i].startsWith('-'); i++) {
    const [name, value] = args[i].replace(/^--?/, '').split(/=(.*)/s);
    out.flags[name] = value ?? true;
  }
  out.rest = args.slice(i);
  return out;
}

function printField(response, field) {
  const value = response.data?.[field] ?? response.auth?.[field];
  if (value === undefined) fail(`Field "${field}" not present in secret`);
  process.stdout.write(String(value));
}

const [group, ...args] = process.argv.slice(2);
const sub = args[0];
if (group === 'print' && sub === 'token') {
  process.stdout.write(token());
} else if (group === 'secrets' && sub === 'enable') {
  const { flags: f, rest } = flags(args.slice(1));
  const type = rest[0];
  if (!type) fail('secrets enable: a type is needed');
  const version = type === 'kv-v2' ? '2' : undefined;
  const mountType = type === 'kv-v2' ? 'kv' : type;
  const at = f.path ?? type;
  await call('POST', `sys/mounts/${at}`, { type: mountType, ...(version ? { options: { version } } : {}) });
  process.stdout.write(`Success! Enabled the ${type} secrets engine at: ${at}/\n`);
} else if (group === 'auth' && sub === 'enable') {
  const { flags: f, rest } = flags(args.slice(1));
  const type = rest[0];
  if (!type) fail('auth enable: a type is needed');
  const at = f.path ?? type;
  await call('POST', `sys/auth/${at}`, { type });
  process.stdout.write(`Success! Enabled ${type} auth method at: ${at}/\n`);
} else if (group === 'write') {
  const { flags: f, rest } = flags(args);
  const [apiPath, ...pairs] = rest;
  if (!apiPath) fail('write: a path is needed');
  if (pairs.length === 0 && !f.f && !f.force) fail('Must supply data or use -force');
  const response = await call('PUT', apiPath, fields(pairs));
  if (f.field) printField(response, f.field);
  else process.stdout.write(`Success! Data written to: ${apiPath}\n`);
} else if (group === 'read') {
  const { flags: f, rest } = flags(args);
  if (!rest[0]) fail('read: a path is needed');
  const response = await call('GET', rest[0]);
  if (f.field) printField(response, f.field);
  else process.stdout.write(`${JSON.stringify(response.data ?? {}, null, 2)}\n`);
} else {
  fail(`this shim does not know "vault ${process.argv.slice(2).join(' ')}": teach test/helpers/vault-cli-shim.mjs, or run the test with EOS_TEST_VAULT_CLI=<vault or bao binary>`);
}
