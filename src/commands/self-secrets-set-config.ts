import { createPrivateKey, X509Certificate } from 'node:crypto';
import { checkKeyFileMode, readTlsFile } from '../db/credentials.js';
import { holdsPemCertificate } from '../util/pem.js';
import { SSL_MODES, TARGET_SESSION_ATTRS, type SslMode, type TargetSessionAttrs } from '../config/constants.js';
import { describeHosts, formatHostList, isTargetSessionAttrs, parseHostList, type HostPort } from '../db/hosts.js';
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
  description: 'host(s), port(s), database, sslmode, TLS files and target_session_attrs of the Delphi database, in Vault KV and the local config',
  options: {
    host: { flags: '--host <host>', description: 'database host name or IP address, or a primary and its standbys: a,b (default: $DELPHI_DB_HOST)' },
    port: { flags: '--port <port>', description: 'database port, or one per host: 5432,5433 (default: $DELPHI_DB_PORT)' },
    targetSessionAttrs: { flags: '--target-session-attrs <attrs>', description: "which host a session wants when several are listed (libpq's; default: $DELPHI_DB_TARGET_SESSION_ATTRS, else read-write)", choices: TARGET_SESSION_ATTRS },
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
    'eos self secrets set delphi-db-config --yes --host db1.example,db2.example --port 5432 --database delphi --sslmode verify-full --target-session-attrs read-write',
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
      targetSessionAttrs: options.targetSessionAttrs ?? env('DELPHI_DB_TARGET_SESSION_ATTRS') ?? current.targetSessionAttrs,
    };
    if (interactive) {
      const { input, select } = await importEsm('./prompts.js', () => import('@inquirer/prompts'));
      const current = raw;
      raw = await withPrompts(io, async (ctx) => ({
        host: options.host ?? (await input({ message: 'Database host', default: current.host ?? 'localhost' }, ctx)).trim(),
        port: options.port ?? (await input({ message: 'Port', default: current.port ?? '5432' }, ctx)).trim(),
        database: options.database ?? (await input({ message: 'Database name', default: current.database ?? 'delphi' }, ctx)).trim(),
        sslmode: options.sslmode ?? (await select({ message: 'sslmode', default: current.sslmode ?? 'verify-full', choices: SSL_MODES.map((m) => ({ name: m, value: m })) }, ctx)),
        targetSessionAttrs: current.targetSessionAttrs,
      }));
    }
    const missing = (['host', 'port', 'database', 'sslmode'] as const).find((k) => raw[k] === undefined);
    if (missing) throw new UsageError(`no terminal to ask for the database ${missing}: pass --${missing}`, 'e.g. --host 10.0.0.5 --port 5432 --database delphi --sslmode require');
    // A stored target_session_attrs belongs to the stored host list: back to one host, it goes
    // (unless given again), so a `standby` kept from a list does not refuse the one primary.
    const attrsGiven = options.targetSessionAttrs ?? env('DELPHI_DB_TARGET_SESSION_ATTRS');
    if (attrsGiven === undefined && !String(raw.host ?? '').includes(',')) raw = { ...raw, targetSessionAttrs: undefined };
    const values = validateDbConfig(raw as { host: string; port: string; database: string; sslmode: string; targetSessionAttrs?: string });
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
        // Always written: a site back to one host must not keep a stale list's setting.
        target_session_attrs: values.targetSessionAttrs ?? '',
        ...files,
        ...Object.fromEntries(forgotten.map((key) => [key, ''])),
      });
      stored = `Vault ${config.kv.mount}/delphi/config/{${['host', 'port', 'database', 'sslmode', ...(values.targetSessionAttrs ? ['target_session_attrs'] : []), ...Object.keys(files)].join(',')}} and the local config`;
    }
    const { sslrootcert: _root, sslcert: _cert, sslkey: _key, targetSessionAttrs: _attrs, ...kept } = file.database ?? {};
    const attrs = values.targetSessionAttrs ? { targetSessionAttrs: values.targetSessionAttrs } : {};
    await writeConfigFile(location.path, { ...file, database: { ...kept, host: values.host, port: values.port, name: values.database, sslmode: values.sslmode, ...attrs, ...files } });
    (await context.logger()).info({ ...values, local: Boolean(options.local) }, 'database configuration saved');
    if (options.json) writeJson(io, { host: values.host, port: (values.hosts[0] as HostPort).port, hosts: values.hosts, database: values.database, sslmode: values.sslmode, ...(values.targetSessionAttrs ? { targetSessionAttrs: values.targetSessionAttrs } : {}), storedIn: options.local ? ['local'] : ['vault', 'local'], file: location.path });
    else io.stdout.write(`saved ${describeHosts(values.hosts)}/${values.database} (sslmode=${values.sslmode}${values.targetSessionAttrs ? `, target_session_attrs=${values.targetSessionAttrs}` : ''}) to ${stored} (${location.path})\n`);
    return 0;
  },
});

interface DbConfigValues {
  /** As stored: one host, or libpq's list `a,b`; the port, or one per host `5432,5433`. */
  host: string;
  port: number | string;
  hosts: HostPort[];
  database: string;
  sslmode: SslMode;
  targetSessionAttrs?: TargetSessionAttrs;
}

/** Validates what the user gave; every problem is one line naming the flag. */
function validateDbConfig(raw: { host: string; port: string; database: string; sslmode: string; targetSessionAttrs?: string | undefined }): DbConfigValues {
  const hosts = parseHostList(raw.host, raw.port, isValidHost, { host: '--host', port: '--port' });
  if (!isValidDatabaseName(raw.database)) throw new UsageError(`--database ${quoted(raw.database)} is not a database name`, 'letters, digits, "_", "$" and "-", starting with a letter or "_"');
  if (!(SSL_MODES as readonly string[]).includes(raw.sslmode)) throw new UsageError(`--sslmode ${quoted(raw.sslmode)} is not an sslmode`, `use one of ${SSL_MODES.join(', ')}`);
  if (raw.targetSessionAttrs !== undefined && !isTargetSessionAttrs(raw.targetSessionAttrs)) {
    throw new UsageError(`--target-session-attrs ${quoted(raw.targetSessionAttrs)} is not valid`, `use one of ${TARGET_SESSION_ATTRS.join(', ')}`);
  }
  const listed = formatHostList(hosts);
  return {
    host: listed.host,
    port: hosts.length > 1 && listed.port.includes(',') ? listed.port : (hosts[0] as HostPort).port,
    hosts,
    database: raw.database,
    sslmode: raw.sslmode as SslMode,
    ...(raw.targetSessionAttrs ? { targetSessionAttrs: raw.targetSessionAttrs as TargetSessionAttrs } : {}),
  };
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
