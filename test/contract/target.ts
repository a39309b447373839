import pg from 'pg';
import { startVaultDevServer, type VaultDevServer } from '../../src/sandbox/vault-dev-server/server.js';
import { freshDatabase } from '../helpers/pg.js';

/**
 * What the contract suite runs against: the project's Vault-API dev server by default, or a
 * real Vault/OpenBao when EOS_TEST_VAULT_ADDR and EOS_TEST_VAULT_TOKEN are set (with
 * EOS_TEST_PG_URL, an admin URL of a PostgreSQL that server can reach). Same tests, both ways.
 */
export const REAL_VAULT = Boolean(process.env.EOS_TEST_VAULT_ADDR && process.env.EOS_TEST_VAULT_TOKEN);

export interface ContractTarget {
  addr: string;
  rootToken: string;
  /** Admin URL of the database the engine manages; tests also inspect pg_roles through it. */
  pgUrl: string;
  devServer: VaultDevServer | null;
  stop(): Promise<void>;
}

export async function contractTarget(options: { database?: boolean } = {}): Promise<ContractTarget> {
  if (REAL_VAULT) {
    const pgUrl = process.env.EOS_TEST_PG_URL ?? '';
    if (options.database && !pgUrl) throw new Error('EOS_TEST_PG_URL is required with EOS_TEST_VAULT_ADDR for the database contract tests');
    return {
      addr: (process.env.EOS_TEST_VAULT_ADDR as string).replace(/\/+$/, ''),
      rootToken: process.env.EOS_TEST_VAULT_TOKEN as string,
      pgUrl,
      devServer: null,
      stop: async () => undefined,
    };
  }
  const server = await startVaultDevServer();
  const pgUrl = options.database ? (await freshDatabase()).url : '';
  return { addr: server.addr, rootToken: server.rootToken, pgUrl, devServer: server, stop: () => server.stop() };
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

/** A plain-HTTP Vault client for the contract tests: nothing of eos's own client in between. */
export function http(target: ContractTarget, token: string | null = target.rootToken) {
  return async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> => {
    const h: Record<string, string> = { ...headers };
    if (token) h['X-Vault-Token'] = token;
    let payload: string | undefined;
    if (typeof body === 'string') payload = body;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      h['Content-Type'] ??= 'application/json';
    }
    const res = await fetch(`${target.addr}/v1/${path}`, { method, headers: h, body: payload, redirect: 'manual' });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text === '' ? null : JSON.parse(text);
    } catch {
      json = null;
    }
    return { status: res.status, headers: res.headers, text, json };
  };
}

/** Calls the dev server's control API (only meaningful against the dev server). */
export async function devControl(target: ContractTarget, method: string, route: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${target.addr}/__dev/${route}`, { method, headers: { 'X-Vault-Token': target.rootToken }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw new Error(`control ${route}: ${res.status}`);
  return res.status === 204 ? null : res.json();
}

/** A name no earlier run used, so tests never collide on a shared real server. */
export function unique(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Whether a PostgreSQL role exists, asked as the admin. */
export async function roleExists(pgUrl: string, role: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
    return rows.length > 0;
  } finally {
    await client.end();
  }
}

/** The connection_url template and admin credentials for the database engine. */
export function engineConnection(pgUrl: string) {
  const url = new URL(pgUrl);
  return {
    plugin_name: 'postgresql-database-plugin',
    connection_url: `postgresql://{{username}}:{{password}}@${url.host}${url.pathname}?sslmode=disable`,
    username: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
