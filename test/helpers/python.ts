/**
 * Runs a Python 3 test program that prints one JSON object per line, and
 * hands the lines to the test as they come.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Test } from 'tap';

export type PythonLine = { event: string; [k: string]: unknown };

/** The Python tests need python3 (present on the development machine and in CI); without it they are skipped, not failed. */
export const skipWithoutPython: false | string = spawnSync('python3', ['--version']).status === 0 ? false : 'python3 is not installed';

/** A running Python program: `next()` yields its JSON lines in order; `exit` its exit code; `lines` all lines so far. */
export interface PythonRun {
  next: () => Promise<PythonLine>;
  exit: Promise<number>;
  lines: PythonLine[];
  /** Writes a line to its standard input. */
  write: (line: string) => void;
}

/** Starts `python3 script ...args`; the process is killed at teardown if still running. */
export function runPython(t: Test, script: string, args: string[]): PythonRun {
  const child: ChildProcessWithoutNullStreams = spawn('python3', [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill();
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines: PythonLine[] = [];
  const queue: PythonLine[] = [];
  const waiters: ((l: PythonLine) => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (text) => {
    const line = JSON.parse(text) as PythonLine;
    lines.push(line);
    const w = waiters.shift();
    if (w) w(line);
    else queue.push(line);
  });
  const exit = new Promise<number>((resolve) =>
    child.on('close', (code) => {
      if (stderr) t.comment(`python stderr: ${stderr}`);
      resolve(code ?? -1);
    }),
  );
  return {
    next: () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r))),
    exit,
    lines,
    write: (line) => child.stdin.write(line + '\n'),
  };
}
