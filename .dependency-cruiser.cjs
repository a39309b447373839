/**
 * The floors of src/ (docs/architecture.md): an import goes down a floor or stays inside its
 * own folder, never up, never sideways into another folder of the same floor, never in a
 * circle, not even through a type-only import. `npm run lint` runs this;
 * test/unit/floors.test.ts proves it fails on a bad import.
 */
const FLOORS = [
  ['src/(cli|code-cache)\\.ts'],
  ['src/commands/'],
  ['src/sandbox/'],
  ['src/delphi/', 'src/exec/', 'src/setup/'],
  ['src/credentials/', 'src/telemetry/'],
  ['src/vault/', 'src/db/'],
  ['src/log\\.ts'],
  ['src/config/'],
  ['src/(util/|errors\\.ts|redact\\.ts)'],
];

const alternatives = (list) => `^(${list.join('|')})`;
const rules = [];
FLOORS.forEach((floor, level) => {
  const above = FLOORS.slice(0, level).flat();
  for (const room of floor) {
    if (above.length > 0) {
      rules.push({
        name: 'no-arrow-up',
        comment: `${room} sits below ${above.join(', ')}: it must not import them`,
        severity: 'error',
        from: { path: `^${room}` },
        to: { path: alternatives(above) },
      });
    }
    const neighbours = floor.filter((other) => other !== room);
    if (neighbours.length > 0) {
      rules.push({
        name: 'no-sideways',
        comment: `${room} and ${neighbours.join(', ')} share a floor and know nothing of each other`,
        severity: 'error',
        from: { path: `^${room}` },
        to: { path: alternatives(neighbours) },
      });
    }
  }
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'modules that import each other, directly or through others; a type-only import counts too (erased at build, it still ties the two designs together)',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    ...rules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.js'] },
  },
};
