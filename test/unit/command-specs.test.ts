import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildProgram, COMMANDS, commandsFor } from '../../src/commands/program.js';
import type { IO } from '../../src/commands/io.js';

function io(): IO {
  return { stdout: new PassThrough(), stderr: new PassThrough(), stdin: new PassThrough(), env: {}, stdoutIsTTY: false, stdinIsTTY: false };
}

/** The specs as the CLI mounts them: each command's flags and examples live in its own module. */
describe('command specs', () => {
  it('mount on commander with every option keyed by the name commander gives it', () => {
    const program = buildProgram(io(), { exitCode: 0 }, '0.0.0-test');
    for (const spec of COMMANDS) {
      let command = program;
      for (const word of spec.path) command = command.commands.find((c) => c.name() === word) ?? expect.fail(`${spec.path.join(' ')} is not mounted`);
      expect(command.options.map((o) => o.attributeName()).sort()).toEqual(Object.keys(spec.options).sort());
    }
  });

  it('give every command a description and one to three examples that start with eos', () => {
    for (const spec of COMMANDS) {
      expect(spec.description.length, spec.path.join(' ')).toBeGreaterThan(10);
      expect(spec.examples.length, spec.path.join(' ')).toBeGreaterThanOrEqual(1);
      expect(spec.examples.length, spec.path.join(' ')).toBeLessThanOrEqual(3);
      for (const example of spec.examples) expect(example).toMatch(/\beos /);
    }
  });

  it('hand a run its parsed options with defaults and choices applied', async () => {
    const seen: unknown[] = [];
    const spec = COMMANDS.find((s) => s.path.join(' ') === 'self secrets set delphi-db-engine');
    if (!spec) return expect.fail('set delphi-db-engine is missing');
    // A copy of the spec with a run of the test's own: the shared specs stay as they are.
    const recording = { ...spec, run: async (options: unknown) => void seen.push(options) };
    const program = buildProgram(io(), { exitCode: 0 }, '0.0.0-test', [recording]);
    await program.parseAsync(['self', 'secrets', 'set', 'delphi-db-engine', '--apply', '--max-ttl', '2h', '--sslmode', 'require'], { from: 'user' });
    expect(seen).toEqual([expect.objectContaining({ apply: true, maxTtl: '2h', statements: 'group', sslmode: 'require', group: 'delphi_readonly' })]);
    // No default: a role that exists keeps its own TTL unless one is given.
    expect((seen[0] as { defaultTtl?: string }).defaultTtl).toBeUndefined();
  });
});

describe('which commands a run mounts', () => {
  it('only the command argv names exactly; every command for help of the root or a group, or a typo', () => {
    const paths = (argv: string[]) => commandsFor(argv).map((s) => s.path.join(' '));
    expect(paths(['self', 'secrets', 'get', 'secret/x', '--json'])).toEqual(['self secrets get']);
    expect(paths(['self', 'secrets', 'set', 'delphi-db-engine', '--help'])).toEqual(['self secrets set delphi-db-engine']);
    // Root options before the command are read past, as commander reads them.
    expect(paths(['--debug', '--config', 'f.json', 'self', 'secrets', 'status'])).toEqual(['self secrets status']);
    expect(paths(['self', 'secrets'])).toHaveLength(COMMANDS.length);
    expect(paths(['self', 'secrets', 'gte'])).toHaveLength(COMMANDS.length);
    expect(paths([])).toHaveLength(COMMANDS.length);
  });
});
