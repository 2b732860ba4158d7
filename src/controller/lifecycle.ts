// The controller process around a Manager: a clean stop on SIGINT/SIGTERM, an exit when leadership is lost (so
// that nothing stale is written), and the start. Shared by the production entry point and test-only entry points.
import type { Logger } from '../util/log.js';
import type { Manager } from './manager.js';

export async function startManagerProcess(manager: Manager, log: Logger): Promise<void> {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    await manager.stop();
    log.info('stopped');
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  manager.onLostLeadership = () => {
    log.info('lost leadership, exiting so that nothing stale is written');
    process.exit(1);
  };
  await manager.start();
}
