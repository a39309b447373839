import { writeJson } from './output.js';
import { checkRoleName } from '../config/vault-names.js';
import { defineCommand, JSON_OPTION } from './spec.js';

const MARK = { pass: '✓', fail: '✗', warn: '!', skip: '-', info: 'i' } as const;

/** `eos self secrets test`: the end-to-end checklist; exit 0 only when every essential step passed. */
export default defineCommand({
  path: ['self', 'secrets', 'test'],
  description: 'end-to-end check: Vault, token, engine, role, issue, connect, read-only, renew, revoke, role gone',
  options: {
    role: { flags: '--role <name>', description: 'the Vault role to test (default: engine.role in the config)' },
    json: JSON_OPTION,
  },
  examples: ['eos self secrets test', 'eos self secrets test --role delphi-worker --json'],
  async run(options, context) {
    const [{ runSelfTest }, { resolveVaultSettings }] = await Promise.all([import('../setup/self-test.js'), import('../config/vault-settings.js')]);
    const { io } = context;
    const { config } = context.config();
    // A malformed setting (a token with a line break, an address that is no URL) is the user's
    // input, refused with exit 2 before any step — not a failed step.
    resolveVaultSettings({}, io.env, config);
    const steps = await runSelfTest({ config, env: io.env, role: options.role === undefined ? undefined : checkRoleName(options.role, '--role') });
    const ok = steps.every((s) => !s.essential || s.status === 'pass' || s.status === 'warn' || s.status === 'info');
    (await context.logger()).info({ ok, failed: steps.filter((s) => s.status === 'fail').map((s) => s.id) }, 'self test finished');
    if (options.json) {
      writeJson(io, { ok, steps });
    } else {
      for (const s of steps) {
        io.stdout.write(`${MARK[s.status]} ${s.title}${s.status === 'skip' ? ' (skipped)' : ` (${s.ms} ms)`}${s.detail ? `: ${s.detail}` : ''}\n`);
        if (s.hint && (s.status === 'fail' || s.status === 'warn')) io.stdout.write(`    hint: ${s.hint}\n`);
      }
      io.stdout.write(ok ? 'all essential checks passed\n' : `failed at: ${steps.find((s) => s.status === 'fail')?.title}\n`);
    }
    return ok ? 0 : 1;
  },
});
