import type { NormalizedAnswer } from './normalize.js';

/**
 * How a replayed answer differs from the recorded one. Kinds, worst first:
 * - status: another HTTP status;
 * - shape: keys present in one answer and not the other (the body's structure);
 * - value: a value both have, different (policies, flags, TTLs beyond a few seconds, texts);
 * - messages: the `errors` or `warnings` texts differ.
 * `grantsMore` marks a difference where the dev server gives more than OpenBao: success where
 * OpenBao refuses, a policy OpenBao does not grant, more uses or a longer TTL. None is allowed.
 */
export type DifferenceKind = 'status' | 'shape' | 'value' | 'messages';

export interface Difference {
  id: string;
  kinds: DifferenceKind[];
  recordedStatus: number;
  replayedStatus: number;
  detail: string;
  grantsMore: boolean;
}

/** Seconds a TTL may drift between two runs (requests take time; servers round). */
const TTL_SLACK = 3;
const TTL_KEY = /(^|_)(ttl|lease_duration|period)$/;
const MESSAGE_KEY = /^(errors|warnings)$/;
/** Lists whose extra members give more: policies and capabilities. */
const GRANT_LIST_KEY = /^(policies|token_policies|identity_policies|allowed_policies|capabilities)$/;
/** Limits where 0 means none: 0 where OpenBao has one gives more. */
const LIMIT_KEY = /(^|_)(num_uses|ttl|max_ttl|period)$/;

export function compareAnswers(recorded: NormalizedAnswer, replayed: NormalizedAnswer): Difference | undefined {
  const kinds = new Set<DifferenceKind>();
  const details: string[] = [];
  let grantsMore = false;
  if (recorded.status !== replayed.status) {
    kinds.add('status');
    details.push(`status ${recorded.status} → ${replayed.status}`);
    if (recorded.status >= 400 && replayed.status < 300) grantsMore = true;
  }
  // Plaintext where OpenBao wrapped the answer.
  const wrapInfo = (a: NormalizedAnswer) => (a.body && typeof a.body === 'object' ? (a.body as { wrap_info?: unknown }).wrap_info : undefined);
  if (wrapInfo(recorded) && !wrapInfo(replayed)) grantsMore = true;
  if ((recorded.location ?? '') !== (replayed.location ?? '')) {
    kinds.add('value');
    details.push(`Location ${recorded.location ?? '-'} → ${replayed.location ?? '-'}`);
  }
  const a = leaves(recorded.body);
  const b = leaves(replayed.body);
  const missing = [...a.keys()].filter((k) => !b.has(k));
  const extra = [...b.keys()].filter((k) => !a.has(k));
  if (missing.length > 0 || extra.length > 0) {
    kinds.add('shape');
    if (missing.length) details.push(`missing ${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ` (+${missing.length - 4})` : ''}`);
    if (extra.length) details.push(`extra ${extra.slice(0, 4).join(', ')}${extra.length > 4 ? ` (+${extra.length - 4})` : ''}`);
  }
  for (const [path, value] of a) {
    if (!b.has(path)) continue;
    const other = b.get(path);
    const key = path.split('.').at(-1)?.replace(/\[\d+\]$/, '') ?? '';
    if (MESSAGE_KEY.test(key)) {
      if (!sameMessages(value, other)) {
        kinds.add('messages');
        details.push(`${path} ${short(value)} → ${short(other)}`);
      }
      continue;
    }
    if (LIMIT_KEY.test(key) && typeof value === 'number' && typeof other === 'number' && value > 0 && other === 0) grantsMore = true;
    if (TTL_KEY.test(key) && typeof value === 'number' && typeof other === 'number') {
      if (Math.abs(value - other) > TTL_SLACK) {
        kinds.add('value');
        details.push(`${path} ${value} → ${other}`);
        if (other > value && value > 0) grantsMore = true;
      }
      continue;
    }
    if (GRANT_LIST_KEY.test(key) && Array.isArray(value) && Array.isArray(other)) {
      if (other.some((p) => !value.includes(p))) grantsMore = true;
    }
    if (key === 'num_uses' && typeof value === 'number' && typeof other === 'number' && value > 0 && other > value) grantsMore = true;
    if (key === 'renewable' && value === false && other === true) grantsMore = true;
    if (JSON.stringify(value) !== JSON.stringify(other)) {
      kinds.add('value');
      details.push(`${path} ${short(value)} → ${short(other)}`);
    }
  }
  if (kinds.size === 0) return undefined;
  return { id: recorded.id, kinds: [...kinds], recordedStatus: recorded.status, replayedStatus: replayed.status, detail: details.join('; '), grantsMore };
}

/** A Go duration quoted in a message: "768h", "767h59m59s", "1m30s". */
const QUOTED_DURATION = /"((?:\d+h)?(?:\d+m)?(?:\d+s)?)"/g;

/**
 * Messages are the same text; a duration quoted in one may drift by TTL_SLACK seconds, as a TTL
 * field may: a cap computed from the token's age ("effective max_ttl of 768h") reads
 * 767h59m59s when a second boundary falls between the token's creation and its renewal.
 */
function sameMessages(a: unknown, b: unknown): boolean {
  const textA = JSON.stringify(a) ?? '';
  const textB = JSON.stringify(b) ?? '';
  if (textA === textB) return true;
  const durationsA: number[] = [];
  const durationsB: number[] = [];
  const shape = (text: string, into: number[]) =>
    text.replace(/\\"/g, '"').replace(QUOTED_DURATION, (whole, d: string) => {
      if (d === '') return whole;
      into.push(goDurationSeconds(d));
      return '"<duration>"';
    });
  if (shape(textA, durationsA) !== shape(textB, durationsB)) return false;
  return durationsA.every((d, i) => Math.abs(d - (durationsB[i] ?? Number.NaN)) <= TTL_SLACK);
}

function goDurationSeconds(d: string): number {
  const part = (unit: string) => Number(new RegExp(`(\\d+)${unit}`).exec(d)?.[1] ?? 0);
  return part('h') * 3600 + part('m') * 60 + part('s');
}

/**
 * Every leaf by its path (`data.keys`, `auth.policies`): arrays of scalars are one leaf (their
 * order and members matter), arrays of objects are walked with `[]`.
 */
function leaves(value: unknown, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0 && prefix) out.set(prefix, {});
    for (const [k, v] of entries) leaves(v, prefix ? `${prefix}.${k}` : k, out);
    return out;
  }
  if (Array.isArray(value) && value.some((v) => v && typeof v === 'object')) {
    // Each element by its place: a member more or less is a difference, not hidden by the last.
    value.forEach((v, i) => leaves(v, `${prefix}[${i}]`, out));
    return out;
  }
  out.set(prefix, value);
  return out;
}

function short(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}
