import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { boundedLines } from '../../src/util/bounded-lines.js';

describe('lines of a log, each bounded', () => {
  it('gives each line across chunk boundaries, a too-long one as null without holding it, and the last without a newline', async () => {
    const huge = 'x'.repeat(5000);
    const chunks = ['first\r\nsec', 'ond\n', huge.slice(0, 2500), huge.slice(2500), '\nafter\nlast'];
    const out: (string | null)[] = [];
    for await (const line of boundedLines(Readable.from(chunks), 1000)) out.push(line);
    expect(out).toEqual(['first', 'second', null, 'after', 'last']);
  });
});
