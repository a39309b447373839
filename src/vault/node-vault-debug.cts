/**
 * Stands in for the `debug` package in the built CLI (tools/build.mjs aliases it here). node-vault
 * is its only user, and with DEBUG=node-vault it would print every request body to stderr —
 * passwords, secret-ids and KV values among them. eos logs its Vault requests itself, redacted,
 * so node-vault's debug output is always off; it also spares every Vault command loading
 * `debug` and `supports-color` (about 9 ms of start-up).
 *
 * Written as CommonJS (a `.cts` file, `export =`) because node-vault calls
 * `require('debug')(name)`: the module itself must be the function.
 */
function createNodeVaultDebug(): ((...args: unknown[]) => void) & { enabled: boolean } {
  return Object.assign(() => undefined, { enabled: false });
}

export = createNodeVaultDebug;
