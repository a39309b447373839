import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger, resolveLogFile } from '../../src/log.js';
import { redactString } from '../../src/redact.js';
import { tempDir } from '../helpers/tmp.js';

const PASSWORD = 'A1b2-C3d4-E5f6-G7h8ij';
const TOKEN = 'hvs.CAESIJ3kq8Zr1VxFgH2yTnWmPq7uLs';
const DSN_PASSWORD = 'dsn-Secret-9Zq';
const DSN = `postgresql://v-approle-delphi-r-x4Tq9LmZ:${DSN_PASSWORD}@db.example:5432/delphi?sslmode=require`;

describe('the log', () => {
  it('never writes a password, a token or a DSN password to the file', () => {
    const file = path.join(tempDir(), 'logs', 'eos.log');
    const log = createLogger({ file, env: {} });
    log.info({ password: PASSWORD, token: TOKEN, dsn: DSN, headers: { 'X-Vault-Token': TOKEN } }, 'credentials issued');
    log.warn({ nested: { config: { secret_id: PASSWORD }, list: [DSN] } }, `connecting to ${DSN}`);
    log.error({ err: new Error(`connection to ${DSN} failed for token ${TOKEN}`) }, 'login failed');
    log.info(`conninfo host=db password=${PASSWORD} user=x`);

    const text = readFileSync(file, 'utf8');
    for (const secret of [PASSWORD, TOKEN, DSN_PASSWORD]) expect(text).not.toContain(secret);
    const records = text.trim().split('\n').map((line) => JSON.parse(line));
    expect(records).toHaveLength(4);
    expect(records[0]).toMatchObject({ level: 'info', msg: 'credentials issued', password: '[REDACTED]', token: '[REDACTED]' });
    // What is not secret survives, so the log stays useful.
    expect(records[0].dsn).toBe('postgresql://v-approle-delphi-r-x4Tq9LmZ:[REDACTED]@db.example:5432/delphi?sslmode=require');
    expect(records[2].err.message).toContain('db.example:5432');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('scrubs secrets inside free text', () => {
    expect(redactString(`url ${DSN} and password='x y' and token ${TOKEN}`)).toBe(
      'url postgresql://v-approle-delphi-r-x4Tq9LmZ:[REDACTED]@db.example:5432/delphi?sslmode=require and password=[REDACTED] and token [REDACTED]',
    );
  });

  it('chooses the file: flag, then EOS_LOG_FILE, then the config, then the state directory', () => {
    const home = tempDir();
    expect(resolveLogFile({ file: '/a/flag.log', env: { EOS_LOG_FILE: '/b/env.log' }, configFile: '/c/cfg.log' })).toBe('/a/flag.log');
    expect(resolveLogFile({ env: { EOS_LOG_FILE: '/b/env.log' }, configFile: '/c/cfg.log' })).toBe('/b/env.log');
    expect(resolveLogFile({ env: {}, configFile: '/c/cfg.log' })).toBe('/c/cfg.log');
    const fallback = resolveLogFile({ env: { XDG_STATE_HOME: path.join(home, 'state') }, home });
    expect([path.join(home, 'state', 'eos', 'eos.log'), '/var/log/eos/eos.log']).toContain(fallback);
  });
});
