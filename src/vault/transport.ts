import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { plaintextOffHost } from '../config/vault-settings.js';
import { UsageError } from '../errors.js';
import { backoffDelay, VAULT_REQUEST_BACKOFF } from '../util/backoff.js';
import { sleep, systemClock, type Clock } from '../util/clock.js';
import { holdsPemCertificate } from '../util/pem.js';
import { VaultNotVaultError, VaultTimeoutError, VaultTlsError, VaultUnreachableError } from './errors.js';

/**
 * The HTTP transport under node-vault: node-vault builds paths, adds the token and namespace
 * headers and turns error bodies into errors; this does what Vault's own Go client does on the
 * wire and node-vault does not — TLS from the VAULT_* settings, timeouts, retries with backoff
 * and Retry-After, one redirect from a standby with the method and body re-sent, no https→http
 * downgrade and no token in clear to another host — and keeps the response headers.
 */

export interface TlsSettings {
  caCert?: string | undefined;
  caPath?: string | undefined;
  clientCert?: string | undefined;
  clientKey?: string | undefined;
  tlsSkipVerify: boolean;
  tlsServerName?: string | undefined;
}

export interface TransportOptions {
  tls: TlsSettings;
  timeoutSeconds: number;
  maxRetries: number;
  disableRedirects: boolean;
  /** Waits between retries on it; injected so tests need not wait for real. */
  clock?: Clock;
  /** The draw that spreads the waits. */
  random?: () => number;
}

export interface TransportRequest {
  method: string;
  uri: string;
  headers?: Record<string, string>;
  /** A body object (node-vault's `json` option); `true` means no body. */
  json?: unknown;
}

export interface TransportResponse {
  statusCode: number;
  headers: http.IncomingHttpHeaders;
  body: unknown;
  request: { path: string };
}

/** Statuses Vault's client retries: 412, 429, and 5xx except 501. */
export function isRetryableStatus(status: number): boolean {
  return status === 412 || status === 429 || (status >= 500 && status !== 501);
}

const TLS_CERT_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
]);

/** CA bundle, client certificate and SNI as an https.Agent. Files are read once, here. */
export function buildHttpsAgent(tls: TlsSettings): https.Agent {
  return new https.Agent({ keepAlive: true, ...tlsConnectOptions(tls) });
}

/** The TLS options every connection to Vault uses (the agent's, and `test`'s look at the certificate). */
export function tlsConnectOptions(tls: TlsSettings): Pick<https.AgentOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'> {
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new UsageError(`cannot read the ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 'check VAULT_CACERT / VAULT_CAPATH / VAULT_CLIENT_CERT / VAULT_CLIENT_KEY');
    }
  };
  // A CA file must hold certificates: /etc/passwd given by mistake is named, not trusted as nothing.
  const certificates = (file: string) => {
    const text = read(file, 'CA certificate');
    if (!holdsPemCertificate(text.toString('latin1'))) throw new UsageError(`the CA certificate ${file} holds no PEM certificate`, 'name the PEM file of the CA that signed Vault\'s certificate (-----BEGIN CERTIFICATE-----)');
    return text;
  };
  const ca: Buffer[] = [];
  if (tls.caCert) ca.push(certificates(tls.caCert));
  if (tls.caPath) {
    let names: string[];
    try {
      names = readdirSync(tls.caPath);
    } catch (err) {
      throw new UsageError(`cannot read the CA directory ${tls.caPath}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 'check VAULT_CAPATH');
    }
    for (const name of names) {
      if (/\.(pem|crt)$/i.test(name)) ca.push(certificates(path.join(tls.caPath, name)));
    }
  }
  return {
    ca: ca.length > 0 ? ca : undefined,
    cert: tls.clientCert ? read(tls.clientCert, 'client certificate') : undefined,
    key: tls.clientKey ? read(tls.clientKey, 'client key') : undefined,
    rejectUnauthorized: !tls.tlsSkipVerify,
    servername: tls.tlsServerName,
  };
}

