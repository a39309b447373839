import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { applySchema } from '../../src/delphi/schema.js';
import { applyMigrations } from '../../src/delphi/schema-migrator.js';

/** Connection facts of the run's cluster (started by global-setup.ts). */
export function clusterInfo() {
  return inject('pg');
}

export function adminUrl(database = 'postgres'): string {
  const { host, port, adminUser, adminPassword } = clusterInfo();
  return `postgresql://${adminUser}:${encodeURIComponent(adminPassword)}@${host}:${port}/${database}`;
}

/**
 * A new, empty database for one test file, optionally with the pipeline's schema and eos's
 * objects on it (`eos delphi schema apply`); returns its admin URL.
 */
export async function freshDatabase(options: { schema?: boolean; eos?: boolean } = {}): Promise<{ name: string; url: string }> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
  const url = adminUrl(name);
  if (options.schema) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await applySchema(client);
      if (options.eos) await applyMigrations(client);
    } finally {
      await client.end();
    }
  }
  return { name, url };
}
