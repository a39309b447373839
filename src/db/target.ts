import { homeOf } from '../util/home.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { SSL_MODES, TARGET_SESSION_ATTRS, type SslMode, type TargetSessionAttrs } from '../config/constants.js';
import { isTargetSessionAttrs, MULTI_HOST_DEFAULT_ATTRS, parseHostList, type HostPort } from './hosts.js';
import type { Config } from '../config/schema.js';
import { quoted, UsageError } from '../errors.js';
import type { DbCredentials } from './credentials.js';

/** Where the Delphi database is: host, port, name, sslmode — no user or password. */
export interface DbTarget {
  /** The first host (the only one on a one-server site); `hosts` has them all. */
  host: string;
  port: number;
  /** Every host, in the order given (libpq's host list): a primary and its standbys. */
  hosts: HostPort[];
  /** Which host a session wants (libpq's target_session_attrs); read-write when several are listed and nothing says. */
  targetSessionAttrs: TargetSessionAttrs;
  database: string;
  sslmode: SslMode;
  /** The CA file PostgreSQL's certificate is checked against (libpq's sslrootcert); Node's roots when absent. */
  sslrootcert?: string | undefined;
  /** A client certificate and its key for servers that ask for one (libpq's sslcert, sslkey). */
  sslcert?: string | undefined;
  sslkey?: string | undefined;
  origins: Record<'host' | 'port' | 'database' | 'sslmode', 'flag' | 'env' | 'vault-kv' | 'file' | 'default'>;
}

export interface TargetFlags {
  host?: string | undefined;
  port?: number | string | undefined;
  targetSessionAttrs?: TargetSessionAttrs | undefined;
  database?: string | undefined;
  sslmode?: SslMode | undefined;
  sslrootcert?: string | undefined;
  sslcert?: string | undefined;
  sslkey?: string | undefined;
}

