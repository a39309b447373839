import pg from 'pg';
import { ADMIN_PASSWORD_ENV } from '../config/constants.js';
import { PermissionDeniedError } from '../errors.js';
import { dbCredentials } from './credentials.js';
import { connectToTarget } from './host-locator.js';
import { describeHosts } from './hosts.js';
import { classifyDatabaseError } from './errors.js';
import { tlsFilesOf, type DbTarget } from './target.js';

/**
 * A session as the PostgreSQL admin, for the one-time work a reader's credentials may not do:
 * the engine's group roles, eos's schema objects. The password is used, never printed.
 */
export async function connectAdmin(
  target: Pick<DbTarget, 'host' | 'port' | 'database' | 'sslmode' | 'sslrootcert' | 'sslcert' | 'sslkey'> & Partial<Pick<DbTarget, 'hosts'>>,
  user: string,
  password: string,
  application: string,
): Promise<pg.Client> {
  // The admin's work (roles, grants, eos's schema) is writes: on a site with standbys, the primary.
  const hosts = target.hosts && target.hosts.length > 1 ? { hosts: target.hosts, targetSessionAttrs: 'read-write' as const } : {};
  const credentials = dbCredentials({ host: target.host, port: target.port, ...hosts, database: target.database, sslmode: target.sslmode, ...tlsFilesOf(target), user, password, source: 'env' });
  try {
    return (await connectToTarget(credentials, { application })).client;
  } catch (err) {
    const code = (err as { code?: string }).code;
    // A client certificate missing is not the password's fault: classified below, with its own hint.
    if (code === '28P01' || (code === '28000' && !/client certificate/i.test((err as Error).message))) {
      throw new PermissionDeniedError(`PostgreSQL refused the admin user ${user}: ${(err as Error).message}`, `check ${ADMIN_PASSWORD_ENV} and --admin-user`);
    }
    throw classifyDatabaseError(err, { user, where: describeHosts(target.hosts && target.hosts.length > 0 ? target.hosts : [target]) });
  }
}
