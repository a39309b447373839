import { describeHosts } from '../db/hosts.js';
import { writeJson } from './output.js';
import { defineCommand, JSON_OPTION } from './spec.js';

/** `eos self secrets status`: configuration, health, the source that would serve, held leases. */
export default defineCommand({
  path: ['self', 'secrets', 'status'],
  description: 'configuration, Vault health, token, the source that would be used, and leases held by running eos processes; never issues credentials',
  options: { json: JSON_OPTION },
  examples: ['eos self secrets status', 'eos self secrets status --json | jq .wouldUse'],
  async run(options, context) {
    const [{ collectStatus }, { resolveVaultSettings, settingsWarnings }] = await Promise.all([import('../setup/status.js'), import('../config/vault-settings.js')]);
    const { io } = context;
    // What every command that opens a session says, status says too (on stderr, JSON or not).
    for (const warning of settingsWarnings(resolveVaultSettings({}, io.env, context.config().config))) context.warn(warning);
    const report = await collectStatus(context.config(), io.env);
    if (options.json) {
      writeJson(io, report);
      return report.exitCode;
    }
    const line = (key: string, value: string) => io.stdout.write(`${key.padEnd(14)} ${value}\n`);
    line('config', `${report.config.file}${report.config.present ? '' : ' (not present: defaults)'}`);
    line('vault', `${report.config.vaultAddress}: ${report.vault.ok ? `ok, version ${report.vault.version}${report.vault.standby ? ' (standby)' : ''}` : `✗ ${report.vault.error}`}`);
    if (report.vault.hint) line('', `hint: ${report.vault.hint}`);
    line('token', report.token.ok ? `ok (${report.token.source}); ${report.token.ttl === 0 ? 'no expiry' : `TTL ${report.token.ttl} s${report.token.renewable ? ', renewable' : ', not renewable'}`}; policies ${report.token.policies?.join(', ')}` : `✗ ${report.token.error ?? 'not checked'}`);
    if (report.token.hint && report.token.hint !== report.vault.hint) line('', `hint: ${report.token.hint}`);
    const engine = report.engine;
    const notChecked = `not checked (${report.vault.ok ? 'the token was refused' : 'Vault unreachable'})`;
    // null: this token may not look (a least-privilege token need not).
    const known = (value: boolean | null, yes: string, no: string) => (value === null ? 'not visible to this token' : value ? yes : no);
    line('engine', !engine.checked ? notChecked : engine.error ? `✗ ${engine.error}` : `${known(engine.mounted, 'mounted', 'not mounted')}; role ${known(engine.role, 'present', 'missing')}; connection ${known(engine.connection, 'present', 'missing')}`);
    for (const missing of engine.missing ?? []) line('capability', `✗ ${missing}`);
    if (report.databaseError) line('database', `✗ ${report.databaseError}`);
    if (report.database) {
      const d = report.database;
      const several = d.hosts.length > 1 ? ` target_session_attrs=${d.targetSessionAttrs} (${d.hosts.length} hosts: which is the primary is asked at each connection)` : '';
      line('database', `${describeHosts(d.hosts)}/${d.database} sslmode=${d.sslmode}${several} (host from ${d.origins.host})`);
    }
    for (const s of report.sources) line(`source ${s.source}`, `${s.available ? '✓' : '✗'} ${s.reason}`);
    line('would use', report.wouldUse ?? 'nothing: no allowed source can serve');
    if (report.leases.length === 0) line('leases', 'no running eos process holds a lease');
    for (const l of report.leases) {
      const confirmed = l.confirmed === true ? `confirmed, TTL ${l.ttl} s` : l.confirmed === false ? 'NOT found in Vault' : (l.unconfirmedWhy ?? 'not confirmed');
      const next = l.nextAction && l.nextActionAt ? `${l.nextAction} at ${l.nextActionAt}` : 'nothing scheduled';
      const on = l.database ? `; database ${l.database.host}${l.database.standby === null ? '' : l.database.standby ? ' (a standby when chosen)' : ' (the primary when chosen)'}` : '';
      line('lease', `${l.lease} held by pid ${l.pid} (${l.command}); ${confirmed}; expires ${l.expiresAt}; last renewal ${l.lastRenewalAt ?? '-'}; next: ${next}; ${l.rotations} rotation(s)${on}`);
    }
    return report.exitCode;
  },
});
