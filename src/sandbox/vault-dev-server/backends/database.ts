import type { Clock } from '../../../util/clock.js';
import type { LeaseBackend, LeaseEntry, LeaseManager } from '../state/leases.js';
import { databasePassword, databaseUsername, expirationText } from '../random.js';
import { calculateTtl, mountTtls } from '../ttl.js';
import {
  durationField,
  badRequest,
  boolField,
  internalError,
  listField,
  noContent,
  notFound,
  ok,
  stringField,
  unsupportedOperation,
  unsupportedPath,
  type VaultResponse,
} from '../wire.js';
import type { Backend, BackendRequest, MountInfo } from './backend.js';
import { defaultRevocation, newPool, pgErrorText, runInTransaction, scramVerifier, type PluginPool } from './postgresql-plugin.js';

/**
 * The database secrets engine with the PostgreSQL plugin (§4), running every statement for
 * real against PostgreSQL: creation in one transaction, renewal, custom revocation in one
 * transaction, or Vault's default revocation sequence — which fails, as Vault's does, when the
 * role still holds default privileges.
 */

const PLUGIN = 'postgresql-database-plugin';
const DEFAULT_RENEW = `ALTER ROLE "{{name}}" VALID UNTIL '{{expiration}}';`;
const DEFAULT_ROTATE_ROOT = `ALTER ROLE "{{username}}" WITH PASSWORD '{{password}}';`;

interface Connection {
  name: string;
  connectionUrl: string;
  username: string;
  password: string;
  allowedRoles: string[];
  verifyConnection: boolean;
  maxOpenConnections: number;
  maxIdleConnections: number;
  maxConnectionLifetime: number;
  passwordAuthentication: 'password' | 'scram-sha-256';
  rootRotationStatements: string[];
  passwordPolicy: string;
  /** What the writes sent besides the top-level fields, as Vault keeps it (connection_details). */
  details: Record<string, unknown>;
  pool: PluginPool;
}

/** Fields of config/<name> that Vault keeps apart; everything else is a connection detail. */
const TOP_LEVEL_FIELDS = new Set(['name', 'plugin_name', 'plugin_version', 'allowed_roles', 'verify_connection', 'root_rotation_statements', 'password_policy']);

interface Role {
  name: string;
  dbName: string;
  creation: string[];
  revocation: string[];
  renew: string[];
  rollback: string[];
  defaultTtl: number;
  maxTtl: number;
}

export class DatabaseBackend implements Backend {
  private readonly connections = new Map<string, Connection>();
  private readonly roles = new Map<string, Role>();

  constructor(
    private readonly mount: MountInfo,
    private readonly clock: Clock,
    private readonly leases: LeaseManager,
  ) {}

