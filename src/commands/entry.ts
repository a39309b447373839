/**
 * What the executable runs, bundled as one CommonJS file (`dist/eos.cjs`) that `cli.ts` loads
 * through V8's code cache (docs/architecture.md, Start-up): the program and the process's streams.
 */
export { main } from './program.js';
export { processIO } from './io.js';
export { onInterrupt } from './interrupt.js';
export { installLastResort } from './last-resort.js';
export { reportError } from './report-error.js';
