import { describe, expect, it } from 'vitest';
import { formatGoDuration, parseDurationSeconds } from '../../src/util/duration.js';

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

  it('formats like Go', () => {
    expect(formatGoDuration(3600)).toBe('1h0m0s');
    expect(formatGoDuration(598)).toBe('9m58s');
    expect(formatGoDuration(5)).toBe('5s');
    expect(formatGoDuration(0)).toBe('0s');
  });
});
