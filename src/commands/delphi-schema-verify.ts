import { OperationFailedError } from '../errors.js';
import { writeJson } from './output.js';
import { parseSources } from './source-option.js';
import { defineCommand, JSON_OPTION, SOURCE_OPTION } from './spec.js';

/** `eos delphi schema verify`: objects present, and every rollup recomputed from the pipeline's tables and compared. */
export default defineCommand({
  path: ['delphi', 'schema', 'verify'],
  description: "check eos's objects and recompute every rollup from the pipeline's tables; exit 1 on any drift",
  options: { json: JSON_OPTION, source: SOURCE_OPTION },
  examples: ['eos delphi schema verify', 'eos delphi schema verify --json | jq .drift'],
  async run(options, context) {
    const [{ readSchemaState, SchemaNotCurrentError, openPublicWarning }, { checkRollups }] = await Promise.all([import('../delphi/schema-migrator.js'), import('../delphi/rollup-check.js')]);
    const { io } = context;
    const db = await context.database({ sources: parseSources(options.source), command: 'delphi schema verify' });
    const state = await readSchemaState(db.pool);
    const open = openPublicWarning(state.publicSchemaCreators);
    if (open) context.warn(open);
    if (!state.current) throw new SchemaNotCurrentError(state);
    const report = await checkRollups(db.pool);
    const ok = report.drift.length === 0;
    if (options.json) writeJson(io, { ok, version: state.version, checks: report.checks, drift: report.drift });
    else {
      io.stdout.write(`✓ schema version ${state.version}, every object present\n`);
      for (const c of report.checks) {
        const drifted = report.drift.filter((d) => d.rollup === c.rollup);
        io.stdout.write(`${drifted.length === 0 ? '✓' : '✗'} ${c.rollup}: ${c.groups} group${c.groups === 1 ? '' : 's'} in the tables, ${c.rows} rollup row${c.rows === 1 ? '' : 's'}${drifted.length === 0 ? ', all equal' : ''}\n`);
        for (const d of drifted) {
          const figures = Object.entries(d.figures).map(([f, [rollup, tables]]) => `${f} ${rollup} in the rollup, ${tables} in the tables`);
          io.stdout.write(`    ${d.group}: ${figures.join('; ')}\n`);
        }
      }
    }
    if (!ok) {
      throw new OperationFailedError(
        `${report.drift.length} rollup group${report.drift.length === 1 ? '' : 's'} differ from the pipeline's tables`,
        'count them again from the tables: eos delphi schema apply --rebuild-rollups (and please report how it happened)',
      );
    }
    return 0;
  },
});
