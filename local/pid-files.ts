import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

/** A process as a pid file records it: the pid, and its start time so a reused pid is not mistaken for it. */
export interface RecordedProcess {
  readonly pid: number;
  /** Clock ticks after boot (field 22 of /proc/<pid>/stat); undefined where /proc is absent. */
  readonly startTime?: number;
}

/** Fields 3 onwards of /proc/<pid>/stat, or undefined (no /proc, or no such process). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat, or undefined (no /proc, or no such process). */
export function processStartTime(pid: number): number | undefined {
  const fields = statFields(pid);
  return fields && Number(fields[19]);
}

export function recordProcess(pid: number): RecordedProcess {
  return { pid, startTime: processStartTime(pid) };
}

/**
 * The recorded process is still running: not a new process that reuses its pid, nor a zombie
 * (exited, waiting for a parent that may never reap it, as a container's init may not).
 */
export function isRunning(recorded: RecordedProcess): boolean {
  try {
    process.kill(recorded.pid, 0);
  } catch {
    return false;
  }
  const fields = statFields(recorded.pid);
  if (fields === undefined) return recorded.startTime === undefined;
  return fields[0] !== 'Z' && (recorded.startTime === undefined || Number(fields[19]) === recorded.startTime);
}

/**
 * Running processes with `argument` word for word in their command line, or undefined where
 * there is no /proc to look in.
 */
export function processesWithArgument(argument: string): RecordedProcess[] | undefined {
  if (!existsSync('/proc/self/cmdline')) return undefined;
  const found: RecordedProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // A zombie's command line is empty: it has exited.
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(argument))
        found.push(recordProcess(Number(entry)));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
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