/** The fields of the Eos layout's `<kv>/delphi/config/*`: where the database is, and its TLS files. */
export const DB_CONFIG_KV_FIELDS = ['host', 'port', 'database', 'sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'target_session_attrs'] as const;

/** The target's TLS files, to hand on to credentials made for it. */
export function tlsFilesOf(target: Pick<DbTarget, 'sslrootcert' | 'sslcert' | 'sslkey'>): Pick<DbTarget, 'sslrootcert' | 'sslcert' | 'sslkey'> {
  return { sslrootcert: target.sslrootcert, sslcert: target.sslcert, sslkey: target.sslkey };
}

/** Where credentials made for this target connect: its hosts, database, sslmode and TLS files. */
export function placeOf(target: DbTarget): Pick<DbCredentials, 'host' | 'port' | 'hosts' | 'targetSessionAttrs' | 'database' | 'sslmode' | 'sslrootcert' | 'sslcert' | 'sslkey'> {
  return {
    host: target.host,
    port: target.port,
    ...(target.hosts.length > 1 ? { hosts: target.hosts } : {}),
    targetSessionAttrs: target.targetSessionAttrs,
    database: target.database,
    sslmode: target.sslmode,
    ...tlsFilesOf(target),
  };
}

export const DEFAULT_TARGET = { host: 'localhost', port: 5432, database: 'delphi', sslmode: 'prefer' as SslMode };

/**
 * docs/design.md §3: flags > DELPHI_DB_* > Vault KV <kv>/delphi/config/* (so every host sees the same)
 * > the local config's copy > defaults.
 */
export function resolveDatabaseTarget(flags: TargetFlags, env: NodeJS.ProcessEnv, kv: Record<string, string>, config: Config): DbTarget {
  const origins = {} as DbTarget['origins'];
  const pick = <K extends keyof DbTarget['origins']>(key: K, values: [DbTarget['origins'][K], unknown][], fallback: unknown) => {
    for (const [origin, value] of values) {
      if (value !== undefined && value !== null && value !== '') {
        origins[key] = origin;
        return value;
      }
    }
    origins[key] = 'default';
    return fallback;
  };
  // Where a value came from, as the user would look for it: the flag, the variable, the KV path, the config field.
  const FIELD = { host: ['--host', 'DELPHI_DB_HOST', 'host', 'host'], port: ['--port', 'DELPHI_DB_PORT', 'port', 'port'], database: ['--database', 'DELPHI_DB_NAME', 'database', 'name'], sslmode: ['--sslmode', 'DELPHI_DB_SSLMODE', 'sslmode', 'sslmode'] } as const;
  const from = (key: keyof typeof FIELD) => {
    const [flag, variable, kvField, configField] = FIELD[key];
    return { flag, env: variable, 'vault-kv': `Vault KV ${config.kv.mount}/delphi/config/${kvField}`, file: `the config's database.${configField}`, default: 'the default' }[origins[key]];
  };
  const hostRaw = String(pick('host', [['flag', flags.host], ['env', env.DELPHI_DB_HOST], ['vault-kv', kv.host], ['file', config.database.host]], DEFAULT_TARGET.host));
  const portRaw = pick('port', [['flag', flags.port], ['env', env.DELPHI_DB_PORT], ['vault-kv', kv.port], ['file', config.database.port]], DEFAULT_TARGET.port) as string | number;
  // Wherever they came from — a KV value anyone with write on the path may have set included —
  // hosts and a database name go into URLs, conninfo strings and printed commands: plain ones only.
  const hosts = parseHostList(hostRaw, portRaw, isValidHost, { host: from('host'), port: from('port') });
  const { host, port } = hosts[0] as HostPort;
  // This host's own (flag, variables) first; then the stored value — a KV field that is there
  // but empty means "none" for every host (set-config clears it so), not "ask the local config".
  const own = [flags.targetSessionAttrs, env.DELPHI_DB_TARGET_SESSION_ATTRS, env.PGTARGETSESSIONATTRS].find((v) => v !== undefined && v !== '');
  const attrsRaw = own ?? ('target_session_attrs' in kv ? kv.target_session_attrs || undefined : config.database.targetSessionAttrs);
  if (attrsRaw !== undefined && !isTargetSessionAttrs(attrsRaw)) {
    throw new UsageError(`target_session_attrs ${quoted(attrsRaw)} is not valid`, `use one of ${TARGET_SESSION_ATTRS.join(', ')}`);
  }
  const targetSessionAttrs = (attrsRaw as TargetSessionAttrs | undefined) ?? (hosts.length > 1 ? MULTI_HOST_DEFAULT_ATTRS : 'any');
  const database = String(pick('database', [['flag', flags.database], ['env', env.DELPHI_DB_NAME], ['vault-kv', kv.database], ['file', config.database.name]], DEFAULT_TARGET.database));
  if (!isValidDatabaseName(database)) throw new UsageError(`database name ${quoted(database)} (from ${from('database')}) is not allowed`, 'use letters, digits, _, $ and -, starting with a letter or _');
  const sslmode = String(pick('sslmode', [['flag', flags.sslmode], ['env', env.DELPHI_DB_SSLMODE], ['vault-kv', kv.sslmode], ['file', config.database.sslmode]], DEFAULT_TARGET.sslmode));
  if (!(SSL_MODES as readonly string[]).includes(sslmode)) throw new UsageError(`sslmode ${quoted(sslmode)} (from ${from('sslmode')}) is not valid`, `use one of ${SSL_MODES.join(', ')}`);
  const file = (key: 'sslrootcert' | 'sslcert' | 'sslkey', variable: string, libpqVariable: string, libpqDefault: string) => {
    const fallback = home ? path.join(home, '.postgresql', libpqDefault) : undefined;
    const candidates: [string, string | undefined][] = [
      [`--${key}`, flags[key]],
      [variable, env[variable] || undefined],
      [libpqVariable, env[libpqVariable] || undefined],
      [`Vault KV ${config.kv.mount}/delphi/config/${key}`, kv[key] || undefined],
      [`the config's database.${key}`, config.database[key]],
    ];
    const found = candidates.find(([, value]) => value !== undefined);
    if (found) return checkTlsFilePath(found[1] as string, key, found[0]);
    return fallback && existsSync(fallback) ? fallback : undefined;
  };
  const home = homeOf(env);
  // For each file: eos's own places first (flag, DELPHI_DB_*), then libpq's variable, the stored
  // value (Vault KV, the config), and the file in ~/.postgresql if it exists.
  const tls = {
    sslrootcert: file('sslrootcert', 'DELPHI_DB_SSLROOTCERT', 'PGSSLROOTCERT', 'root.crt'),
    sslcert: file('sslcert', 'DELPHI_DB_SSLCERT', 'PGSSLCERT', 'postgresql.crt'),
    sslkey: file('sslkey', 'DELPHI_DB_SSLKEY', 'PGSSLKEY', 'postgresql.key'),
  };
  const present = Object.fromEntries(Object.entries(tls).filter(([, v]) => v)) as Pick<DbTarget, 'sslrootcert' | 'sslcert' | 'sslkey'>;
  return { host, port, hosts, targetSessionAttrs, database, sslmode: sslmode as SslMode, ...present, origins };
}

/**
 * A TLS file's value must be a path. The file's contents stored by mistake (a PEM block in KV,
 * `--sslkey "$(cat key)"`) are refused without being repeated: a key must not reach an error
 * line, a log or a worker's environment.
 */
export function checkTlsFilePath(value: string, key: string, origin: string): string {
  const pem = value.includes('-----BEGIN');
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (pem || /[\u0000-\u001f\u007f]/.test(value) || value.length > 4096) {
    throw new UsageError(
      `${key} from ${origin} is not a file path (it holds ${pem ? 'a PEM block' : value.length > 4096 ? `${value.length} characters` : 'a control character'}; not shown)`,
      `store the path of the file on the hosts that run eos, not its contents: eos self secrets set delphi-db-config --${key} /etc/eos/<file>`,
    );
  }
  return value;
}

const HOST_NAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const IPV6 = /^[0-9a-fA-F:]*:[0-9a-fA-F:]*$/;

/** A host name or an IP address, and nothing that could carry quotes or spaces into a statement. */
export function isValidHost(host: string): boolean {
  if (IPV4.test(host)) return host.split('.').every((octet) => Number(octet) <= 255);
  return HOST_NAME.test(host) || IPV6.test(host);
}

/** A database name eos will put into URLs, conninfo strings and statements. */
export function isValidDatabaseName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/.test(name);
}

