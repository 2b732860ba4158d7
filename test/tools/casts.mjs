#!/usr/bin/env node
// Counts type assertions (`x as T`, `<T>x`; `as const` excluded) and non-null assertions (`x!`) per file, with the
// TypeScript compiler's own parser (issue 18's measure).   node test/tools/casts.mjs [dir=src] [--files]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const args = process.argv.slice(2);
const root = args.find((a) => !a.startsWith('--')) ?? 'src';
const perFile = args.includes('--files');

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) yield p;
  }
}

function count(path) {
  const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
  let casts = 0;
  let nonNull = 0;
  const visit = (node) => {
    if (ts.isAsExpression(node) || ts.isTypeAssertionExpression(node)) {
      const t = node.type;
      const isConst = ts.isTypeReferenceNode(t) && t.typeName.getText(source) === 'const';
      if (!isConst) casts++;
    } else if (ts.isNonNullExpression(node)) nonNull++;
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { casts, nonNull };
}

let casts = 0;
let nonNull = 0;
for (const f of [...files(root)].sort()) {
  const c = count(f);
  casts += c.casts;
  nonNull += c.nonNull;
  if (perFile && c.casts + c.nonNull > 0) console.log(`${String(c.casts).padStart(4)} ${String(c.nonNull).padStart(4)}  ${f}`);
}
console.log(`casts ${casts}, non-null assertions ${nonNull} in ${root}`);
