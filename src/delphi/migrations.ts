import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/**
 * eos's own objects in a Delphi database, as numbered migrations: SQL files shipped beside this
 * module (src/delphi/migrations/ in development, dist/migrations/ when built). A file is cut
 * into steps at `-- step: <title>` lines, so a long first install can say where it is.
 * Forward only: a released file never changes; a change is a new file. Since 0004 eos's objects
 * live in the schema `eos` (the indexes and triggers stay on the pipeline's tables); a new one
 * is created there by its full name, a SECURITY DEFINER function sets
 * `search_path = pg_catalog, pg_temp` and names everything of eos's `eos.…` (0003 and 0004 say why).
 */
export const MIGRATION_FILES = ['0001-rollups.sql', '0002-dashboard-views.sql', '0003-definer-hardening.sql', '0004-eos-schema.sql'] as const;

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
  /** What the migration creates, checked by status and verify: `table eos.failure_rollup`, … */
  objects: SchemaObject[];
}

export interface SchemaObject {
  kind: 'table' | 'view' | 'index' | 'function' | 'trigger' | 'sequence';
  /** Where it is created: `public` for an index on a pipeline table (and everything before 0004). */
  schema: 'public' | 'eos';
  name: string;
}

/** The migration that moved eos's tables, views and functions from `public` into `eos`. */
export const EOS_SCHEMA_VERSION = 4;
const MOVED_KINDS: ReadonlySet<SchemaObject['kind']> = new Set(['table', 'view', 'function']);

/**
 * Where an object an earlier migration created is in a database at `version`: from 0004 on, a
 * table, view or function `public.eos_x` is `eos.x`. Indexes stay with their tables, triggers
 * with theirs.
 */
export function placeAt(object: SchemaObject, version: number): SchemaObject {
  if (version < EOS_SCHEMA_VERSION || object.schema === 'eos' || !MOVED_KINDS.has(object.kind)) return object;
  return { kind: object.kind, schema: 'eos', name: object.name.replace(/^eos_/, '') };
}

/** `table eos.failure_rollup`, `index eos_alerts_sent` (an index or trigger by its name alone). */
export function describeObject(object: SchemaObject): string {
  return object.kind === 'index' || object.kind === 'trigger' ? `${object.kind} ${object.name}` : `${object.kind} ${object.schema}.${object.name}`;
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

const CREATES = /^CREATE\s+(?:OR\s+REPLACE\s+)?(TABLE|VIEW|INDEX|FUNCTION|TRIGGER|SEQUENCE)\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:(public|eos)\.)?([a-z_][a-z0-9_]*)/gim;

/** Every object a migration's SQL creates, by kind, schema and name (an unqualified name is `public`'s). */
export function objectsOf(sql: string): SchemaObject[] {
  return [...sql.matchAll(CREATES)].map((m) => ({
    kind: (m[1] as string).toLowerCase() as SchemaObject['kind'],
    schema: (m[2] ?? 'public') as SchemaObject['schema'],
    name: m[3] as string,
  }));
}
