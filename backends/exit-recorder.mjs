// Runs one gang member's command and writes how it ended to the exit file the moment it does,
// so a runtime killed as the job finished still learns its outcome (LocalProcessBackend.recover
// reads it) instead of calling the attempt interrupted and running the job again. The job dies
// with the runtime: stdin is a pipe the runtime holds and never writes, so its end of file means
// the runtime is gone (even by SIGKILL, even before it recorded this pid); the job's process
// group then gets SIGTERM, SIGKILL after the grace, and the exit file says it was orphaned.
// What is left is the window between the job's last line of work and its exit: a kill there
// still reads as interrupted.
// Usage: node exit-recorder.mjs <exit file> <runtime pid> <kill grace ms> <command> [args...]
// Plain JavaScript, started with `node`: no compile step between the job and its exit.
import { spawn } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

const [exitPath, runtimePid, killGraceMs, command, ...args] = process.argv.slice(2);
const write = (ended) => {
  writeFileSync(`${exitPath}.tmp`, JSON.stringify(ended));
  renameSync(`${exitPath}.tmp`, exitPath);
};
// Signals reach the whole process group: the job decides how to end, and this outlives it to record it.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => undefined);

// Re-parented already: the runtime died between spawning this and now, so the job never starts.
if (process.ppid !== Number(runtimePid)) {
  write({ orphaned: true, code: null, signal: null });
  process.exit(1);
}

const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
let orphaned = false;
let exited = false;

/** Exited but not yet reaped: it ended on its own, before the runtime went. Linux only. */
const isZombie = (pid) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
};
const signalGroup = (signal) => {
  try {
    process.kill(-process.pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
};
const stopOrphanedJob = () => {
  if (orphaned || exited || child.pid === undefined || isZombie(child.pid)) return;
  orphaned = true;
  signalGroup('SIGTERM');
  setTimeout(() => child.kill('SIGKILL'), Number(killGraceMs) || 0);
};
process.stdin.on('end', stopOrphanedJob).on('error', stopOrphanedJob).resume();

child.once('error', (error) => {
  if (child.pid !== undefined) return;
  write({ error: error.message });
  process.exit(127);
});
child.once('exit', (code, signal) => {
  exited = true;
  if (orphaned) {
    write({ orphaned: true, code, signal });
    // Whatever the job left in the group goes with this process; nobody waits for its status.
    signalGroup('SIGKILL');
    return;
  }
  write({ code, signal });
  if (signal === null) process.exit(code ?? 1);
  // Ends the same way, so the runtime's own view matches the job's.
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
});
