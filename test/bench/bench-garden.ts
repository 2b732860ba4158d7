// The garden a benchmark runs against: $GARDEN_KUBECONFIG when set, else one it starts (and stops) itself.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface BenchGarden {
  kubeconfig: string;
  /** Stops the garden if the benchmark started it; a no-op for $GARDEN_KUBECONFIG. */
  stop: () => Promise<unknown>;
}

export async function benchGarden(): Promise<BenchGarden> {
  const existing = process.env.GARDEN_KUBECONFIG;
  if (existing) return { kubeconfig: existing, stop: async () => undefined };
  // garden.mjs sits outside the compiled tree (dist/): loaded from the checkout at run time
  const { startGarden } = (await import(pathToFileURL(join(process.cwd(), 'test', 'garden', 'garden.mjs')).href)) as { startGarden: () => Promise<BenchGarden> };
  return startGarden();
}
