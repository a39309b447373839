import { createPrivateKey, X509Certificate } from 'node:crypto';
import { checkKeyFileMode, readTlsFile } from '../db/credentials.js';
import { holdsPemCertificate } from '../util/pem.js';
import { SSL_MODES, type SslMode } from '../config/constants.js';
import { importEsm } from '../util/import-esm.js';
import { checkTlsFilePath, isValidDatabaseName, isValidHost } from '../db/target.js';
import { quoted, UsageError } from '../errors.js';
import { writeJson } from './output.js';
import { withPrompts } from './prompts.js';
import { defineCommand, JSON_OPTION } from './spec.js';

/**
 * `eos self secrets set delphi-db-config`: where the Delphi database is, stored in Vault KV
 * (`<kv>/delphi/config/*`, so every host sees it) and in the local config.
 */
export default defineCommand({
  path: ['self', 'secrets', 'set', 'delphi-db-config'],
  description: 'host, port, database and sslmode of the Delphi database, in Vault KV and the local config',
  options: {
    host: { flags: '--host <host>', description: 'database host name or IP address (default: $DELPHI_DB_HOST)' },
    port: { flags: '--port <port>', description: 'database port (default: $DELPHI_DB_PORT)' },
    database: { flags: '--database <name>', description: 'database name (default: $DELPHI_DB_NAME)' },
    sslmode: { flags: '--sslmode <mode>', description: 'TLS mode (default: $DELPHI_DB_SSLMODE)', choices: SSL_MODES },
    sslrootcert: { flags: '--sslrootcert <file>', description: "the CA file that signed PostgreSQL's certificate, for verify-ca/verify-full (a path on the hosts that run eos)" },
    sslcert: { flags: '--sslcert <file>', description: 'a client certificate for a server that asks for one (pg_hba clientcert; a path on the hosts that run eos)' },
    sslkey: { flags: '--sslkey <file>', description: "the client certificate's private key (mode 0600, as libpq requires)" },
    local: { flags: '--local', description: 'store only in the local config (when Vault is not configured)' },
    yes: { flags: '-y, --yes', description: 'never prompt' },
    json: JSON_OPTION,
  },
  examples: [
    'eos self secrets set delphi-db-config',
    'eos self secrets set delphi-db-config --yes --host 10.0.0.5 --port 5432 --database delphi --sslmode verify-full',
  ],
  async run(options, context) {
    const [{ writeConfigFile }, { writeEosFields }] = await Promise.all([import('../config/write.js'), import('../vault/kv.js')]);
    const { io } = context;
    const { config, location, input: file } = context.config({ creating: true });
    const current = config.database;
    const interactive = io.stdinIsTTY && io.stdoutIsTTY && !options.yes;
    // Flags, else the DELPHI_DB_* variables every eos command reads, else the stored values.
    const env = (name: string) => (io.env[name] === undefined || io.env[name] === '' ? undefined : io.env[name]);
    let raw = {
      host: options.host ?? env('DELPHI_DB_HOST') ?? current.host,
      port: options.port ?? env('DELPHI_DB_PORT') ?? (current.port === undefined ? undefined : String(current.port)),
      database: options.database ?? env('DELPHI_DB_NAME') ?? current.name,
      sslmode: options.sslmode ?? env('DELPHI_DB_SSLMODE') ?? current.sslmode,
    };
    if (interactive) {
      const { input, select } = await importEsm('./prompts.js', () => import('@inquirer/prompts'));
      const current = raw;
      raw = await withPrompts(io, async (ctx) => ({
        host: options.host ?? (await input({ message: 'Database host', default: current.host ?? 'localhost' }, ctx)).trim(),
        port: options.port ?? (await input({ message: 'Port', default: current.port ?? '5432' }, ctx)).trim(),
        database: options.database ?? (await input({ message: 'Database name', default: current.database ?? 'delphi' }, ctx)).trim(),
        sslmode: options.sslmode ?? (await select({ message: 'sslmode', default: current.sslmode ?? 'verify-full', choices: SSL_MODES.map((m) => ({ name: m, value: m })) }, ctx)),
      }));
    }
    const missing = (['host', 'port', 'database', 'sslmode'] as const).find((k) => raw[k] === undefined);
    if (missing) throw new UsageError(`no terminal to ask for the database ${missing}: pass --${missing}`, 'e.g. --host 10.0.0.5 --port 5432 --database delphi --sslmode require');
    const values = validateDbConfig(raw as { host: string; port: string; database: string; sslmode: string });
    if (values.sslmode === 'disable') io.stderr.write('warning: sslmode=disable: credentials and data cross the network unencrypted\n');
    // Each TLS file from its flag, else its DELPHI_DB_* variable, else the stored one; `--sslrootcert ''`
    // (and the others) forgets a stored path (in KV as an empty value, which reads as none).
    const files: Partial<Record<TlsFileKey, string>> = {};
    const forgotten: TlsFileKey[] = [];
    const givenNow = new Set<TlsFileKey>();
    for (const { key, variable, check } of TLS_FILES) {
      const given = options[key] ?? env(variable);
      if (options[key] === '') forgotten.push(key);
      else if (given !== undefined) {
        const origin = options[key] !== undefined ? `--${key}` : variable;
        files[key] = check(checkTlsFilePath(given, key, origin), origin);
        givenNow.add(key);
      } else if (current[key]) files[key] = current[key];
    }
    // A client certificate goes with its key: forgetting either forgets both.
    if (forgotten.includes('sslcert') || forgotten.includes('sslkey')) {
      for (const key of ['sslcert', 'sslkey'] as const) {
        delete files[key];
        if (!forgotten.includes(key)) forgotten.push(key);
      }
    }
    // Stored paths were checked when they were set (and may name another host's files): new ones are.
    if (givenNow.has('sslcert') || givenNow.has('sslkey')) checkClientPair(files);

    // Vault first: if it refuses, the local copy is left as it was.
    let stored = 'local config';
    if (!options.local) {
      const session = await context.vault();
      await writeEosFields(session.client, `${config.kv.mount}/delphi/config`, {
        host: values.host,
        port: String(values.port),
        database: values.database,
        sslmode: values.sslmode,
        ...files,
        ...Object.fromEntries(forgotten.map((key) => [key, ''])),
      });
      stored = `Vault ${config.kv.mount}/delphi/config/{${['host', 'port', 'database', 'sslmode', ...Object.keys(files)].join(',')}} and the local config`;
    }
    const { sslrootcert: _root, sslcert: _cert, sslkey: _key, ...kept } = file.database ?? {};
    await writeConfigFile(location.path, { ...file, database: { ...kept, host: values.host, port: values.port, name: values.database, sslmode: values.sslmode, ...files } });
    (await context.logger()).info({ ...values, local: Boolean(options.local) }, 'database configuration saved');
    if (options.json) writeJson(io, { ...values, storedIn: options.local ? ['local'] : ['vault', 'local'], file: location.path });
    else io.stdout.write(`saved ${values.host}:${values.port}/${values.database} (sslmode=${values.sslmode}) to ${stored} (${location.path})\n`);
    return 0;
  },
});

