import { writeJson } from './output.js';
import { defineCommand, JSON_OPTION, SOURCE_OPTION } from './spec.js';
import { parseSources } from './source-option.js';

/** `eos delphi schema status`: which of eos's migrations this Delphi database has, read with the usual credentials. */
export default defineCommand({
  path: ['delphi', 'schema', 'status'],
  description: "eos's objects in the Delphi database: schema version, applied and pending migrations, missing objects",
  options: { json: JSON_OPTION, source: SOURCE_OPTION },
  examples: ['eos delphi schema status', 'eos delphi schema status --json | jq .current'],
  async run(options, context) {
    const [{ readSchemaState, openPublicWarning }, { describeObject }] = await Promise.all([import('../delphi/schema-migrator.js'), import('../delphi/migrations.js')]);
    const { io } = context;
    const db = await context.database({ sources: parseSources(options.source), command: 'delphi schema status' });
    const state = await readSchemaState(db.pool);
    if (options.json) {
      writeJson(io, state);
      return 0;
    }
    const line = (key: string, value: string) => io.stdout.write(`${key.padEnd(14)} ${value}\n`);
    if (state.missingPipelineTables.length > 0) line('pipeline', `✗ tables missing: ${state.missingPipelineTables.join(', ')} (is this the Delphi database?)`);
    line('schema', `version ${state.version} of ${state.latest}: ${state.current ? 'current' : state.version < state.latest ? 'migrations pending' : 'objects missing'}`);
    for (const a of state.applied) line(`migration ${a.version}`, `${a.name}: applied ${a.appliedAt.replace(/\.\d+Z$/, 'Z')} by ${a.appliedBy} (${(a.durationMs / 1000).toFixed(1)} s)`);
    for (const p of state.pending) line(`migration ${p.version}`, `${p.name}: pending`);
    for (const c of state.changed) line('warning', `migration ${c.version} (${c.name}) was applied from a different file than this eos ships`);
    for (const m of state.missing) line('missing', `${describeObject(m)} (migration ${m.version})`);
    const open = openPublicWarning(state.publicSchemaCreators);
    if (open) line('warning', open);
    if (!state.current) io.stdout.write('run eos delphi schema apply (as the database admin; --dry-run prints the SQL first)\n');
    return 0;
  },
});
