import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

function writeJsonFile(file: string, value: unknown): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(value));
  return file;
}

describe('configuration search order', () => {
  function setup() {
    const root = tempDir();
    const home = path.join(root, 'home');
    const etcPath = writeJsonFile(path.join(root, 'etc', 'eos', 'config.json'), { kv: { mount: 'from-etc' } });
    const xdg = writeJsonFile(path.join(home, '.config', 'eos', 'config.json'), { kv: { mount: 'from-xdg' } });
    const viaEnv = writeJsonFile(path.join(root, 'env.json'), { kv: { mount: 'from-env' } });
    const viaFlag = writeJsonFile(path.join(root, 'flag.json'), { kv: { mount: 'from-flag' } });
    return { root, home, etcPath, xdg, viaEnv, viaFlag };
  }

  it('prefers --config, then $EOS_CONFIG, then the XDG file, then /etc', () => {
    const s = setup();
    const all = loadConfig({ flag: s.viaFlag, env: { EOS_CONFIG: s.viaEnv }, home: s.home, etcPath: s.etcPath });
    expect(all.config.kv.mount).toBe('from-flag');
    expect(all.location.origin).toBe('--config');

    const noFlag = loadConfig({ env: { EOS_CONFIG: s.viaEnv }, home: s.home, etcPath: s.etcPath });
    expect(noFlag.config.kv.mount).toBe('from-env');
    expect(noFlag.location.origin).toBe('EOS_CONFIG');

    const user = loadConfig({ env: {}, home: s.home, etcPath: s.etcPath });
    expect(user.config.kv.mount).toBe('from-xdg');
    expect(user.location).toMatchObject({ origin: 'xdg', path: s.xdg });

    const etc = loadConfig({ env: {}, home: path.join(s.root, 'nobody'), etcPath: s.etcPath });
    expect(etc.config.kv.mount).toBe('from-etc');
    expect(etc.location.origin).toBe('etc');
  });

  it('honours $XDG_CONFIG_HOME (absolute only) over ~/.config', () => {
    const s = setup();
    const xdgHome = path.join(s.root, 'xdg');
    writeJsonFile(path.join(xdgHome, 'eos', 'config.json'), { kv: { mount: 'from-xdg-home' } });
    expect(loadConfig({ env: { XDG_CONFIG_HOME: xdgHome }, home: s.home, etcPath: s.etcPath }).config.kv.mount).toBe('from-xdg-home');
    // A relative XDG_CONFIG_HOME is invalid by the spec and ignored.
    expect(loadConfig({ env: { XDG_CONFIG_HOME: 'relative' }, home: s.home, etcPath: s.etcPath }).config.kv.mount).toBe('from-xdg');
  });

  it('uses defaults when no file exists, and names the XDG path as the place to write one', () => {
    const root = tempDir();
    const loaded = loadConfig({ env: {}, home: path.join(root, 'h'), etcPath: path.join(root, 'none.json') });
    expect(loaded.fromFile).toBe(false);
    expect(loaded.location.path).toBe(path.join(root, 'h', '.config', 'eos', 'config.json'));
    expect(loaded.config.credentials.sources).toEqual(['dynamic', 'kv', 'env', 'defaults']);
    expect(loaded.config.engine).toEqual({ mount: 'database', connection: 'delphi-postgresql', role: 'delphi-readonly', workerRole: 'delphi-worker' });
  });

  it('refuses an explicit path that does not exist', () => {
    const root = tempDir();
    expect(() => loadConfig({ flag: path.join(root, 'missing.json'), env: {} })).toThrow(/missing\.json: no such file \(named by --config\)/);
    expect(() => loadConfig({ env: { EOS_CONFIG: path.join(root, 'gone.json') } })).toThrow(/named by EOS_CONFIG/);
  });
});

describe('configuration validation', () => {
  const parse = (value: unknown) => parseConfigText('/x/config.json', typeof value === 'string' ? value : JSON.stringify(value));
  const failure = (value: unknown): ConfigError => {
    try {
      parse(value);
    } catch (err) {
      return err as ConfigError;
    }
    throw new Error('expected a ConfigError');
  };

  it('names the field path of a wrong type', () => {
    const err = failure({ database: { port: 'five' } });
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(/^\/x\/config\.json: database\.port: /);
  });

  it('lists every problem of a file, up to ten, and counts the rest', () => {
    const three = failure({ database: { port: 0, sslmode: 'sometimes' }, vault: { timeout: 'soon' } }).message;
    expect(three).toMatch(/^\/x\/config\.json: 3 problems: /);
    for (const field of ['database.port', 'database.sslmode', 'vault.timeout']) expect(three).toContain(`${field}: `);
    const twelve = failure({
      vault: { caCert: 1, caPath: 1, clientCert: 1, clientKey: 1, tlsSkipVerify: 'x', tlsServerName: 1, namespace: 1, timeout: 'soon', maxRetries: -1 },
      database: { port: 0, host: 1, name: 1 },
    }).message;
    expect(twelve).toMatch(/^\/x\/config\.json: 12 problems: /);
    expect(twelve.split('; ').length).toBe(11); // ten problems, then "and 2 more"
    expect(twelve).toMatch(/; and 2 more$/);
  });

  it('rejects an unknown auth method and names it', () => {
    expect(failure({ vault: { auth: { method: 'kerberos' } } }).message).toBe(
      '/x/config.json: vault.auth.method: must be one of "token", "token-file", "approle", "jwt"',
    );
  });

  it('points at the line and column of bad JSON', () => {
    expect(failure('{\n  "kv": {\n    "mount": secret\n  }\n}').message).toBe(
      '/x/config.json: not valid JSON: unexpected "s" at line 3, column 14',
    );
    expect(failure('{"kv": {"mount": "a",}}').message).toMatch(/unexpected "}" at line 1, column 22/);
    expect(failure('{"kv": ').message).toMatch(/not valid JSON: the file ends too early/);
    expect(failure('').message).toMatch(/not valid JSON: the file ends too early/);
  });

  it('rejects unknown keys, and refuses secrets in the file', () => {
    expect(failure({ vualt: {} }).message).toBe('/x/config.json: (top level): unknown field "vualt"');
    expect(failure({ vault: { token: 'hvs.abc' } }).message).toMatch(/vault\.token: secrets are never kept in the config file/);
  });

  it('checks values: ports, source lists, renewAt, sslmode, durations', () => {
    expect(failure({ database: { port: 70000 } }).message).toMatch(/database\.port/);
    expect(failure({ credentials: { sources: [] } }).message).toMatch(/credentials\.sources: must name at least one source/);
    expect(failure({ credentials: { sources: ['dynamic', 'dynamic'] } }).message).toMatch(/must not repeat a source/);
    expect(failure({ credentials: { sources: ['ldap'] } }).message).toMatch(/credentials\.sources\.0/);
    expect(failure({ credentials: { renewAt: 1.5 } }).message).toMatch(/credentials\.renewAt/);
    expect(failure({ database: { sslmode: 'sometimes' } }).message).toMatch(/database\.sslmode/);
    expect(failure({ vault: { timeout: 'soon' } }).message).toMatch(/vault\.timeout: must be a duration/);
    expect(parse({ vault: { timeout: '90s', auth: { method: 'approle', roleId: 'r', secretIdFile: '/s' } } }).vault.auth).toEqual({
      method: 'approle',
      roleId: 'r',
      secretIdFile: '/s',
      mount: 'approle',
    });
  });
});
