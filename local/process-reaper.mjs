// Kills the process groups of job attempts once the local runtime is gone, however it went
// (a SIGKILL runs no exit handler). The runtime writes `+<pgid>` when an attempt starts and
// `-<pgid>` when it has ended on this process's stdin; when stdin closes, its writer is dead.
// Plain JavaScript, started with `node`: one small process, up in a few milliseconds.
import { createInterface } from 'node:readline';

const groups = new Set();
// Ctrl-C reaches the whole foreground group: stay up for the runtime's own clean shutdown.
process.on('SIGINT', () => undefined);
createInterface({ input: process.stdin })
  .on('line', (line) => {
    const pgid = Number(line.slice(1));
    if (!Number.isSafeInteger(pgid) || pgid <= 1) return;
    if (line.startsWith('+')) groups.add(pgid);
    else if (line.startsWith('-')) groups.delete(pgid);
  })
  .on('close', () => {
    for (const pgid of groups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // ESRCH: the group is already gone.
      }
    }
    process.exit(0);
  });
