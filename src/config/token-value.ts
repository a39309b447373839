import { MalformedValueError } from '../errors.js';

/** Longer than any token Vault or OpenBao issues (service tokens ~100 bytes, batch tokens a few hundred). */
const MAX_TOKEN_BYTES = 8192;

/**
 * A Vault token as it came in (VAULT_TOKEN, a token file, standard input, a prompt), made fit
 * for the X-Vault-Token header or refused with exit 2 naming where it came from: trailing line
 * breaks are dropped, as the Vault CLI drops them from its token file (and spaces around it); anything else that is
 * not a visible ASCII character cannot be sent in a header (Node refuses it with an error that
 * used to read as a bug in eos). The token itself is never shown.
 */
export function checkToken(raw: string, origin: string): string {
  // Surrounding white space dropped, as the Vault CLI trims a token file and Vault a header.
  const token = raw.trim();
  const bytes = Buffer.byteLength(token);
  const hint = 'a token is one line of visible ASCII characters, as `vault print token` prints it; check how the value was set';
  if (bytes > MAX_TOKEN_BYTES) throw new MalformedValueError(`the Vault token from ${origin} is ${bytes} bytes long; a Vault token is at most ${MAX_TOKEN_BYTES}`, hint);
  const bad = /[^\x21-\x7e]/.exec(token);
  if (bad) {
    const c = bad[0];
    const what = c === '\n' || c === '\r' ? 'a line break' : c === ' ' || c === '\t' ? 'a space' : c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f ? 'a control character' : 'a non-ASCII character';
    throw new MalformedValueError(`the Vault token from ${origin} holds ${what} (at character ${bad.index + 1})`, hint);
  }
  return token;
}
