import { homeOf } from '../util/home.js';
import type { CredentialSourceName } from '../config/constants.js';
import { parseSources } from './source-option.js';
import { checkToken } from '../config/token-value.js';
import { importEsm } from '../util/import-esm.js';
import type { VaultAuthConfig } from '../config/schema.js';
import { isEosError, quoted, UsageError } from '../errors.js';
import type { VaultAnswers } from '../setup/configure.js';
import { writeJson } from './output.js';
import { defineCommand, JSON_OPTION, type OptionValues } from './spec.js';
import { withPrompts, type PromptContext } from './prompts.js';
import { readStdin } from './stdin.js';

const AUTH_METHODS = ['token', 'token-file', 'approle', 'jwt'] as const;

const options = {
  addr: { flags: '--addr <url>', description: 'Vault address (default: $VAULT_ADDR)' },
  auth: { flags: '--auth <method>', description: 'how to authenticate', choices: AUTH_METHODS },
  tokenStdin: { flags: '--token-stdin', description: 'read a token from standard input and save it to ~/.vault-token (0600)' },
  tokenFile: { flags: '--token-file <file>', description: 'with --auth token-file: the file holding the token' },
  roleId: { flags: '--role-id <id>', description: 'with --auth approle: the role-id (default: $VAULT_ROLE_ID)' },
  secretIdFile: { flags: '--secret-id-file <file>', description: 'with --auth approle: the file holding the secret-id (default: $EOS_SECRET_ID_FILE)' },
  secretIdWrapped: { flags: '--secret-id-wrapped', description: 'with --auth approle: the file holds a wrapping token around the secret-id (found by itself when it looks like one); unwrapped once, at the first login' },
  approleMount: { flags: '--approle-mount <path>', description: 'with --auth approle: where AppRole is mounted', default: 'approle' },
  role: { flags: '--role <name>', description: 'with --auth jwt: the Vault role of the JWT auth method (default: $EOS_JWT_ROLE)' },
  jwtFile: { flags: '--jwt-file <file>', description: 'with --auth jwt: a file holding the identity token, read at every login (default: $EOS_JWT_FILE)' },
  jwtEnv: { flags: '--jwt-env <variable>', description: 'with --auth jwt: the variable holding the identity token (GitLab id_tokens)' },
  githubOidc: { flags: '--github-oidc', description: "with --auth jwt: ask GitHub Actions for the identity token (needs permissions: id-token: write)" },
  audience: { flags: '--audience <aud>', description: 'with --github-oidc: the audience to ask for' },
  mount: { flags: '--mount <path>', description: 'with --auth jwt: where the JWT auth method is mounted (default: $EOS_JWT_MOUNT, else jwt)' },
  caCert: { flags: '--ca-cert <file>', description: "CA bundle that signed Vault's certificate" },
  sources: { flags: '--sources <list>', description: 'credential sources this host allows, in order, e.g. dynamic or dynamic,kv (default with --yes: dynamic alone, failing closed)' },
  namespace: { flags: '--namespace <ns>', description: 'Vault namespace' },
  tlsSkipVerify: { flags: '--tls-skip-verify', description: "do not verify Vault's TLS certificate (test servers only)" },
  yes: { flags: '-y, --yes', description: 'never prompt; take flags, environment and defaults' },
  force: { flags: '--force', description: 'save even if Vault cannot be reached or the credentials are refused' },
  json: JSON_OPTION,
} as const;
type ConfigureOptions = OptionValues<typeof options>;

