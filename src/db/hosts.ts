import { quoted, UsageError } from '../errors.js';
import { TARGET_SESSION_ATTRS, type TargetSessionAttrs } from '../config/constants.js';

/**
 * Several PostgreSQL hosts, libpq's way: `host=a,b port=5432,5433` (one port for all, or one per
 * host) and `target_session_attrs` saying which of them a session wants. A site with a streaming
 * standby lists both; which one is the primary today is PostgreSQL's to say, asked at connect
 * time (db/host-locator.ts), never stored.
 */
export interface HostPort {
  host: string;
  port: number;
}

/** More than a site lists; a bound on what a hostile KV value can make eos try. */
export const MAX_HOSTS = 16;

/** Where a session goes when the target names several hosts and nothing says otherwise: the primary. */
export const MULTI_HOST_DEFAULT_ATTRS: TargetSessionAttrs = 'read-write';

export function isTargetSessionAttrs(value: string): value is TargetSessionAttrs {
  return (TARGET_SESSION_ATTRS as readonly string[]).includes(value);
}

/**
 * The hosts of a `host` list and a `port` list as libpq reads them: as many ports as hosts, or
 * one for all. Each host is checked by `isValidHost`; `origin` names where the values came from.
 */
export function parseHostList(hostField: string, portField: string | number, isValidHost: (h: string) => boolean, origin: { host: string; port: string }): HostPort[] {
  const hosts = hostField.split(',').map((h) => h.trim());
  const ports = String(portField).split(',').map((p) => p.trim());
  if (hosts.length > MAX_HOSTS) throw new UsageError(`${hosts.length} database hosts (from ${origin.host}); eos takes at most ${MAX_HOSTS}`, 'list the primary and its standbys only');
  for (const host of hosts) {
    if (!isValidHost(host)) {
      // A flag is named as the user typed it; a stored value by where it was found.
      const what = origin.host.startsWith('--') ? `${origin.host} ${quoted(host)}` : `database host ${quoted(host)} (from ${origin.host})`;
      throw new UsageError(`${what} is not a host name or an IP address`, 'fix it where it came from: eos self secrets set delphi-db-config --host <name>[,<name>…]');
    }
  }
  const numbers = ports.map((p) => Number(p));
  if (ports.some((p, i) => !/^\d+$/.test(p) || (numbers[i] as number) < 1 || (numbers[i] as number) > 65535)) {
    throw new UsageError(`database port ${quoted(String(portField))} (from ${origin.port}) is not a port number${ports.length > 1 ? ' list' : ''}`, 'use 1–65535, or one per host separated by commas');
  }
  if (ports.length !== 1 && ports.length !== hosts.length) {
    throw new UsageError(`${hosts.length} database hosts but ${ports.length} ports (from ${origin.port})`, 'give one port for every host, or one port for all (libpq’s rule)');
  }
  const list = hosts.map((host, i) => ({ host, port: (ports.length === 1 ? numbers[0] : numbers[i]) as number }));
  if (new Set(list.map(hostAddress)).size !== list.length) {
    throw new UsageError(`database hosts ${quoted(describeHosts(list))} (from ${origin.host}) name one server twice`, 'name each server once');
  }
  return list;
}

/** The list back in libpq's fields: `a,b` and `5432` (one port when all agree) or `5432,5433`. */
export function formatHostList(hosts: readonly HostPort[]): { host: string; port: string } {
  const ports = [...new Set(hosts.map((h) => h.port))];
  return { host: hosts.map((h) => h.host).join(','), port: ports.length === 1 ? String(ports[0]) : hosts.map((h) => h.port).join(',') };
}

/** `a:5432,b:5433` (IPv6 in brackets), for messages and status lines. */
export function describeHosts(hosts: readonly HostPort[]): string {
  return hosts.map(hostAddress).join(',');
}

export function hostAddress(h: HostPort): string {
  return `${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port}`;
}

/**
 * A libpq/pgx URL's host list taken apart: each host, the URL for one host, and the
 * target_session_attrs it asks for (undefined when it names none; not checked here). Undefined
 * for a key=value string.
 */
export function splitHostsOfUrl(url: string): { hosts: HostPort[]; want: string | undefined; urlFor(host: HostPort): string } | undefined {
  const m = /^(postgres(?:ql)?:\/\/)([^@/?]*@)?([^/?]*)(\/[^?]*)?(\?.*)?$/i.exec(url);
  if (!m) return undefined;
  const [, scheme, userinfo = '', hostPart = '', dbPath = '', query = ''] = m;
  const params = new URLSearchParams(query.slice(1));
  const want = params.get('target_session_attrs') ?? undefined;
  params.delete('target_session_attrs');
  const rest = params.toString();
  const hosts = hostPart.split(',').map((entry) => {
    const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    // An empty port is the default one, as in libpq.
    if (v6) return { host: v6[1] as string, port: Number(v6[2] || 5432) };
    const [host = '', port] = entry.split(':');
    return { host, port: Number(port || 5432) };
  });
  return {
    hosts,
    want,
    urlFor: (host) => `${scheme}${userinfo}${hostAddress(host)}${dbPath}${rest ? `?${rest}` : ''}`,
  };
}
