// `kubectl canary`: the operator's view of CanaryRollouts. kubectl finds the executable `kubectl-canary` on the
// PATH (bin/kubectl-canary, installed through package.json `bin`) and hands it the arguments after `canary`.
//
// Layout (kubectl-canary/): args.ts parses argv, format.ts and errors.ts are pure functions of plain data
// (unit-tested without an API server), session.ts and commands.ts do the I/O. run(argv, io) returns an exit code
// instead of exiting so tests can call it in-process as well as through the binary. Exit codes: 0 done, 1 failed
// (with a message), 2 usage.
import { RESOURCES } from '../kube/client.js';
import { USAGE, parseArgs } from './kubectl-canary/args.js';
import { runCommand, type RunIO } from './kubectl-canary/commands.js';
import { CliError, describeError } from './kubectl-canary/errors.js';
import { printable } from './kubectl-canary/format.js';
import { Session, loadConfig } from './kubectl-canary/session.js';

/** Runs one invocation; returns the exit code (0 ok, 1 failed, 2 usage). */
export async function run(argv: readonly string[], io: RunIO): Promise<number> {
  const parsed = parseArgs(argv);
  if (!parsed.ok) {
    io.stderr.write(`error: ${parsed.error}\n\n${USAGE}`);
    return 2;
  }
  const { command } = parsed.invocation;
  if (command.kind === 'help') {
    io.stdout.write(USAGE);
    return 0;
  }
  let session: Session | undefined;
  try {
    session = new Session(loadConfig(parsed.invocation, io.env), parsed.invocation.requestTimeoutMs);
    return await runCommand(session, command, io);
  } catch (err) {
    // API messages (a denial quotes the request, a schema error the object) and names from the kubeconfig
    io.stderr.write(`error: ${printable(err instanceof CliError ? err.message : describeError(err, { server: session?.server ?? '<unknown>', resource: RESOURCES.canaryRollouts }))}\n`);
    return 1;
  } finally {
    session?.close();
  }
}

/** Entry point of bin/kubectl-canary: process streams, Ctrl-C ends a watch with exit code 0. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  const ctrl = new AbortController();
  const onInt = () => ctrl.abort();
  process.once('SIGINT', onInt);
  try {
    return await run(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: ctrl.signal });
  } finally {
    process.off('SIGINT', onInt);
  }
}