  async handle(request: BackendRequest): Promise<VaultResponse> {
    // PATCH is served by KV v2 only.
    if (request.operation === 'patch') throw unsupportedOperation();
    const [area = '', ...restParts] = request.subpath.split('/');
    const name = restParts.join('/').replace(/\/+$/, '');
    switch (area) {
      case 'config':
        return this.config(request, name);
      case 'roles':
        return this.role(request, name);
      case 'creds':
        if (request.operation !== 'read') throw unsupportedOperation();
        if (name === '') throw unsupportedPath();
        return this.issue(request, name);
      case 'rotate-root':
        if (request.operation !== 'update') throw unsupportedOperation();
        return this.rotateRoot(this.requireConnection(name));
      case 'reset':
        if (request.operation !== 'update') throw unsupportedOperation();
        await this.reconnect(this.requireConnection(name));
        return noContent();
      default:
        throw unsupportedPath();
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.connections.values()].map((c) => c.pool.end().catch(() => undefined)));
    this.connections.clear();
  }

  // --- config/<name> -------------------------------------------------------------------------

  private async config(request: BackendRequest, name: string): Promise<VaultResponse> {
    if (request.operation === 'list' || (request.operation === 'read' && name === '')) {
      return keysOrNotFound([...this.connections.keys()]);
    }
    if (name === '') throw unsupportedPath();
    switch (request.operation) {
      case 'read': {
        const c = this.connections.get(name);
        if (!c) throw notFound();
        return ok({
          data: {
            allowed_roles: c.allowedRoles,
            // Only what was written, never the password.
            connection_details: Object.fromEntries(Object.entries(c.details).filter(([field]) => field !== 'password' && field !== 'private_key')),
            password_policy: c.passwordPolicy,
            plugin_name: PLUGIN,
            plugin_version: '',
            root_credentials_rotate_statements: c.rootRotationStatements,
          },
        });
      }
      case 'update':
        return this.writeConnection(name, request.body);
      case 'delete': {
        const c = this.connections.get(name);
        this.connections.delete(name);
        await c?.pool.end().catch(() => undefined);
        return noContent();
      }
      default:
        throw unsupportedOperation();
    }
  }

  private async writeConnection(name: string, body: Record<string, unknown>): Promise<VaultResponse> {
    const existing = this.connections.get(name);
    const plugin = stringField(body, 'plugin_name') ?? (existing ? PLUGIN : undefined);
    if (!plugin) throw badRequest('empty plugin name');
    if (plugin !== PLUGIN) throw badRequest(`error creating database object: invalid database version: plugin "${plugin}" is not available in the dev server`);
    if (stringField(body, 'username_template')) throw badRequest('username_template is not supported by the eos Vault dev server');
    const connectionUrl = stringField(body, 'connection_url') ?? existing?.connectionUrl;
    if (!connectionUrl) throw badRequest('error creating database object: connection_url cannot be empty');
    const auth = stringField(body, 'password_authentication') ?? existing?.passwordAuthentication ?? 'password';
    if (auth !== 'password' && auth !== 'scram-sha-256') throw badRequest(`error creating database object: '${auth}' is not a valid password authentication type`);

    const details = { ...(existing?.details ?? {}) };
    for (const [field, value] of Object.entries(body)) if (!TOP_LEVEL_FIELDS.has(field)) details[field] = value;
    const connection: Omit<Connection, 'pool'> = {
      details,
      name,
      connectionUrl,
      username: stringField(body, 'username') ?? existing?.username ?? '',
      password: stringField(body, 'password') ?? existing?.password ?? '',
      allowedRoles: listField(body, 'allowed_roles') ?? existing?.allowedRoles ?? [],
      verifyConnection: boolField(body, 'verify_connection', true),
      maxOpenConnections: Number(body.max_open_connections ?? existing?.maxOpenConnections ?? 4),
      maxIdleConnections: Number(body.max_idle_connections ?? existing?.maxIdleConnections ?? 0),
      maxConnectionLifetime: durationField(body, 'max_connection_lifetime') ?? existing?.maxConnectionLifetime ?? 0,
      passwordAuthentication: auth,
      rootRotationStatements: listField(body, 'root_rotation_statements') ?? existing?.rootRotationStatements ?? [],
      passwordPolicy: stringField(body, 'password_policy') ?? existing?.passwordPolicy ?? '',
    };
    const pool = newPool(connection);
    if (connection.verifyConnection) {
      try {
        await pool.query('SELECT 1');
      } catch (err) {
        await pool.end().catch(() => undefined);
        throw badRequest(`error creating database object: error verifying connection: ${pgErrorText(err)}`);
      }
    }
    await existing?.pool.end().catch(() => undefined);
    this.connections.set(name, { ...connection, pool });

    // A literal password in the URL is accepted, with the warning Vault gives.
    if (/^[a-z]+:\/\/[^/@]*:[^/@{]+@/i.test(connectionUrl) && !connectionUrl.includes('{{password}}')) {
      return ok({
        warnings: ['Password found in connection_url, use a templated url to enable root rotation and prevent read access to password information.'],
      });
    }
    return noContent();
  }

  private requireConnection(name: string): Connection {
    const c = this.connections.get(name);
    if (!c) throw internalError(`failed to find entry for connection with name: "${name}"`);
    return c;
  }

  private async reconnect(c: Connection): Promise<void> {
    const old = c.pool;
    c.pool = newPool(c);
    await old.end().catch(() => undefined);
  }

  private async rotateRoot(c: Connection): Promise<VaultResponse> {
    if (!c.username) throw badRequest('unable to rotate root credentials: no username in configuration');
    if (!c.password) throw badRequest('unable to rotate root credentials: no password in configuration');
    const password = databasePassword();
    const statements = c.rootRotationStatements.length > 0 ? c.rootRotationStatements : [DEFAULT_ROTATE_ROOT];
    await runInTransaction(c.pool, statements, { username: c.username, name: c.username, password: await this.passwordFor(c, password) }).catch((err) => {
      throw internalError(`failed to update user: ${pgErrorText(err)}`);
    });
    c.password = password;
    await this.reconnect(c);
    return noContent();
  }

  // --- roles/<name> --------------------------------------------------------------------------

  private async role(request: BackendRequest, name: string): Promise<VaultResponse> {
    if (request.operation === 'list' || (request.operation === 'read' && name === '')) return keysOrNotFound([...this.roles.keys()]);
    if (name === '') throw unsupportedPath();
    switch (request.operation) {
      case 'read': {
        const r = this.roles.get(name);
        if (!r) throw notFound();
        return ok({
          data: {
            db_name: r.dbName,
            creation_statements: r.creation,
            revocation_statements: r.revocation,
            renew_statements: r.renew,
            rollback_statements: r.rollback,
            default_ttl: r.defaultTtl,
            max_ttl: r.maxTtl,
            credential_type: 'password',
          },
        });
      }
      case 'update': {
        const existing = this.roles.get(name);
        const dbName = stringField(request.body, 'db_name') ?? existing?.dbName;
        if (!dbName) throw badRequest('database name is required');
        const ttl = (field: string, fallback: number) => durationField(request.body, field) ?? fallback;
        const role: Role = {
          name,
          dbName,
          creation: statementList(request.body.creation_statements) ?? existing?.creation ?? [],
          revocation: statementList(request.body.revocation_statements) ?? existing?.revocation ?? [],
          renew: statementList(request.body.renew_statements) ?? existing?.renew ?? [],
          rollback: statementList(request.body.rollback_statements) ?? existing?.rollback ?? [],
          defaultTtl: ttl('default_ttl', existing?.defaultTtl ?? 0),
          maxTtl: ttl('max_ttl', existing?.maxTtl ?? 0),
        };
        if (role.maxTtl > 0 && role.defaultTtl > role.maxTtl) throw badRequest('ttl cannot be greater than max_ttl');
        this.roles.set(name, role);
        return noContent();
      }
      case 'delete':
        this.roles.delete(name);
        return noContent();
      default:
        throw unsupportedOperation();
    }
  }

  // --- creds/<role> --------------------------------------------------------------------------

  private async issue(request: BackendRequest, roleName: string): Promise<VaultResponse> {
    const { mount } = this;
    const role = this.roles.get(roleName);
    if (!role) throw badRequest(`unknown role: ${roleName}`);
    const c = this.connections.get(role.dbName);
    if (!c) throw internalError(`failed to find entry for connection with name: "${role.dbName}"`);
    if (!c.allowedRoles.includes('*') && !c.allowedRoles.some((pattern) => globMatch(pattern, roleName))) {
      throw internalError(`"${roleName}" is not an allowed role`);
    }
    const { defaultTtl, maxTtl } = mountTtls(mount.config);
    const { ttl } = calculateTtl({ nowMs: this.clock.now(), increment: 0, backendTtl: role.defaultTtl, backendMaxTtl: role.maxTtl, mountDefaultTtl: defaultTtl, mountMaxTtl: maxTtl });
    if (role.creation.length === 0) throw internalError('empty creation statements');

    const username = databaseUsername(request.token.displayName, roleName, this.clock.now());
    const password = databasePassword();
    const expiration = expirationText(this.clock.now() + (ttl + 5) * 1000);
    try {
      await runInTransaction(c.pool, role.creation, { name: username, username, password: await this.passwordFor(c, password), expiration });
    } catch (err) {
      throw internalError(`failed to execute query: ${pgErrorText(err)}`);
    }

    const lease = this.leases.register({
      path: `${mount.path}creds/${roleName}`,
      ttl,
      renewable: true,
      tokenId: request.token.id,
      internal: { username, role: roleName, db_name: role.dbName },
      backend: this.leaseBackend(),
    });
    return ok({ lease_id: lease.id, renewable: true, lease_duration: ttl, data: { username, password } });
  }

  private leaseBackend(): LeaseBackend {
    return {
      renew: (lease, increment) => this.renewLease(lease, increment),
      revoke: (lease) => this.revokeLease(lease),
    };
  }

  private async renewLease(lease: LeaseEntry, increment: number): Promise<{ ttl: number; warnings: string[] }> {
    const role = this.roles.get(lease.internal.role as string);
    if (!role) throw internalError(`error during renew: could not find role with name "${lease.internal.role}"`);
    const c = this.requireConnection(role.dbName);
    const { defaultTtl, maxTtl } = mountTtls(this.mount.config);
    const result = calculateTtl({
      nowMs: this.clock.now(),
      increment,
      backendTtl: role.defaultTtl,
      backendMaxTtl: role.maxTtl,
      mountDefaultTtl: defaultTtl,
      mountMaxTtl: maxTtl,
      startMs: lease.issueMs,
    });
    const username = lease.internal.username as string;
    const expiration = expirationText(this.clock.now() + (result.ttl + 5) * 1000);
    const statements = role.renew.length > 0 ? role.renew : [DEFAULT_RENEW];
    try {
      await runInTransaction(c.pool, statements, { name: username, username, expiration });
    } catch (err) {
      throw internalError(`failed to execute query: ${pgErrorText(err)}`);
    }
    return result;
  }

  private async revokeLease(lease: LeaseEntry): Promise<void> {
    const username = lease.internal.username as string;
    const role = this.roles.get(lease.internal.role as string);
    const c = this.connections.get(role?.dbName ?? (lease.internal.db_name as string));
    if (!c) throw new Error(`error during revoke: could not find role with name "${lease.internal.role}" or embedded revocation db name data`);
    if (role && role.revocation.length > 0) {
      await runInTransaction(c.pool, role.revocation, { name: username, username }).catch((err) => {
        throw new Error(pgErrorText(err));
      });
      return;
    }
    await defaultRevocation(c.pool, username);
  }

  /** The password as sent to PostgreSQL: plain, or a SCRAM verifier computed here. */
  private async passwordFor(c: Connection, password: string): Promise<string> {
    return c.passwordAuthentication === 'scram-sha-256' ? scramVerifier(password) : password;
  }
}

/** Creation, revocation, renew and rollback statements: a list, or one string as one item. */
function statementList(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  // Each statement trimmed, as Vault's string-slice fields are (a file given as @file.sql ends in a newline).
  if (Array.isArray(value)) return value.map((s) => String(s).trim()).filter((s) => s !== '');
  const text = String(value).trim();
  return text === '' ? [] : [text];
}

function keysOrNotFound(keys: string[]): VaultResponse {
  if (keys.length === 0) throw notFound();
  return ok({ data: { keys: keys.sort() } });
}

function globMatch(pattern: string, value: string): boolean {
  const regex = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return regex.test(value);
}
