/**
 * Stands in for `tv4`, the JSON Schema validator node-vault checks its commands' arguments and
 * answers with (tools/build.mjs aliases it here). eos checks both itself, more strictly: what it
 * sends is typed and validated where the user gave it, and every answer is parsed against
 * Vault's API by zod (src/vault/responses.ts), which names the path and the field. The stub
 * passes everything on; it spares every Vault command parsing 63 KB of validator at start-up.
 *
 * CommonJS (a `.cts` file, `export =`) because node-vault calls `require('tv4').validate`.
 */
const passEverything = { error: null, validate: (): boolean => true };

export = passEverything;
