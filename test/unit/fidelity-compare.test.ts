import { describe, expect, it } from 'vitest';
import { compareAnswers } from '../fidelity/compare.js';
import { normalizeAnswer, type NormalizedAnswer } from '../fidelity/normalize.js';

const answer = (status: number, body: unknown): NormalizedAnswer => ({ id: 'r', status, body });
const auth = (over: Record<string, unknown>) => ({ auth: { client_token: 's.<masked>', policies: ['default'], lease_duration: 3600, renewable: true, num_uses: 2, ...over }, wrap_info: null });

/**
 * The replay's judge (test/fidelity/compare.ts): the fidelity test passes only if it would see a
 * difference that gives more than OpenBao — so each kind is shown here to be caught.
 */
describe('comparing a replayed answer with the recorded one', () => {
  it('finds nothing where the answers agree, TTLs within a few seconds included', () => {
    expect(compareAnswers(answer(200, auth({})), answer(200, auth({ lease_duration: 3598 })))).toBeUndefined();
  });

  it('lets a duration quoted in a warning drift as a TTL may, and no further', () => {
    const capped = (d: string) => answer(200, { ...auth({}), warnings: [`TTL of "9999h" exceeded the effective max_ttl of "${d}"; TTL value is capped accordingly`] });
    expect(compareAnswers(capped('768h'), capped('767h59m59s'))).toBeUndefined();
    expect(compareAnswers(capped('768h'), capped('767h59m30s'))?.kinds).toEqual(['messages']);
    expect(compareAnswers(capped('768h'), answer(200, { ...auth({}), warnings: ['TTL of "9999h" exceeded the max_ttl of "768h"'] }))?.kinds).toEqual(['messages']);
  });

  it.each([
    ['success where OpenBao refuses', answer(403, { errors: ['permission denied'] }), answer(200, auth({}))],
    ['a policy OpenBao does not grant', answer(200, auth({})), answer(200, auth({ policies: ['default', 'admin'] }))],
    ['more uses', answer(200, auth({})), answer(200, auth({ num_uses: 5 }))],
    ['no limit where OpenBao has one', answer(200, auth({})), answer(200, auth({ num_uses: 0 }))],
    ['a longer TTL', answer(200, auth({})), answer(200, auth({ lease_duration: 7200 }))],
    ['renewable where OpenBao says not', answer(200, auth({ renewable: false })), answer(200, auth({}))],
    ['a capability more', answer(200, { data: { capabilities: ['read'] } }), answer(200, { data: { capabilities: ['read', 'update'] } })],
    ['plaintext where OpenBao wrapped', answer(200, { data: null, wrap_info: { token: 's.<masked>', ttl: 60 } }), answer(200, auth({}))],
    ['one member more in a list of objects', answer(200, { data: { nodes: [{ name: 'a' }] } }), answer(200, { data: { nodes: [{ name: 'a' }, { name: 'b' }] } })],
  ])('flags %s', (what, recorded, replayed) => {
    const difference = compareAnswers(recorded, replayed);
    expect(difference, what).toBeDefined();
    if (what !== 'one member more in a list of objects') expect(difference?.grantsMore, what).toBe(true);
    else expect(difference?.kinds).toContain('shape');
  });

  it('tells the kinds apart: status, shape, value, messages; and giving less is no "more"', () => {
    const d = compareAnswers(answer(400, { errors: ['a'], data: { x: 1 } }), answer(404, { errors: ['b'], data: { x: 2, y: 3 } }));
    expect(d?.kinds.sort()).toEqual(['messages', 'shape', 'status', 'value']);
    expect(d?.grantsMore).toBe(false);
    expect(compareAnswers(answer(200, auth({})), answer(403, { errors: ['permission denied'] }))?.grantsMore).toBe(false);
  });

  it('masks by rule what one run makes, keeps what a server decides (a token\'s form, Go\'s zero time, a KV version)', () => {
    const saved = { t1: 's.AAAAbbbbCCCCddddEEEEffff', run: 'r4nd0m' };
    const n = normalizeAnswer('r', 200, {}, '', {
      request_id: 'b984819d-0521',
      data: { id: 's.AAAAbbbbCCCCddddEEEEffff', accessor: 'x', expiration_time: '0001-01-01T00:00:00Z', creation_time: '2026-12-07T19:00:00Z', options: { version: '2' }, 'kv-r4nd0m/': {}, note: 'made by s.AAAAbbbbCCCCddddEEEEffff' },
      lease_id: 'database/creds/ro/Abc123',
    }, saved);
    expect(n.body).toEqual({
      request_id: '<masked>',
      data: { id: 's.<masked>', accessor: '<masked>', expiration_time: '0001-01-01T00:00:00Z', creation_time: '<masked>', options: { version: '2' }, 'kv-{run}/': {}, note: 'made by {t1}' },
      lease_id: 'database/creds/ro/<id>',
    });
  });
});
