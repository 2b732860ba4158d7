// The controller process around a Manager: a clean stop on SIGINT/SIGTERM, an exit when leadership is lost (so
// that nothing stale is written), and the start. Shared by the production entry point and test-only entry points.
import type { Logger } from '../util/log.js';
import { loadConfig, type Config } from './config.js';
import type { Manager } from './manager.js';

/** The configuration from the command line and environment; a bad value ends the process with its message (exit 2). */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(2);
  }
}

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
