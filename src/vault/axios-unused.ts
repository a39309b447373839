/**
 * Stands in for axios in the built CLI (tools/build.mjs aliases it here). node-vault requires
 * axios at load, but eos always gives node-vault its own transport (transport.ts), so axios is
 * never called; if it ever were, this says so instead of sending a request eos did not shape.
 */
function unused(): never {
  throw new Error('axios is not bundled: eos sends every Vault request through its own transport');
}

const axios = Object.assign(unused, { create: unused, request: unused, get: unused, post: unused, put: unused, delete: unused, defaults: {} });
export default axios;
