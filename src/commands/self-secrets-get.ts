import { quoted, UsageError } from '../errors.js';
import { MASK, maskExceptMetadata, shortLeaseId } from '../redact.js';
import { checkSecretPath } from '../config/vault-names.js';
import { writeJson } from './output.js';
import { defineCommand, JSON_OPTION } from './spec.js';

/** `eos self secrets get <path>`: read a Vault path, values masked unless --reveal. */
export default defineCommand({
  path: ['self', 'secrets', 'get'],
  description: 'read a Vault path: KV v1/v2, database/creds/<role>, or any other; values masked',
  arguments: [{ name: '<path>', description: 'logical path, e.g. secret/delphi/database/password or database/creds/delphi-readonly' }],
  options: {
    field: { flags: '--field <name>', description: 'print one field only (masked unless --reveal)' },
    reveal: { flags: '--reveal', description: 'print secret values in clear' },
    keep: { flags: '--keep', description: 'keep the lease of issued credentials instead of revoking it at exit' },
    json: JSON_OPTION,
  },
  examples: [
    'eos self secrets get secret/delphi/config/host',
    'eos self secrets get database/creds/delphi-readonly --json',
    'eos self secrets get secret/delphi/database/password --field value --reveal',
  ],
  async run(options, context, args) {
    const { readSecret } = await import('../vault/read-secret.js');
    const { io } = context;
    const target = args[0];
    if (!target) throw new UsageError('a path is required', 'e.g. eos self secrets get secret/delphi/database/password');
    checkSecretPath(target);
    const session = await context.vault();
    const secret = await readSecret(session.client, target);
    if (secret.lease) (await context.logger()).info({ path: target, lease: shortLeaseId(secret.lease.id), ttl: secret.lease.duration }, 'lease issued');
    if (options.reveal) context.warn('printing secret values in clear (--reveal)');

    // A KV value is a secret by nature: masked. Elsewhere only what eos knows to be metadata is
    // shown (TTLs, lease, names, policies, versions, times: SHOWN_METADATA in redact.ts);
    // everything else is masked, a token's own `id` included.
    const shown = (key: string, value: unknown): unknown => {
      if (options.reveal) return value;
      if (secret.kind === 'kv') return MASK;
      return (maskExceptMetadata({ [key]: value }) as Record<string, unknown>)[key];
    };

    if (options.field !== undefined) {
      if (!(options.field in secret.data)) {
        throw new UsageError(`${target} has no field ${quoted(options.field)}`, `its fields: ${Object.keys(secret.data).join(', ') || 'none'}`);
      }
      const value = shown(options.field, secret.data[options.field]);
      io.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value)}\n`);
    } else if (options.json) {
      writeJson(io, {
        path: target,
        kind: secret.kind,
        kvVersion: secret.kvVersion ?? null,
        lease: secret.lease ? { ...secret.lease, kept: Boolean(options.keep) } : null,
        warnings: secret.warnings,
        data: Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, shown(k, v)])),
      });
    } else {
      const rows: [string, string][] = [];
      if (secret.lease) {
        rows.push(['lease_id', secret.lease.id], ['lease_duration', `${secret.lease.duration}s`], ['lease_renewable', String(secret.lease.renewable)]);
      }
      for (const [k, v] of Object.entries(secret.data)) {
        const value = shown(k, v);
        rows.push([k, typeof value === 'string' ? value : JSON.stringify(value)]);
      }
      const width = Math.max(3, ...rows.map(([k]) => k.length));
      io.stdout.write(`${'Key'.padEnd(width)}  Value\n${'---'.padEnd(width)}  -----\n`);
      for (const [k, v] of rows) io.stdout.write(`${k.padEnd(width)}  ${v}\n`);
      for (const w of secret.warnings) io.stderr.write(`warning from Vault: ${w}\n`);
    }

    if (secret.lease) {
      if (options.keep) {
        io.stderr.write(`lease kept: ${secret.lease.id} (TTL ${secret.lease.duration} s); revoke it with: vault lease revoke ${secret.lease.id}\n`);
      } else {
        await session.client.revokeLease(secret.lease.id);
        (await context.logger()).info({ lease: shortLeaseId(secret.lease.id) }, 'lease revoked');
        if (!options.json && options.field === undefined) io.stderr.write('lease revoked (use --keep to keep it)\n');
      }
    }
    return 0;
  },
});
