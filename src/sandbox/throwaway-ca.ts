import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { importEsm } from '../util/import-esm.js';

/**
 * A certificate authority that lives as long as one sandbox (or one test): made in memory, its
 * key never written anywhere, so nothing it signed is trusted once it is gone. It signs the
 * server certificates of the sandbox's Vault-API dev server and PostgreSQL, the way a site's
 * private CA signs its servers', so eos runs against them with verification on
 * (`sslmode=verify-full`, `VAULT_CACERT`) and never with checks turned off.
 *
 * Keys come from Node's crypto (native, fast); node-forge builds and signs the X.509
 * certificates, which Node cannot (docs/architecture.md, "Dependencies").
 */
export interface ThrowawayCa {
  /** The CA's certificate (PEM): what a client trusts. */
  readonly certPem: string;
  /** A server certificate for these host names and IP addresses, signed by the CA. */
  issueServer(names: readonly string[]): Promise<IssuedCertificate>;
  /** A client certificate whose common name is `user` (PostgreSQL's `cert` authentication maps it). */
  issueClient(user: string): Promise<IssuedCertificate>;
}

export interface IssuedCertificate {
  certPem: string;
  /** PKCS#1 PEM, unencrypted: written 0600 by whoever stores it. */
  keyPem: string;
}

export interface ThrowawayCaOptions {
  /** How long the certificates are valid (default 90 days, past `eos self secrets test`'s 30-day warning). */
  days?: number;
  /** The time the certificates start from (ms since the epoch; default now). */
  now?: number;
  commonName?: string;
}

type Forge = typeof import('node-forge');

const DAY_MS = 86_400_000;

export async function makeThrowawayCa(options: ThrowawayCaOptions = {}): Promise<ThrowawayCa> {
  const forgeModule = await importEsm('./forge.js', () => import('node-forge'));
  // The bundled ES module and the CommonJS package both carry forge on `default`.
  const forge = ((forgeModule as { default?: Forge }).default ?? forgeModule) as Forge;
  const now = options.now ?? Date.now();
  // A little in the past, so a client whose clock is behind still accepts it.
  const notBefore = new Date(now - 3_600_000);
  const notAfter = new Date(now + (options.days ?? 90) * DAY_MS);
  const caKeys = rsaKeys(forge);
  const caSubject = [
    { name: 'commonName', value: options.commonName ?? 'eos sandbox CA' },
    { name: 'organizationName', value: 'eos (throwaway)' },
  ];

  const ca = forge.pki.createCertificate();
  ca.publicKey = caKeys.publicKey;
  ca.serialNumber = serialNumber();
  ca.validity.notBefore = notBefore;
  ca.validity.notAfter = notAfter;
  ca.setSubject(caSubject);
  ca.setIssuer(caSubject);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());
  const caKeyId = ca.generateSubjectKeyIdentifier().getBytes();

  const issue = (commonName: string, extensions: object[]): IssuedCertificate => {
    const keys = rsaKeys(forge);
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = serialNumber();
    cert.validity.notBefore = notBefore;
    cert.validity.notAfter = notAfter;
    cert.setSubject([{ name: 'commonName', value: commonName }]);
    cert.setIssuer(caSubject);
    cert.setExtensions([
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'authorityKeyIdentifier', keyIdentifier: caKeyId },
      { name: 'subjectKeyIdentifier' },
      ...extensions,
    ]);
    cert.sign(caKeys.privateKey, forge.md.sha256.create());
    return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privatePem };
  };

  return {
    certPem: forge.pki.certificateToPem(ca),
    async issueServer(names) {
      if (names.length === 0) throw new Error('a server certificate needs at least one name');
      // Clients check the subjectAltName only (RFC 6125): every name goes there, IPs as IPs.
      const altNames = names.map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n }));
      return issue(names[0] as string, [
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames },
      ]);
    },
    async issueClient(user) {
      return issue(user, [
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', clientAuth: true },
      ]);
    },
  };
}

function rsaKeys(forge: Forge) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privatePem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(privatePem);
  return { privateKey: forgeKey, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e), privatePem };
}

/** 16 random bytes, the top bit clear so the DER integer stays positive (RFC 5280 §4.1.2.2). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f;
  return bytes.toString('hex');
}
