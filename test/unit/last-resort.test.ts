import { describe, expect, it } from 'vitest';
import { cleanUpOnce, onLastResort, runLastResort } from '../../src/commands/last-resort.js';

/** The clean-ups an uncaught error runs (the handler itself is tried in e2e/secrets-exec). */
describe('the last resort', () => {
  it('runs what is registered, newest first, past a failing one, once; what was taken back does not run', async () => {
    const ran: string[] = [];
    onLastResort(() => void ran.push('lease'));
    const undo = onLastResort(() => void ran.push('undone'));
    onLastResort(async () => {
      ran.push('failing');
      throw new Error('a clean-up that fails');
    });
    onLastResort(async () => void ran.push('worker'));
    undo();
    await runLastResort();
    expect(ran).toEqual(['worker', 'failing', 'lease']);
    await runLastResort();
    expect(ran).toHaveLength(3);
  });

  it('cleanUpOnce: one clean-up for the run and the last resort, done once whichever comes first', async () => {
    let runs = 0;
    const finished = cleanUpOnce(() => void runs++);
    await finished();
    await finished();
    await runLastResort(); // the run undid it itself: nothing left for the last resort
    expect(runs).toBe(1);

    let crashed = 0;
    const interrupted = cleanUpOnce(() => void crashed++);
    await runLastResort(); // the process dies first
    await interrupted(); // a finally that still gets to run does nothing twice
    expect(crashed).toBe(1);
  });
});