/** One HTTP exchange with Vault, as metrics count it. */
export interface VaultRequestObservation {
  /** The logical path (after /v1/). */
  path: string;
  /** The HTTP status, or `error` when no answer came. */
  status: string;
  seconds: number;
}

/**
 * Who wants to see every request: the metrics endpoint, when one runs. Process-wide on purpose:
 * clients are built deep inside the credential chain, and a process has one set of metrics.
 */
export const vaultRequestObservers = new Set<(observation: VaultRequestObservation) => void>();

export class VaultTransport {
  private readonly httpsAgent: https.Agent;
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private readonly clock: Clock;
  private readonly random: () => number;

  constructor(private readonly options: TransportOptions) {
    this.httpsAgent = buildHttpsAgent(options.tls);
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
  }

  /** node-vault's request-promise hook: `.defaults()` returns the request function. */
  asRequestPromise() {
    const send = (request: TransportRequest) => this.send(request);
    return { defaults: () => send };
  }

  close(): void {
    this.httpsAgent.destroy();
    this.httpAgent.destroy();
  }

  async send(request: TransportRequest): Promise<TransportResponse> {
    let uri = request.uri;
    let redirected = false;
    for (let attempt = 0; ; attempt++) {
      let response: TransportResponse;
      try {
        response = await this.once(request, uri);
      } catch (err) {
        // A request that timed out may have been served (credentials issued, a lease revoked):
        // it is reported, never sent again. A refused or reset connection is retried.
        if (err instanceof VaultTlsError || err instanceof VaultTimeoutError || attempt >= this.options.maxRetries) throw err;
        await sleep(this.clock, this.backoff(attempt));
        continue;
      }
      const status = response.statusCode;
      if (status === 307 || status === 301 || status === 302) {
        const location = response.headers.location;
        if (!location) return response;
        if (this.options.disableRedirects || redirected) {
          throw new VaultUnreachableError(
            `${new URL(uri).origin} answered HTTP ${status}, a redirect to ${new URL(location, uri).origin}: it is a standby node`,
            this.options.disableRedirects ? 'point VAULT_ADDR at the active node, or unset VAULT_DISABLE_REDIRECTS' : 'point VAULT_ADDR at the active node',
          );
        }
        const next = new URL(location, uri);
        if (new URL(uri).protocol === 'https:' && next.protocol !== 'https:') {
          throw new VaultUnreachableError(
            `refusing the redirect from ${new URL(uri).origin} to ${next.origin}: it would downgrade https to http`,
            'point VAULT_ADDR at the active node, or fix the standby\'s api_addr',
          );
        }
        // The request goes again with the token. To another origin only where the token stays
        // protected: over https, whose certificate is checked against the same trust as
        // VAULT_ADDR, or to this machine. Plain HTTP to another host would hand it, in clear, to
        // whatever a standby's api_addr (or whoever answers in its place) names.
        // With VAULT_SKIP_VERIFY no certificate proves the other node either.
        const inClear = plaintextOffHost(next.toString());
        const unproven = this.options.tls.tlsSkipVerify && plaintextOffHost(next.toString().replace(/^https:/, 'http:'));
        if (next.origin !== new URL(uri).origin && (inClear || unproven)) {
          throw new VaultUnreachableError(
            `refusing the redirect from ${new URL(uri).origin} to ${next.origin}: it would send the Vault token ${inClear ? 'in clear' : 'unchecked (VAULT_SKIP_VERIFY)'} to a host eos was not pointed at`,
            'point VAULT_ADDR at the active node, or serve Vault over https with a certificate eos checks (it then proves the node)',
          );
        }
        redirected = true;
        uri = next.toString();
        attempt -= 1; // following the redirect is not a retry
        continue;
      }
      if (isRetryableStatus(status) && attempt < this.options.maxRetries) {
        const retryAfter = Number(response.headers['retry-after']);
        const wait = (status === 429 || status === 503) && Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : this.backoff(attempt);
        await sleep(this.clock, wait);
        continue;
      }
      return response;
    }
  }

