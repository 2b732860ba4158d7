// Stops the garden started by global-setup.mjs and fails the run if any control-plane process outlived it.
import { isOurs } from '../garden/garden.mjs';

export default async function globalTeardown() {
  const garden = globalThis.__CANARY_GARDEN__;
  if (!garden) return;
  const { orphansKilled } = await garden.stop();
  const alive = garden.pids.filter((pid) => isOurs(pid, garden.binDir));
  if (orphansKilled.length || alive.length) {
    throw new Error(`garden left processes behind: killed ${orphansKilled.join(',') || 'none'}, still alive ${alive.join(',') || 'none'}`);
  }
}