interface DbConfigValues {
  host: string;
  port: number;
  database: string;
  sslmode: SslMode;
}

/** Validates what the user gave; every problem is one line naming the flag. */
function validateDbConfig(raw: { host: string; port: string; database: string; sslmode: string }): DbConfigValues {
  if (!isValidHost(raw.host)) {
    throw new UsageError(`--host ${quoted(raw.host)} is not a host name or an IP address`, 'e.g. db.example.com, 10.0.0.5 or 100.88.69.11');
  }
  const port = Number(raw.port);
  if (!/^\d+$/.test(raw.port) || port < 1 || port > 65535) throw new UsageError(`--port ${quoted(raw.port)} is not a port number`, 'use 1–65535 (PostgreSQL listens on 5432 by default)');
  if (!isValidDatabaseName(raw.database)) throw new UsageError(`--database ${quoted(raw.database)} is not a database name`, 'letters, digits, "_", "$" and "-", starting with a letter or "_"');
  if (!(SSL_MODES as readonly string[]).includes(raw.sslmode)) throw new UsageError(`--sslmode ${quoted(raw.sslmode)} is not an sslmode`, `use one of ${SSL_MODES.join(', ')}`);
  return { host: raw.host, port, database: raw.database, sslmode: raw.sslmode as SslMode };
}


