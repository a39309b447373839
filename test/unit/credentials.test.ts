import { describe, expect, it } from 'vitest';
import { dbCredentials, describeCredentials, toDsn, toPgConfig } from '../../src/db/credentials.js';

describe('database credentials', () => {
  const c = dbCredentials({ host: 'db', port: 5432, database: 'delphi', sslmode: 'require', user: 'v-reader', password: 'S3cret-pw', source: 'dynamic' });

  it('keep the password out of JSON, spreads and key lists', () => {
    expect(JSON.stringify(c)).not.toContain('S3cret-pw');
    expect(Object.keys(c)).not.toContain('password');
    expect({ ...c }).not.toHaveProperty('password');
    expect(describeCredentials(c)).not.toContain('S3cret-pw');
  });

  it('still hand the password to whoever asks for it by name', () => {
    expect(c.password).toBe('S3cret-pw');
    expect(toPgConfig(c).password).toBe('S3cret-pw');
    expect(toDsn(c)).toBe('postgresql://v-reader:S3cret-pw@db:5432/delphi?sslmode=require');
  });
});
