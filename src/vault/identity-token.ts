import { readFile } from 'node:fs/promises';
import { PermissionDeniedError, UsageError } from '../errors.js';

/**
 * The identity token a CI platform or Kubernetes hands a job, read afresh for every login: a
 * projected service-account token file is rotated by the kubelet, a GitHub token is minted per
 * request. It is a secret: it goes to Vault's login and nowhere else.
 */
export type IdentityTokenSource = { from: 'file'; path: string } | { from: 'env'; name: string } | { from: 'github'; audience?: string | undefined };

export function describeIdentityTokenSource(source: IdentityTokenSource): string {
  if (source.from === 'file') return `the file ${source.path}`;
  if (source.from === 'env') return `$${source.name}`;
  return `GitHub Actions' OIDC token${source.audience ? ` (audience ${source.audience})` : ''}`;
}

export async function readIdentityToken(source: IdentityTokenSource, env: NodeJS.ProcessEnv, fetchImpl: typeof fetch = fetch): Promise<string> {
  if (source.from === 'file') {
    let text: string;
    try {
      text = await readFile(source.path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new UsageError(
        `the identity token file ${source.path} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(err)})`}`,
        'name the file the platform writes (e.g. a projected service-account token): eos self secrets configure --auth jwt --jwt-file <path>',
      );
    }
    if (text.trim() === '') throw new UsageError(`the identity token file ${source.path} is empty`, 'the platform writes it; check the volume or the job');
    return text.trim();
  }
  if (source.from === 'env') {
    const value = env[source.name]?.trim() ?? '';
    if (value === '') throw new UsageError(`$${source.name} holds no identity token`, `set it in the job (GitLab: id_tokens: { ${source.name}: { aud: … } })`);
    return value;
  }
  const url = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const bearer = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!url || !bearer) {
    throw new UsageError('GitHub Actions offers no OIDC token here: ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN are not set', 'give the job `permissions: id-token: write`');
  }
  const request = source.audience ? `${url}${url.includes('?') ? '&' : '?'}audience=${encodeURIComponent(source.audience)}` : url;
  let res: Response;
  try {
    res = await fetchImpl(request, { headers: { Authorization: `Bearer ${bearer}`, Accept: 'application/json' }, signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new PermissionDeniedError(`cannot get GitHub's OIDC token: ${(err as Error).message}`, 'the runner must reach its token service; retry the job');
  }
  if (!res.ok) throw new PermissionDeniedError(`GitHub refused the OIDC token request (HTTP ${res.status})`, 'give the job `permissions: id-token: write`');
  const body = (await res.json().catch(() => null)) as { value?: unknown } | null;
  if (typeof body?.value !== 'string' || body.value === '') throw new PermissionDeniedError('GitHub answered the OIDC token request without a token', 'retry the job');
  return body.value;
}
