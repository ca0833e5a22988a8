/**
 * Child processes a test file starts die with it: when tap ends the file for
 * a timeout before its teardowns run, a peer or server it spawned must not
 * live on and slow the tests after it.
 */
import type { ChildProcess } from 'node:child_process';

/** Child processes (servers, and whatever tests register) killed if this process ends abruptly. */
const tracked = new Set<ChildProcess>();
let exitHooked = false;

/**
 * Makes sure `child` dies with this process, even when the process is
 * killed by SIGTERM/SIGINT (tap's timeout) or ends on an uncaught error.
 * Returns `child`.
 */
export function trackChild(child: ChildProcess): ChildProcess {
  tracked.add(child);
  child.once('exit', () => tracked.delete(child));
  if (!exitHooked) {
    exitHooked = true;
    const killAll = () => {
      for (const c of tracked) c.kill('SIGKILL');
    };
    process.on('exit', killAll);
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      process.once(sig, () => {
        killAll();
        process.kill(process.pid, sig); // the default action again: this process ends as it was asked to
      });
    }
  }
  return child;
}
