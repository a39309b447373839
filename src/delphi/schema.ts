import { readFile } from 'node:fs/promises';
import type pg from 'pg';

/** The pipeline's own schema (the sandbox's and the tests'), shipped beside this module (src/ in development, dist/ when built). */
export const SCHEMA_FILE = new URL('./schema.sql', import.meta.url);

/** Every channel the schema's triggers NOTIFY on, in pipeline order. */
export const ALERT_CHANNELS = [
  'new_alert',
  'alert_enriched',
  'alert_analyzed',
  'alert_structured',
  'alert_formatted',
  'alert_sent',
  'alert_failed',
  'alert_archived',
] as const;

/**
 * Applies the schema in one implicit transaction (a multi-statement simple query), so a failure
 * leaves the database as it was. Safe to run on a database that already has it.
 */
export async function applySchema(client: pg.ClientBase | pg.Pool): Promise<void> {
  await client.query(await readFile(SCHEMA_FILE, 'utf8'));
}
