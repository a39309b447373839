import { runSelfTest } from '../setup/self-test.js';
import type { CommandContext } from './context.js';
import { writeJson } from './output.js';

export interface TestOptions {
  role?: string;
  json?: boolean;
}

const MARK = { pass: '✓', fail: '✗', warn: '!', skip: '-', info: 'i' } as const;

/** `eos self secrets test`: the end-to-end checklist; exit 0 only when every essential step passed. */
export async function run(options: TestOptions, context: CommandContext): Promise<number> {
  const { io } = context;
  const { config, location } = context.config();
  const steps = await runSelfTest({ config, configFile: location.path, env: io.env, role: options.role });
  const ok = steps.every((s) => !s.essential || s.status === 'pass' || s.status === 'warn');
  context.logger().info({ ok, failed: steps.filter((s) => s.status === 'fail').map((s) => s.id) }, 'self test finished');
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
}