/** `eos self secrets configure`: ask (on a terminal) or take flags, prove it works, save. */
export default defineCommand({
  path: ['self', 'secrets', 'configure'],
  description: 'set the Vault address and auth method; proves they work before saving',
  options,
  examples: [
    'vault print token | eos self secrets configure --addr https://vault.example.com:8200 --auth token --token-stdin',
    'eos self secrets configure --yes --addr https://vault:8200 --auth approle --role-id 7d1f… --secret-id-file /etc/eos/secret-id',
    'eos self secrets configure --yes --addr https://vault:8200 --auth jwt --role delphi-ci --github-oidc --audience https://github.com/delphi',
  ],
  async run(options, context) {
    const [{ saveConfiguration, verifyVault }, { plainHttpWarning, skipVerifyWarning }] = await Promise.all([import('../setup/configure.js'), import('../config/vault-settings.js')]);
    const { io } = context;
    const { config, location, input: current } = context.config({ creating: true });
    const interactive = io.stdinIsTTY && io.stdoutIsTTY && !options.yes && !options.tokenStdin;

    const answers = interactive ? await withPrompts(io, (prompt) => ask(options, config.vault, io.env, prompt)) : fromFlags(options, config.vault.address, config.vault.auth, io.env);
    // Which fallbacks this host allows is a decision, made here: a host set up for Vault fails
    // closed (dynamic alone) unless told otherwise, and a file that already says keeps it.
    answers.sources = parseSources(options.sources, '--sources') ?? current.credentials?.sources ?? (interactive ? await withPrompts(io, (prompt) => askSources(prompt)) : ['dynamic']);
    if (options.tokenStdin) {
      const token = (await readStdin(io.stdin)).trim();
      if (token === '') throw new UsageError('--token-stdin was given but standard input was empty', 'pipe the token in: vault print token | eos self secrets configure --token-stdin …');
      answers.token = checkToken(token, 'standard input');
    }
    if (answers.tlsSkipVerify) io.stderr.write('warning: TLS verification will be skipped for Vault: use this only for a test server\n');
    const plain = plainHttpWarning(answers.address);
    if (plain) context.warn(plain);

    let verified: Awaited<ReturnType<typeof verifyVault>> | undefined;
    try {
      verified = await verifyVault(answers, config, io.env);
      for (const warning of verified.warnings) context.warn(warning);
      // VAULT_SKIP_VERIFY from the environment is as unsafe as the flag: said the same way.
      if (verified.settings.tlsSkipVerify && !answers.tlsSkipVerify) context.warn(skipVerifyWarning(answers.address));
    } catch (err) {
      if (!options.force || !isEosError(err)) throw err;
      io.stderr.write(`warning: saving anyway (--force), although: ${err.message}\n`);
    }
    const saved = await saveConfiguration(location.path, current, answers, homeOf(io.env));
    (await context.logger()).info({ file: location.path, address: answers.address, auth: answers.auth.method, verified: Boolean(verified) }, 'vault configuration saved');

    const report = {
      file: location.path,
      address: answers.address,
      auth: answers.auth.method,
      verified: Boolean(verified),
      vaultVersion: verified?.health.version ?? null,
      tokenPolicies: verified?.token?.policies ?? null,
      tokenTtl: verified?.token?.ttl ?? null,
      tokenFile: saved.tokenFile ?? null,
    };
    if (options.json) {
      writeJson(io, report);
    } else {
      if (verified?.token) {
        const ttl = verified.token.ttl === 0 ? 'no expiry' : `TTL ${verified.token.ttl} s`;
        io.stdout.write(`✓ Vault ${verified.health.version} at ${answers.address} answers; token ok (policies ${verified.token.policies.join(', ')}, ${ttl})\n`);
      } else if (verified?.wrappedSecretId) {
        const w = verified.wrappedSecretId;
        io.stdout.write(`✓ Vault ${verified.health.version} at ${answers.address} answers; the wrapped secret-id is valid (made by ${w.creationPath}, TTL ${w.ttl} s) and is unwrapped at the first login, not now\n`);
      }
      io.stdout.write(`saved ${location.path}${saved.tokenFile ? ` and the token to ${saved.tokenFile}` : ''}\n`);
    }
    return 0;
  },
});

function fromFlags(options: ConfigureOptions, currentAddr: string | undefined, currentAuth: VaultAuthConfig | undefined, env: NodeJS.ProcessEnv): VaultAnswers {
  const address = options.addr ?? env.VAULT_ADDR ?? env.BAO_ADDR ?? currentAddr;
  if (!address) throw new UsageError('no terminal to ask for the Vault address: pass --addr (or set VAULT_ADDR)', 'e.g. eos self secrets configure --addr https://vault.example.com:8200 --auth token --token-stdin');
  return {
    address,
    auth: authFromFlags(options, currentAuth, env),
    caCert: options.caCert,
    namespace: options.namespace,
    tlsSkipVerify: options.tlsSkipVerify,
  };
}

