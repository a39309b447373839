#!/usr/bin/env node
// Fails when a file cites a document outside the repository. A clone is all a newcomer has, so
// the reasoning the code relies on lives in docs/ (docs/design.md), and every comment points
// there. Run by `npm run lint`; test/unit/check-references.test.ts shows it failing.
//
// Usage: node tools/check-references.mjs [dir …]   (default: src test docs bench tools README.md)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** What citing an outside document looks like: each pattern with what to write instead. */
const OUTSIDE = [
  { pattern: /\bDESIGN(?:\.md)?\s*§/, what: 'a section of DESIGN.md' },
  { pattern: /\bDESIGN\.md\b/, what: 'DESIGN.md' },
  { pattern: /\bDESIGN (?:asks|says|wants)\b/, what: 'DESIGN.md' },
  { pattern: /\breference\/[\w.-]+\.md\b/, what: 'a reference document' },
  { pattern: /\bseed\/[\w.-]+\.md\b/, what: 'the seed document' },
  { pattern: /(?:^|[^\w.])(?:\.\.\/)+shared\b|\bshared\/(?:reference|seed|DESIGN|STYLE|tools|hooks)\b/, what: 'the shared folder' },
  { pattern: /\bSTYLE\.md\b/, what: 'STYLE.md' },
];

const TEXT = /\.(?:[cm]?[jt]sx?|md|sql|json|sh|py|go|cjs|mjs|yml|yaml|txt)$/;
const SKIP = new Set(['node_modules', 'dist', 'build', '.cache', '.git']);
const SELF = fileURLToPath(import.meta.url);

function* files(entry) {
  const stat = statSync(entry, { throwIfNoEntry: false });
  if (!stat) return;
  if (stat.isFile()) {
    if (TEXT.test(entry) && path.resolve(entry) !== SELF) yield entry;
    return;
  }
  for (const child of readdirSync(entry, { withFileTypes: true })) {
    if (SKIP.has(child.name)) continue;
    yield* files(path.join(entry, child.name));
  }
}

const roots = process.argv.length > 2 ? process.argv.slice(2) : ['src', 'test', 'docs', 'bench', 'tools', 'README.md'];
const found = [];
for (const root of roots) {
  for (const file of files(root)) {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, index) => {
      for (const { pattern, what } of OUTSIDE) {
        if (pattern.test(line)) {
          found.push(`${file}:${index + 1}: cites ${what}, which is not in the repository: ${line.trim().slice(0, 120)}`);
          break;
        }
      }
    });
  }
}

if (found.length > 0) {
  for (const line of found) console.error(line);
  console.error(`\n${found.length} reference(s) to documents outside the repository: bring the reasoning into docs/ (docs/design.md) and point there`);
  process.exit(1);
}
