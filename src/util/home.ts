import { homedir } from 'node:os';

/**
 * The user's home directory as the given environment says: `$HOME`, else the system's record.
 * Read from the command's environment, not the process's, so a command run in-process with
 * another environment (a test's) finds its own config, token file and state, as a process would.
 */
export function homeOf(env: NodeJS.ProcessEnv): string {
  return env.HOME || homedir();
}