function authFromFlags(options: ConfigureOptions, current: VaultAuthConfig | undefined, env: NodeJS.ProcessEnv): VaultAuthConfig {
  const method = options.auth ?? current?.method ?? 'token';
  if (!(AUTH_METHODS as readonly string[]).includes(method)) throw new UsageError(`--auth ${quoted(method)} is not an auth method`, 'use token, token-file or approle');
  if (method === 'approle') {
    // A CI job gives them as variables, so that nothing of the login is in its argv.
    const roleId = options.roleId ?? nonEmpty(env.VAULT_ROLE_ID) ?? (current?.method === 'approle' ? current.roleId : undefined);
    const secretIdFile = options.secretIdFile ?? nonEmpty(env.EOS_SECRET_ID_FILE) ?? (current?.method === 'approle' ? current.secretIdFile : undefined);
    if (!roleId) throw new UsageError('--role-id is required with --auth approle', 'give the AppRole role-id with --role-id or $VAULT_ROLE_ID (vault read auth/approle/role/<name>/role-id)');
    if (!secretIdFile) throw new UsageError('--secret-id-file is required with --auth approle', 'name a 0600 file holding the secret-id (--secret-id-file or $EOS_SECRET_ID_FILE); the secret-id itself is never put on a command line');
    return { method, roleId, secretIdFile, mount: options.approleMount ?? 'approle', ...(options.secretIdWrapped ? { secretIdWrapped: true } : {}) };
  }
  if (method === 'jwt') return jwtFromFlags(options, current, env);
  if (method === 'token-file') {
    const file = options.tokenFile ?? (current?.method === 'token-file' ? current.path : undefined);
    if (!file) throw new UsageError('--token-file is required with --auth token-file', 'name the file that holds the token');
    return { method, path: file };
  }
  return { method: 'token' };
}

async function ask(options: ConfigureOptions, vault: { address?: string; auth?: VaultAuthConfig; caCert?: string; namespace?: string }, env: NodeJS.ProcessEnv, context: PromptContext): Promise<VaultAnswers> {
  const { input, password, select } = await importEsm('./prompts.js', () => import('@inquirer/prompts'));
  const address =
    options.addr ??
    (await input(
      {
        message: 'Vault address',
        default: env.VAULT_ADDR ?? vault.address ?? 'https://127.0.0.1:8200',
        validate: (v) => (/^https?:\/\/[^/]+/.test(v.trim()) ? true : 'an http:// or https:// URL, e.g. https://vault.example.com:8200'),
      },
      context,
    )).trim();
  const method = (options.auth ??
    (await select(
      {
        message: 'How does eos authenticate to Vault?',
        default: vault.auth?.method ?? 'token',
        choices: [
          { name: 'a token (VAULT_TOKEN or ~/.vault-token)', value: 'token' },
          { name: 'a token kept in another file', value: 'token-file' },
          { name: 'AppRole (role-id + secret-id file)', value: 'approle' },
          { name: 'JWT: an identity token file (Kubernetes, CI)', value: 'jwt' },
        ],
      },
      context,
    ))) as VaultAuthConfig['method'];
  let auth: VaultAuthConfig;
  let token: string | undefined;
  if (method === 'approle') {
    const roleId = options.roleId ?? (await input({ message: 'AppRole role-id', validate: (v) => v.trim() !== '' || 'required' }, context)).trim();
    const secretIdFile = options.secretIdFile ?? (await input({ message: 'File holding the secret-id', validate: (v) => v.trim() !== '' || 'required' }, context)).trim();
    auth = { method, roleId, secretIdFile, mount: options.approleMount ?? 'approle' };
  } else if (method === 'jwt') {
    const role = options.role ?? (await input({ message: 'Vault role of the JWT auth method', validate: (v) => v.trim() !== '' || 'required' }, context)).trim();
    const file = options.jwtFile ?? (await input({ message: 'File holding the identity token', default: '/var/run/secrets/kubernetes.io/serviceaccount/token' }, context)).trim();
    auth = { method, role, mount: options.mount ?? 'jwt', identityToken: { from: 'file', path: file } };
  } else {
    auth = method === 'token-file' ? { method, path: options.tokenFile ?? (await input({ message: 'Token file', validate: (v) => v.trim() !== '' || 'required' }, context)).trim() } : { method: 'token' };
    const entered = await password({ message: 'Vault token (hidden; leave empty to use VAULT_TOKEN or the token file)', mask: '*' }, context);
    token = entered.trim() === '' ? undefined : checkToken(entered.trim(), 'the prompt');
  }
  const caCert = options.caCert ?? ((await input({ message: 'CA bundle for Vault\'s TLS certificate (empty: system CAs)', default: vault.caCert ?? '' }, context)).trim() || undefined);
  const namespace = options.namespace ?? ((await input({ message: 'Namespace (empty: none)', default: vault.namespace ?? '' }, context)).trim() || undefined);
  return { address, auth, token, caCert, namespace, tlsSkipVerify: options.tlsSkipVerify };
}

