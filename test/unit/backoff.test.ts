import { describe, expect, it } from 'vitest';
import { backoffDelay, LIFETIME_BACKOFF, LISTEN_BACKOFF, QUERY_BACKOFF, VAULT_REQUEST_BACKOFF } from '../../src/util/backoff.js';

/** The one backoff rule, with each caller's policy: the waits each part of eos documents. */
describe('backoffDelay', () => {
  const mid = () => 0.5;
  const waits = (policy: Parameters<typeof backoffDelay>[0], random: () => number, n = 7) => Array.from({ length: n }, (_, i) => backoffDelay(policy, i + 1, random));

  it('leases and tokens: 1 s doubling to 30 s, spread ±20 %', () => {
    expect(waits(LIFETIME_BACKOFF, mid)).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    expect(backoffDelay(LIFETIME_BACKOFF, 1, () => 0)).toBe(800);
    expect(backoffDelay(LIFETIME_BACKOFF, 1, () => 1)).toBe(1200);
    expect(backoffDelay(LIFETIME_BACKOFF, 6, () => 1)).toBe(36_000);
  });

  it('Vault requests: (attempt) × 1–1.5 s, as Vault\'s own client', () => {
    expect(waits(VAULT_REQUEST_BACKOFF, () => 0, 3)).toEqual([1000, 2000, 3000]);
    expect(waits(VAULT_REQUEST_BACKOFF, () => 1, 3)).toEqual([1500, 3000, 4500]);
  });

  it('queries through a restart: 100 ms doubling to 1 s; LISTEN: 0.5 s doubling to 10 s, unspread', () => {
    expect(waits(QUERY_BACKOFF, mid, 6)).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(waits(LISTEN_BACKOFF, () => 0.9, 7)).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  it('stays finite after any number of failures, and counts a 0th failure as the first', () => {
    expect(backoffDelay(LIFETIME_BACKOFF, 10_000, mid)).toBe(30_000);
    expect(backoffDelay(LIFETIME_BACKOFF, 0, mid)).toBe(1000);
  });
});
