import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/**
 * eos's own objects in a Delphi database, as numbered migrations: SQL files shipped beside this
 * module (src/delphi/migrations/ in development, dist/migrations/ when built). A file is cut
 * into steps at `-- step: <title>` lines, so a long first install can say where it is.
 * Forward only: a released file never changes; a change is a new file. A SECURITY DEFINER
 * function sets `search_path = pg_catalog, pg_temp` and names eos's objects `public.…`; a new
 * table revokes writing from everyone but its owner (0003 says why).
 */
export const MIGRATION_FILES = ['0001-rollups.sql', '0002-dashboard-views.sql', '0003-definer-hardening.sql'] as const;

/** The schema version this eos needs: the dashboard refuses an older one. */
export const LATEST_SCHEMA_VERSION = MIGRATION_FILES.length;

export interface MigrationStep {
  title: string;
  sql: string;
}

export interface Migration {
  version: number;
  /** From the file name: `0002-dashboard-views.sql` → `dashboard-views`. */
  name: string;
  sql: string;
  /** sha256 of the file: status tells a database whose migration differs from this eos's. */
  checksum: string;
  steps: MigrationStep[];
  /** What the migration creates, checked by status and verify: `table eos_failure_rollup`, … */
  objects: SchemaObject[];
}

export interface SchemaObject {
  kind: 'table' | 'view' | 'index' | 'function' | 'trigger' | 'sequence';
  name: string;
}

const DIR = new URL('./migrations/', import.meta.url);

/** Where a migration's file is on this machine (a hint for recreating an object dropped by hand). */
export function migrationPath(version: number): string {
  return fileURLToPath(new URL(MIGRATION_FILES[version - 1] ?? '', DIR));
}

export async function loadMigrations(): Promise<Migration[]> {
  return Promise.all(
    MIGRATION_FILES.map(async (file, i) => {
      const sql = await readFile(new URL(file, DIR), 'utf8');
      return {
        version: i + 1,
        name: file.replace(/^\d+-/, '').replace(/\.sql$/, ''),
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
        steps: splitSteps(sql),
        objects: objectsOf(sql),
      };
    }),
  );
}

/** The steps of a file: the text from each `-- step:` line to the next; the header before the first is commentary. */
export function splitSteps(sql: string): MigrationStep[] {
  const [, ...parts] = sql.split(/^-- step: /m);
  return parts.map((part) => {
    const newline = part.indexOf('\n');
    return { title: part.slice(0, newline).trim(), sql: part.slice(newline + 1).trim() };
  });
}

const CREATES = /^CREATE\s+(?:OR\s+REPLACE\s+)?(TABLE|VIEW|INDEX|FUNCTION|TRIGGER|SEQUENCE)\s+(?:IF\s+NOT\s+EXISTS\s+)?([a-z_][a-z0-9_]*)/gim;

/** Every object a migration's SQL creates, by kind and name. */
export function objectsOf(sql: string): SchemaObject[] {
  return [...sql.matchAll(CREATES)].map((m) => ({ kind: (m[1] as string).toLowerCase() as SchemaObject['kind'], name: m[2] as string }));
}
