// dynalite as a child that cannot outlive its parent: it exits when its stdin closes, which
// happens however the parent ends (a SIGKILL runs no exit handler). An orphaned dynalite
// would hold the LevelDB lock and the next start would fail with "Database is closed".
// A persisted store gets its secondary indexes rebuilt from its items (a kill -9 may have cut
// an index update short) before the server accepts a request, unless its last run ended with
// a clean close: SIGTERM drains requests, closes the store, then leaves a marker beside it.
// Arguments: <host> <port> [path]; prints "Dynalite listening at: http://<host>:<port>".
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import dynalite from 'dynalite';
import { repairSecondaryIndexes } from './dynalite-index-repair.mjs';

const [host, port, path] = process.argv.slice(2);
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
// Ctrl-C reaches the whole foreground group: the parent closes the database in order.
process.on('SIGINT', () => undefined);
const cleanMarker = path && `${path}.closed-cleanly`;
if (path) {
  if (existsSync(cleanMarker)) {
    // Consumed before the store opens: any end of this run other than a clean close repairs.
    rmSync(cleanMarker);
  } else {
    const started = Date.now();
    const repairs = await repairSecondaryIndexes(path);
    if (Object.keys(repairs).length) {
      console.error(
        `dynalite: repaired secondary indexes in ${Date.now() - started} ms: ${JSON.stringify(repairs)}`,
      );
    }
  }
}
const server = dynalite({ path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
server.listen(Number(port), host, () => {
  console.log(`Dynalite listening at: http://${host}:${server.address().port}`);
});
process.once('SIGTERM', () => {
  // dynalite's close stops accepting, waits for pending store writes, then closes LevelDB; only
  // then is the store known whole. On an error or its timeout the marker is not written.
  server.close((error) => {
    if (!error && cleanMarker) writeFileSync(cleanMarker, `${new Date().toISOString()}\n`);
    process.exit(error ? 1 : 0);
  });
});
