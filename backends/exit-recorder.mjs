// Runs one gang member's command and writes how it ended to the exit file the moment it does,
// so a runtime killed as the job finished still learns its outcome (LocalProcessBackend.recover
// reads it) instead of calling the attempt interrupted and running the job again. What is left
// is the window between the job's last line of work and its exit: a kill there still reads as
// interrupted. Usage: node exit-recorder.mjs <exit file> <command> [args...]
// Plain JavaScript, started with `node`: no compile step between the job and its exit.
import { spawn } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';

const [exitPath, command, ...args] = process.argv.slice(2);
const write = (ended) => {
  writeFileSync(`${exitPath}.tmp`, JSON.stringify(ended));
  renameSync(`${exitPath}.tmp`, exitPath);
};
// Signals reach the whole process group: the job decides how to end, and this outlives it to record it.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => undefined);
const child = spawn(command, args, { stdio: 'inherit' });
child.once('error', (error) => {
  if (child.pid !== undefined) return;
  write({ error: error.message });
  process.exit(127);
});
child.once('exit', (code, signal) => {
  write({ code, signal });
  if (signal === null) process.exit(code ?? 1);
  // Ends the same way, so the runtime's own view matches the job's.
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
});
