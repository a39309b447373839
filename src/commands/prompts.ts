import { EosError, ExitCode } from '../errors.js';
import type { IO } from './io.js';

/** The user cancelled a prompt (Ctrl-C, Ctrl-D, or a signal from outside): nothing was saved. */
export class CancelledError extends EosError {
  constructor() {
    super('cancelled', { exitCode: ExitCode.cancelled, hint: 'nothing was saved' });
  }
}

/** What @inquirer/prompts takes as its context: the streams, and a signal that aborts the prompt. */
export interface PromptContext {
  input: IO['stdin'];
  output: IO['stdout'];
  signal: AbortSignal;
}

/** The errors @inquirer/prompts throws when a prompt is closed rather than answered. */
const CLOSED = new Set(['ExitPromptError', 'AbortPromptError', 'CancelPromptError']);

/**
 * Runs terminal prompts so that every way out is one way: Ctrl-C, Ctrl-D, an outside SIGINT or
 * SIGTERM all close the prompt through its own abort path (which restores the terminal's echo
 * and mode) and end the command with `cancelled`, exit 130.
 */
export async function withPrompts<T>(io: IO, ask: (context: PromptContext) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Ctrl-D closes the prompt's readline without settling the prompt: Node would then run out of
  // work and exit 0 in silence. That moment is the cancel.
  process.on('beforeExit', onSignal);
  try {
    return await ask({ input: io.stdin, output: io.stdout, signal: controller.signal });
  } catch (err) {
    if (err instanceof Error && CLOSED.has(err.name)) throw new CancelledError();
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('beforeExit', onSignal);
  }
}
