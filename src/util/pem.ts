import { X509Certificate } from 'node:crypto';

/**
 * Whether a file's text holds at least one PEM certificate that parses: a CA file named by
 * mistake (a key, /etc/passwd) is then refused by name instead of trusted as nothing.
 */
export function holdsPemCertificate(text: string): boolean {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.some((block) => {
    try {
      new X509Certificate(block);
      return true;
    } catch {
      return false;
    }
  });
}
