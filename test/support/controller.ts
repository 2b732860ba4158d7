// Runs the controller (dist/src/main.js) as its own process against the test garden.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { gardenKubeconfig } from './garden.js';

export interface ControllerProcess {
  child: ChildProcess;
  logs: string[];
  port: () => number;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

export async function startController(selector: string, extraArgs: string[] = []): Promise<ControllerProcess> {
  const child = spawn(process.execPath, ['dist/src/main.js', '--kubeconfig', gardenKubeconfig(), '--metrics-port', '0', '--rollout-selector', selector, '--resync-seconds', '60', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KUBECONFIG: '' },
  });
  const logs: string[] = [];
  let port = 0;
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`controller exited early (${code}): ${logs.slice(-5).join('\n')}`)));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      logs.push(line);
      const m = /"msg":"controller running".*"metricsPort":(\d+)/.exec(line);
      if (m) {
        port = Number(m[1]);
        resolve();
      }
    });
  });
  child.stdout!.resume();
  await ready;
  return {
    child,
    logs,
    port: () => port,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      }),
  };
}
