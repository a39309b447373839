/**
 * npm run bench:startup — how long the built CLI takes to start and finish, against a bare
 * `node -e 0`, run as a user runs it (a new process each time). The commands take turns, round
 * after round (interleaved, so a drift of the machine's speed hits them all alike); medians of
 * wall time and their ratios to `node -e 0` go to stdout, one JSON line per environment:
 * `clean` (PATH, HOME and the sandbox's variables only) and `inherited` (this shell's whole
 * environment too). They differ where the environment makes every node process slower to start
 * — NODE_EXTRA_CA_CERTS, for one, loads a CA bundle before any script runs — which moves
 * `node -e 0` and every command by the same absolute amount.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSandbox } from '../src/sandbox/sandbox.js';
import { percentile } from './load.js';

const rounds = Number(process.env.BENCH_RUNS ?? 21);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
// BENCH_CLI names another build to compare (e.g. an older checkout's dist/cli.js).
const cli = process.env.BENCH_CLI ?? path.join(root, 'dist', 'cli.js');

function timeRun(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    // Asynchronous: the sandbox's Vault-API dev server answers from this very process.
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(performance.now() - start) : reject(new Error(`${args.join(' ')} exited ${code}: ${stderr}`))));
  });
}

const sandbox = await startSandbox({ ttl: 3600, maxTtl: 7200, sampleAlerts: 0, progress: (l) => process.stderr.write(`${l}\n`) });
try {
  const sandboxEnv = { VAULT_ADDR: sandbox.vaultAddr, VAULT_TOKEN: sandbox.rootToken, EOS_CONFIG: sandbox.configFile, EOS_LOG_FILE: path.join(path.dirname(sandbox.configFile), 'eos.log') };
  const environments: Record<string, NodeJS.ProcessEnv> = {
    clean: { PATH: process.env.PATH, HOME: process.env.HOME, ...sandboxEnv },
    inherited: { ...process.env, ...sandboxEnv },
  };
  const commands: Record<string, string[]> = {
    'node -e 0': ['-e', '0'],
    'eos --version': [cli, '--version'],
    'eos self secrets get secret/delphi/config/host': [cli, 'self', 'secrets', 'get', 'secret/delphi/config/host'],
    'eos self secrets status': [cli, 'self', 'secrets', 'status'],
  };
  for (const [environment, env] of Object.entries(environments)) {
    const times = new Map<string, number[]>(Object.keys(commands).map((name) => [name, []]));
    for (const args of Object.values(commands)) await timeRun(args, env); // warm-up: disk cache, dev server
    for (let round = 0; round < rounds; round++) {
      for (const [name, args] of Object.entries(commands)) times.get(name)?.push(await timeRun(args, env));
    }
    const median = (name: string) => percentile(times.get(name) ?? [], 50);
    const base = median('node -e 0');
    const results = Object.keys(commands).map((name) => ({
      command: name,
      medianMs: Math.round(median(name) * 10) / 10,
      minMs: Math.round(Math.min(...(times.get(name) ?? [])) * 10) / 10,
      ratio: Math.round((median(name) / base) * 100) / 100,
      overNodeMs: Math.round((median(name) - base) * 10) / 10,
    }));
    const notable = ['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS'].filter((name) => env[name] !== undefined);
    process.stdout.write(`${JSON.stringify({ bench: 'startup', environment, notable, node: process.version, rounds, results })}\n`);
  }
} finally {
  await sandbox.stop();
}