/** The fallbacks this host allows, asked once on a terminal. */
async function askSources(context: PromptContext): Promise<CredentialSourceName[]> {
  const { input } = await importEsm('./prompts.js', () => import('@inquirer/prompts'));
  const text = await input(
    {
      message: 'Credential sources, in order (dynamic alone fails closed; add kv, env or defaults to fall back when Vault cannot serve)',
      default: 'dynamic',
      validate: (v: string) => {
        try {
          parseSources(v, 'sources');
          return true;
        } catch (err) {
          return (err as Error).message;
        }
      },
    },
    context,
  );
  return parseSources(text, 'sources') ?? ['dynamic'];
}

/** --auth jwt: the role, and where the identity token comes from (exactly one source). */
function jwtFromFlags(options: ConfigureOptions, current: VaultAuthConfig | undefined, env: NodeJS.ProcessEnv): VaultAuthConfig {
  const previous = current?.method === 'jwt' ? current : undefined;
  const role = options.role ?? nonEmpty(env.EOS_JWT_ROLE) ?? previous?.role;
  if (!role) throw new UsageError('--role is required with --auth jwt', 'name the role of the JWT auth method (--role or $EOS_JWT_ROLE): vault list auth/jwt/role');
  const given = [options.jwtFile !== undefined, options.jwtEnv !== undefined, Boolean(options.githubOidc)].filter(Boolean).length;
  if (given > 1) throw new UsageError('give one of --jwt-file, --jwt-env and --github-oidc', 'the identity token comes from one place');
  if (options.audience !== undefined && !options.githubOidc) throw new UsageError('--audience goes with --github-oidc', 'other platforms put the audience in the token they write');
  const fileFromEnv = nonEmpty(env.EOS_JWT_FILE);
  const identityToken =
    options.jwtFile !== undefined
      ? { from: 'file' as const, path: options.jwtFile }
      : options.jwtEnv !== undefined
        ? { from: 'env' as const, name: options.jwtEnv }
        : options.githubOidc
          ? { from: 'github' as const, ...(options.audience ? { audience: options.audience } : {}) }
          : fileFromEnv
            ? { from: 'file' as const, path: fileFromEnv }
            : previous?.identityToken;
  if (!identityToken) {
    throw new UsageError('--auth jwt needs the identity token: --jwt-file, --jwt-env or --github-oidc', 'e.g. --jwt-file /var/run/secrets/kubernetes.io/serviceaccount/token, or --github-oidc in GitHub Actions');
  }
  if (identityToken.from === 'env' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(identityToken.name)) {
    throw new UsageError(`--jwt-env ${quoted(identityToken.name)} is not a variable name`, 'give the name, not the value: --jwt-env VAULT_ID_TOKEN');
  }
  return { method: 'jwt', role, mount: options.mount ?? nonEmpty(env.EOS_JWT_MOUNT) ?? previous?.mount ?? 'jwt', identityToken };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
