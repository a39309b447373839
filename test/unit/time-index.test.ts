import { describe, expect, it } from 'vitest';
import { TimeIndex } from '../../src/util/time-index.js';

describe('TimeIndex', () => {
  it('gives the items within a window, bounds included, earliest first; items without a time are left out', () => {
    const items = [{ n: 'c', at: 30 }, { n: 'a', at: 10 }, { n: 'x', at: null }, { n: 'b', at: 20 }, { n: 'b2', at: 20 }, { n: 'd', at: 40 }];
    const index = new TimeIndex(items, (i) => i.at);
    expect([...index.within(20, 30)].map((i) => i.n)).toEqual(['b', 'b2', 'c']);
    expect([...index.within(0, 9)]).toEqual([]);
    expect([...index.within(41, 100)]).toEqual([]);
    expect([...index.within(-Infinity, Infinity)].map((i) => i.n)).toEqual(['a', 'b', 'b2', 'c', 'd']);
    expect([...index.within(30, 20)]).toEqual([]);
  });
});
