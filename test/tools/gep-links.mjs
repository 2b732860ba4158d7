#!/usr/bin/env node
// Checks every gardener/gardener source link of the GEP drafts against the pinned release in the Go module cache
// (test/garden builds that release, so `npm run garden:build` fills the cache): the file exists and has the lines the
// anchor names; a link at another commit fails, and so does finding no link at all. Prints each link with the
// first linked line, for a reader to see that it says what the GEP claims.
//   node test/tools/gep-links.mjs [files...]   (default: gep-draft.md gep/*/README.md)
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const PINNED = 'f3b21d589d4e49812adf4abcfcac68eb847e0882';
const root = join(execFileSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' }).trim(), 'github.com/gardener/gardener@v1.150.0');
const files = process.argv.slice(2).length ? process.argv.slice(2) : ['gep-draft.md', ...readdirSync('gep', { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => `gep/${d.name}/README.md`)];
let bad = 0;
let checked = 0;
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/https:\/\/github\.com\/gardener\/gardener\/blob\/([^/\s)]+)\/([^\s)#]+)(?:#L(\d+)(?:-L(\d+))?)?/g)) {
    const [url, ref, path, from, to] = m;
    checked++;
    if (ref !== PINNED) {
      console.log(`UNPINNED ${file}: ${url}`);
      bad++;
      continue;
    }
    // pkg/apis is a Go module of its own (same commit), cached beside the main module
    const local = path.startsWith('pkg/apis/') ? join(root, '..', 'gardener', 'pkg', 'apis@v1.150.0', path.slice('pkg/apis/'.length)) : join(root, path);
    if (!existsSync(local)) {
      console.log(`MISSING ${file}: ${url}`);
      bad++;
      continue;
    }
    const lines = readFileSync(local, 'utf8').split('\n');
    const last = Number(to ?? from ?? 0);
    if (last > lines.length) {
      console.log(`BEYOND ${file}: ${url} (${lines.length} lines)`);
      bad++;
      continue;
    }
    console.log(`ok ${path}${from ? `#L${from}${to ? `-L${to}` : ''}` : ''}: ${from ? lines[Number(from) - 1].trim().slice(0, 110) : ''}`);
  }
}
if (!checked) console.log('no gardener/gardener source links found');
process.exit(bad || !checked ? 1 : 0);