type TlsFileKey = 'sslrootcert' | 'sslcert' | 'sslkey';

/** The TLS files a database config names, each with its variable and what its file must hold. */
const TLS_FILES: { key: TlsFileKey; variable: string; check: (file: string, origin: string) => string }[] = [
  { key: 'sslrootcert', variable: 'DELPHI_DB_SSLROOTCERT', check: (f, o) => checkCertificateFile(f, o, "name the PEM file of the CA that signed PostgreSQL's certificate") },
  { key: 'sslcert', variable: 'DELPHI_DB_SSLCERT', check: (f, o) => checkCertificateFile(f, o, "name the PEM file of this host's client certificate") },
  { key: 'sslkey', variable: 'DELPHI_DB_SSLKEY', check: checkKeyFile },
];

/** The file's text, read as any TLS file is (a regular file of sane size), named by where it came from. */
function readText(file: string, origin: string, hint: string): string {
  return (readTlsFile(file, `${origin} ${quoted(file)}`, hint) as Buffer).toString('latin1');
}

/** A certificate file must hold a certificate: /etc/passwd given by mistake is named, not stored. */
function checkCertificateFile(file: string, origin: string, hint: string): string {
  if (!holdsPemCertificate(readText(file, origin, hint))) throw new UsageError(`${origin} ${quoted(file)} holds no PEM certificate`, `${hint} (-----BEGIN CERTIFICATE-----)`);
  return file;
}

/** The key: no one else may read it (libpq refuses it otherwise), and it must be a private key. */
function checkKeyFile(file: string, origin: string): string {
  const hint = "name the PEM file of the client certificate's private key";
  checkKeyFileMode(file);
  const text = readText(file, origin, hint);
  try {
    createPrivateKey(text);
  } catch {
    throw new UsageError(`${origin} ${quoted(file)} holds no PEM private key`, `${hint} (unencrypted: -----BEGIN PRIVATE KEY----- or RSA/EC PRIVATE KEY)`);
  }
  return file;
}

/** A client certificate and its key go together, and the key must be the certificate's. */
function checkClientPair(files: Partial<Record<TlsFileKey, string>>): void {
  if (!files.sslcert && !files.sslkey) return;
  if (!files.sslcert || !files.sslkey) {
    throw new UsageError(`${files.sslcert ? '--sslcert' : '--sslkey'} without ${files.sslcert ? '--sslkey' : '--sslcert'}`, 'a client certificate is presented with its key: give both (or forget both with --sslcert "")');
  }
  const hint = 'give the certificate and the key that was made with it';
  const certText = readText(files.sslcert, 'sslcert', hint);
  const keyText = readText(files.sslkey, 'sslkey', hint);
  let matches = false;
  try {
    // The first certificate of the file is the one presented (a chain may follow it).
    matches = new X509Certificate(certText).checkPrivateKey(createPrivateKey(keyText));
  } catch (err) {
    throw new UsageError(`the certificate ${quoted(files.sslcert)} and key ${quoted(files.sslkey)} cannot be read as a pair (${(err as Error).message})`, hint);
  }
  if (!matches) throw new UsageError(`the key ${quoted(files.sslkey)} does not belong to the certificate ${quoted(files.sslcert)}`, hint);
}
