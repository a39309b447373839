import pg from 'pg';
import { ADMIN_PASSWORD_ENV } from '../config/constants.js';
import { PermissionDeniedError } from '../errors.js';
import { dbCredentials, toPgConfig } from './credentials.js';
import { settleTls } from './tls-offer.js';
import { classifyDatabaseError } from './errors.js';
import { tlsFilesOf, type DbTarget } from './target.js';

/**
 * A session as the PostgreSQL admin, for the one-time work a reader's credentials may not do:
 * the engine's group roles, eos's schema objects. The password is used, never printed.
 */
export async function connectAdmin(
  target: Pick<DbTarget, 'host' | 'port' | 'database' | 'sslmode' | 'sslrootcert' | 'sslcert' | 'sslkey'>,
  user: string,
  password: string,
  application: string,
): Promise<pg.Client> {
  const credentials = await settleTls(dbCredentials({ host: target.host, port: target.port, database: target.database, sslmode: target.sslmode, ...tlsFilesOf(target), user, password, source: 'env' }));
  const admin = new pg.Client({
    ...toPgConfig(credentials),
    application_name: application,
  });
  try {
    await admin.connect();
  } catch (err) {
    await admin.end().catch(() => undefined);
    const code = (err as { code?: string }).code;
    // A client certificate missing is not the password's fault: classified below, with its own hint.
    if (code === '28P01' || (code === '28000' && !/client certificate/i.test((err as Error).message))) {
      throw new PermissionDeniedError(`PostgreSQL refused the admin user ${user}: ${(err as Error).message}`, `check ${ADMIN_PASSWORD_ENV} and --admin-user`);
    }
    throw classifyDatabaseError(err, { user, where: `${target.host}:${target.port}` });
  }
  return admin;
}
