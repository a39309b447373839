/**
 * The least-privilege Vault policies eos ships: one for readers (the dashboard, `exec` of a
 * read-only job) and one for workers. Each grants exactly what eos asks of Vault at run time:
 * credentials of one role, renewing and revoking that role's leases only, looking up a lease by
 * its id, the Delphi KV paths
 * (connection settings and the static fallback), and the token's own lookup and renewal.
 */

export const READER_POLICY = 'eos-delphi-reader';
export const WORKER_POLICY = 'eos-delphi-worker';
export const AUDITOR_POLICY = 'eos-delphi-auditor';

export interface PolicyScope {
  /** The database engine mount, e.g. `database`. */
  engineMount: string;
  /** The KV mount holding `delphi/config` and `delphi/database`, e.g. `secret`, and its version. */
  kvMount: string;
  kvVersion: 1 | 2;
  /** The engine's connection (for the auditor's read of its allowed_roles). */
  connection?: string | undefined;
}

export interface EosPolicy {
  name: string;
  /** What it grants, in a few words: `database/creds/delphi-readonly`, or the audit's reads. */
  grants: string;
  text: string;
}

/** The policy that grants a role's credentials: the worker role's, or the reader's for any other. */
export function policyForRole(role: string, workerRole: string): string {
  return role === workerRole ? WORKER_POLICY : READER_POLICY;
}

/** One policy per role set up: the reader's and the worker's. */
export function eosPolicies(scope: PolicyScope, roles: { reader?: string | undefined; worker?: string | undefined }): EosPolicy[] {
  const policies: EosPolicy[] = [];
  if (roles.reader) policies.push({ name: READER_POLICY, grants: `${scope.engineMount}/creds/${roles.reader}`, text: policyText(scope, roles.reader, 'read the Delphi database') });
  if (roles.worker) policies.push({ name: WORKER_POLICY, grants: `${scope.engineMount}/creds/${roles.worker}`, text: policyText(scope, roles.worker, 'write the Delphi database (pipeline workers)') });
  const audited = [roles.reader, roles.worker].filter((r): r is string => r !== undefined);
  if (audited.length > 0) policies.push({ name: AUDITOR_POLICY, grants: `the leases and definitions of ${audited.join(', ')} (eos self secrets audit)`, text: auditorPolicyText(scope, audited) });
  return policies;
}

function policyText(scope: PolicyScope, role: string, purpose: string): string {
  const kv = (path: string) => (scope.kvVersion === 2 ? `${scope.kvMount}/data/${path}` : `${scope.kvMount}/${path}`);
  const rule = (path: string, capability: string, why?: string) => [...(why ? [`# ${why}`] : []), `path "${path}" {`, `  capabilities = ["${capability}"]`, '}'];
  return [
    `# Written by eos: what eos needs to get short-lived credentials that ${purpose}.`,
    ...rule(`${scope.engineMount}/creds/${role}`, 'read', `Credentials of the ${role} role, and nothing else of the engine`),
    ...rule(`sys/leases/renew/${scope.engineMount}/creds/${role}/*`, 'update', `Renew and revoke the leases of the ${role} role, and no other (eos names the lease in the path)`),
    ...rule(`sys/leases/revoke/${scope.engineMount}/creds/${role}/*`, 'update'),
    ...rule('sys/leases/renew', 'update', "Renewal with the lease in the body, as Vault's own clients send it (Go's LifetimeWatcher, hvac); Vault's default policy grants the same"),
    ...rule('sys/leases/lookup', 'update', 'Look up a lease it knows the id of (Vault\'s default policy grants the same; the answer holds no secret)'),
    ...rule(kv('delphi/config'), 'read', `Connection settings and the static fallback in KV v${scope.kvVersion}; the mount lookup (sys/internal/ui/mounts) needs no rule`),
    ...rule(kv('delphi/config/*'), 'read'),
    ...rule(kv('delphi/database'), 'read'),
    ...rule(kv('delphi/database/*'), 'read'),
    ...rule('auth/token/lookup-self', 'read', 'The token itself, also for a token made without the default policy'),
    ...rule('auth/token/renew-self', 'update'),
    ...rule('sys/capabilities-self', 'update', 'So eos self secrets test and status can name what is missing'),
    '',
  ].join('\n');
}

/**
 * `eos self secrets audit`: list and look up the leases of the mount's roles (a LIST under sys/leases/lookup
 * is a root path: `sudo`), read the roles' and the connection's definitions (no password is
 * ever returned), and revoke a lease whose role is gone (`--fix`). No credentials of any role.
 */
function auditorPolicyText(scope: PolicyScope, roles: string[]): string {
  const rule = (path: string, capabilities: string[], why?: string) => [...(why ? [`# ${why}`] : []), `path "${path}" {`, `  capabilities = [${capabilities.map((c) => `"${c}"`).join(', ')}]`, '}'];
  return [
    "# Written by eos: what eos self secrets audit needs, and no credentials of any role.",
    ...rule(`sys/leases/lookup/${scope.engineMount}/creds/`, ['list', 'sudo'], "The leases of each role, and of the mount's other roles (a user may be theirs): listing them is a root path"),
    ...rule(`sys/leases/lookup/${scope.engineMount}/creds/*`, ['list', 'sudo']),
    ...rule('sys/leases/lookup', ['update'], 'Each lease looked up by its id'),
    ...rule(`${scope.engineMount}/roles/*`, ['read'], "The roles' statements (the mount's other roles' too: which connection each uses) and the connection's allowed_roles (Vault never returns its password)"),
    ...(scope.connection ? rule(`${scope.engineMount}/config/${scope.connection}`, ['read']) : []),
    ...roles.flatMap((role, i) => rule(`sys/leases/revoke/${scope.engineMount}/creds/${role}/*`, ['update'], i === 0 ? '--fix: revoke a lease whose role is gone' : undefined)),
    // Where the database is (host, port, name, sslmode): no secret; the static login's path is not granted.
    ...rule(scope.kvVersion === 2 ? `${scope.kvMount}/data/delphi/config` : `${scope.kvMount}/delphi/config`, ['read'], 'Where the database is, as eos stores it in KV (no password)'),
    ...rule(scope.kvVersion === 2 ? `${scope.kvMount}/data/delphi/config/*` : `${scope.kvMount}/delphi/config/*`, ['read']),
    ...rule('auth/token/lookup-self', ['read'], 'The token itself'),
    ...rule('auth/token/renew-self', ['update']),
    '',
  ].join('\n');
}
