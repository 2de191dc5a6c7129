import { readFileSync, rmSync, writeFileSync } from 'node:fs';

/** A process as a pid file records it: the pid, and its start time so a reused pid is not mistaken for it. */
export interface RecordedProcess {
  readonly pid: number;
  /** Clock ticks after boot (field 22 of /proc/<pid>/stat); undefined where /proc is absent. */
  readonly startTime?: number;
}

/** Field 22 of /proc/<pid>/stat, or undefined (no /proc, or no such process). */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

export function recordProcess(pid: number): RecordedProcess {
  return { pid, startTime: processStartTime(pid) };
}

/** The recorded process is still running (not a new process that reuses its pid). */
export function isRunning(recorded: RecordedProcess): boolean {
  try {
    process.kill(recorded.pid, 0);
  } catch {
    return false;
  }
  return recorded.startTime === undefined || processStartTime(recorded.pid) === recorded.startTime;
}

export function writePidFile(path: string, recorded: RecordedProcess): void {
  writeFileSync(path, JSON.stringify(recorded));
}

/**
 * Kills the process a pid file names if it still runs (left by a runtime that was SIGKILLed),
 * waits until it is gone, and removes the file.
 */
export async function reapPidFile(path: string, timeoutMs = 5_000): Promise<boolean> {
  let recorded: RecordedProcess;
  try {
    recorded = JSON.parse(readFileSync(path, 'utf8')) as RecordedProcess;
  } catch {
    return false;
  }
  const running = isRunning(recorded);
  if (running) {
    try {
      process.kill(recorded.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
    const deadline = Date.now() + timeoutMs;
    while (isRunning(recorded) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }
  rmSync(path, { force: true });
  return running;
}