  /** Vault's client: (attempt + 1) × a random 1000–1500 ms. */
  private backoff(attempt: number): number {
    return backoffDelay(VAULT_REQUEST_BACKOFF, attempt + 1, this.random);
  }

  private async once(request: TransportRequest, uri: string): Promise<TransportResponse> {
    if (vaultRequestObservers.size === 0) return this.exchange(request, uri);
    const started = performance.now();
    const path = new URL(uri).pathname.replace(/^\/v1\//, '');
    const observe = (status: string) => {
      for (const observer of vaultRequestObservers) observer({ path, status, seconds: (performance.now() - started) / 1000 });
    };
    try {
      const response = await this.exchange(request, uri);
      observe(String(response.statusCode));
      return response;
    } catch (err) {
      observe('error');
      throw err;
    }
  }

  private exchange(request: TransportRequest, uri: string): Promise<TransportResponse> {
    const url = new URL(uri);
    const isHttps = url.protocol === 'https:';
    const body = request.json !== undefined && request.json !== true && request.json !== null ? JSON.stringify(request.json) : undefined;
    const headers: Record<string, string> = { 'X-Vault-Request': 'true', ...request.headers };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    const timeoutMs = this.options.timeoutSeconds * 1000;
    return new Promise((resolve, reject) => {
      const req = (isHttps ? https : http).request(
        url,
        { method: request.method, headers, agent: isHttps ? this.httpsAgent : this.httpAgent, timeout: timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => reject(connectionError(url, err)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = undefined;
            if (text.trim() !== '') {
              try {
                parsed = JSON.parse(text);
              } catch {
                // Vault answers JSON, errors included. A page from a web server, a login portal
                // or a proxy's own 404 means VAULT_ADDR is not Vault: said once, the same for every
                // command. A proxy's 5xx page stays an error to retry.
                // A redirect (a load balancer's 301 page) is followed by send(), whatever its body.
                const status = res.statusCode ?? 0;
                if (status < 500 && (status < 300 || status >= 400)) return reject(new VaultNotVaultError(url.origin, status, String(res.headers['content-type'] ?? 'no content type'), text));
                parsed = { errors: [`unexpected non-JSON response (HTTP ${res.statusCode})`] };
              }
            }
            resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: parsed, request: { path: url.pathname } });
          });
        },
      );
      let timedOut = false;
      req.on('timeout', () => {
        timedOut = true;
        req.destroy();
      });
      req.on('error', (err) => reject(timedOut ? new VaultTimeoutError(url.origin, this.options.timeoutSeconds) : connectionError(url, err)));
      req.end(body);
    });
  }
}

function connectionError(url: URL, err: Error): Error {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    // Trusted, but for another name: the CA is fine, the name is the thing to fix.
    return new VaultTlsError(
      `the TLS certificate of ${url.origin} does not name ${url.hostname} (${err.message})`,
      'connect by a name the certificate holds (VAULT_ADDR), or set VAULT_TLS_SERVER_NAME to one',
      err,
    );
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return new VaultTlsError(`the TLS certificate of ${url.origin} is not valid now (${code})`, "renew Vault's certificate (or check this machine's clock)", err);
  }
  if (TLS_CERT_ERRORS.has(code) || /certificate/i.test(err.message)) {
    return new VaultTlsError(
      `the TLS certificate of ${url.origin} is not trusted (${code || err.message})`,
      'set VAULT_CACERT to the CA bundle that signed Vault\'s certificate (or VAULT_SKIP_VERIFY=true for a test server only)',
      err,
    );
  }
  return new VaultUnreachableError(
    `Vault at ${url.origin} is unreachable: ${code || err.message}`,
    `check that Vault runs at that address (curl ${url.origin}/v1/sys/health) and that VAULT_ADDR, --addr or the config's vault.address names it`,
    err,
  );
}
