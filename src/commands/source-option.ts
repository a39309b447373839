import { CREDENTIAL_SOURCES, type CredentialSourceName } from '../config/constants.js';
import { quoted, UsageError } from '../errors.js';

/** `--source dynamic,env` → the list, validated. */
export function parseSources(text: string | undefined, flag = '--source'): CredentialSourceName[] | undefined {
  if (text === undefined) return undefined;
  const list = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const bad = list.find((s) => !(CREDENTIAL_SOURCES as readonly string[]).includes(s));
  if (bad !== undefined || list.length === 0) throw new UsageError(`${flag} ${quoted(text)} names an unknown source`, `use a comma-separated list of ${CREDENTIAL_SOURCES.join(', ')}`);
  if (new Set(list).size !== list.length) throw new UsageError(`${flag} ${quoted(text)} repeats a source`, 'name each source once');
  return list as CredentialSourceName[];
}
