/**
 * Which command an argv runs, read without commander: the executable keys its code cache by it
 * before anything is loaded (src/code-cache.ts), and the program mounts only that command on
 * commander (program.ts). Imports nothing, so `cli.ts` can carry it.
 */

/** Every command's path, as `eos --help` lists them (a unit test holds it to the program's). */
export const COMMAND_PATHS = [
  'self config show',
  'self secrets configure',
  'self secrets set delphi-db-config',
  'self secrets set delphi-db-engine',
  'self secrets test',
  'self secrets status',
  'self secrets audit',
  'self secrets exec',
  'self secrets env',
  'self secrets get',
  'delphi dashboard',
  'delphi schema status',
  'delphi schema apply',
  'delphi schema verify',
  'sandbox',
] as const;

/** The root options that take a value, to be skipped before the command's words. */
const GLOBAL_OPTIONS_WITH_VALUE = new Set(['--config', '--log-file', '--log-level']);

/** The command an argv runs, or undefined (help, a typo, nothing): only those get a cache. */
export function commandOf(argv: readonly string[]): string | undefined {
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h' || arg === '--') break;
    if (arg.startsWith('-')) {
      if (GLOBAL_OPTIONS_WITH_VALUE.has(arg)) i++;
      continue;
    }
    words.push(arg);
    if (words.length === 4) break;
  }
  return COMMAND_PATHS.find((command) => command.split(' ').every((word, i) => words[i] === word));
}
