import { describe, expect, it } from 'vitest';
import { formatVaultDuration, parseDurationSeconds } from '../../src/util/duration.js';

describe('durations', () => {
  it('parses seconds and Go duration strings', () => {
    expect(parseDurationSeconds(90)).toBe(90);
    expect(parseDurationSeconds('90')).toBe(90);
    expect(parseDurationSeconds('1h')).toBe(3600);
    expect(parseDurationSeconds('1h30m')).toBe(5400);
    expect(parseDurationSeconds('1.5h')).toBe(5400);
    expect(parseDurationSeconds('500ms')).toBe(0.5);
    expect(parseDurationSeconds('2d')).toBe(172800);
  });

  it('rejects what is not a duration', () => {
    for (const bad of ['', 'h', '1x', '1h 30m', '-5', 'soon', '5s5']) expect(parseDurationSeconds(bad)).toBeUndefined();
    expect(parseDurationSeconds(-1)).toBeUndefined();
  });

  it('formats like Vault\'s lease warnings (Go durations without zero parts)', () => {
    expect(formatVaultDuration(3600)).toBe('1h');
    expect(formatVaultDuration(3605)).toBe('1h5s');
    expect(formatVaultDuration(3660)).toBe('1h1m');
    expect(formatVaultDuration(598)).toBe('9m58s');
    expect(formatVaultDuration(120)).toBe('2m');
    expect(formatVaultDuration(5)).toBe('5s');
    expect(formatVaultDuration(0)).toBe('0s');
  });
});
