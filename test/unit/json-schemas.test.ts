import { describe, expect, it } from 'vitest';
import { assertFitsSchema, schemaNameFor } from '../helpers/json-schemas.js';

/** The schema check itself: it must refuse what does not fit, or it proves nothing. */
describe('the --json schemas', () => {
  const status = {
    schemaVersion: 1,
    config: { file: '/etc/eos/config.json', present: true, vaultAddress: 'https://vault:8200', auth: 'approle' },
    database: null,
    vault: { ok: true, version: '2.3.1', sealed: false, standby: false },
    token: { ok: true, source: 'approle', ttl: 3600, renewable: true, policies: ['eos-delphi-reader'], expireTime: null },
    engine: { checked: true, mounted: true, role: null, connection: null, canIssue: true, missing: [] },
    sources: [{ source: 'dynamic', available: true, reason: 'would issue from database/creds/delphi-readonly' }],
    wouldUse: 'dynamic',
    leases: [],
    exitCode: 0,
  };

  it('finds the schema by the command path, after global options', () => {
    expect(schemaNameFor(['--config', 'x.json', 'self', 'secrets', 'status', '--json'])).toBe('status');
    expect(schemaNameFor(['self', 'secrets', 'set', 'delphi-db-engine', '--apply', '--json'])).toBe('db-engine');
    expect(schemaNameFor(['self', 'secrets', 'exec', '--', 'self', 'secrets', 'status'])).toBeUndefined();
  });

  it('accepts a document that fits', () => {
    expect(() => assertFitsSchema('status', status)).not.toThrow();
  });

  it('refuses a missing field, a renamed one, a wrong type, a wrong schemaVersion', () => {
    const { wouldUse: _, ...missing } = status;
    expect(() => assertFitsSchema('status', missing)).toThrow(/must have required property 'wouldUse'/);
    expect(() => assertFitsSchema('status', { ...missing, wouldUseSource: 'dynamic' })).toThrow(/must NOT have additional properties \(wouldUseSource\)/);
    expect(() => assertFitsSchema('status', { ...status, exitCode: '0' })).toThrow(/\/exitCode must be integer/);
    expect(() => assertFitsSchema('status', { ...status, schemaVersion: 2 })).toThrow(/\/schemaVersion must be equal to constant/);
  });

  it('checks a failure against the error schema, whatever the command', () => {
    expect(() => assertFitsSchema('status', { schemaVersion: 1, error: { message: 'Vault is sealed', hint: null }, exitCode: 3 })).not.toThrow();
    expect(() => assertFitsSchema('status', { schemaVersion: 1, error: { message: 'x' }, exitCode: 0 })).toThrow(/error.schema.json/);
  });

  it("tells the engine's plan from its steps", () => {
    expect(() => assertFitsSchema('db-engine', { schemaVersion: 1, steps: [{ step: 'mount database/', status: 'created' }], changed: 1, dryRun: false })).not.toThrow();
    expect(() => assertFitsSchema('db-engine', { schemaVersion: 1, steps: [{ step: 'mount database/', status: 'made' }], changed: 1, dryRun: false })).toThrow();
  });
});
