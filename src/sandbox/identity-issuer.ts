import { rename, writeFile } from 'node:fs/promises';
import { exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose';

/**
 * A local identity-token issuer for the sandbox: what GitHub Actions, GitLab CI or the kubelet
 * are to a real job. It signs short-lived JWTs and keeps a token file fresh, rewriting it as a
 * projected service-account token is rewritten, so a JWT login can be tried on one machine.
 */

export const SANDBOX_ISSUER = 'https://eos-sandbox.invalid';
export const SANDBOX_AUDIENCE = 'eos-sandbox';

export interface IdentityIssuer {
  /** The public key, for the JWT auth method's jwt_validation_pubkeys. */
  publicKeyPem: string;
  /** A fresh token for `sub`, valid for `ttlSeconds`. */
  sign(sub: string, ttlSeconds: number): Promise<string>;
  /** Writes a fresh token to `file` now and every `everySeconds`, until stop(). */
  keepFile(file: string, sub: string, everySeconds: number): Promise<void>;
  stop(): void;
}

export async function startIdentityIssuer(): Promise<IdentityIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const publicKeyPem = await exportSPKI(publicKey);
  const timers: NodeJS.Timeout[] = [];
  const sign = (sub: string, ttlSeconds: number) =>
    new SignJWT({ sub })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: 'eos-sandbox-1' })
      .setIssuer(SANDBOX_ISSUER)
      .setAudience(SANDBOX_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
      .sign(privateKey as CryptoKey);
  return {
    publicKeyPem,
    sign,
    async keepFile(file, sub, everySeconds) {
      // Valid for two periods, so a reader never meets an expired one; replaced atomically.
      const write = async () => {
        await writeFile(`${file}.new`, `${await sign(sub, everySeconds * 2)}\n`, { mode: 0o600 });
        await rename(`${file}.new`, file);
      };
      await write();
      const timer = setInterval(() => void write().catch(() => undefined), everySeconds * 1000);
      timer.unref();
      timers.push(timer);
    },
    stop() {
      for (const timer of timers) clearInterval(timer);
    },
  };
}
