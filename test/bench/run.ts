// `npm run bench`: runs every benchmark (or those named on the command line) and prints JSON results.
import { run as controller } from './controller.bench.js';
import { run as engine } from './engine.bench.js';
import { run as faults } from './faults.bench.js';
import { run as landscape } from './landscape.bench.js';
import { run as scale } from './scale.bench.js';

const benchmarks: Record<string, () => Promise<void>> = { engine, landscape, controller, faults, scale };

const selected = process.argv.slice(2);
for (const [name, fn] of Object.entries(benchmarks)) {
  if (selected.length && !selected.includes(name)) continue;
  await fn();
}
