// dynalite as a child that cannot outlive its parent: it exits when its stdin closes, which
// happens however the parent ends (a SIGKILL runs no exit handler). An orphaned dynalite
// would hold the LevelDB lock and the next start would fail with "Database is closed".
// A persisted store first gets its secondary indexes rebuilt from its items (a kill -9 may
// have cut an index update short), before the server accepts a request.
// Arguments: <host> <port> [path]; prints "Dynalite listening at: http://<host>:<port>".
import dynalite from 'dynalite';
import { repairSecondaryIndexes } from './dynalite-index-repair.mjs';

const [host, port, path] = process.argv.slice(2);
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
// Ctrl-C reaches the whole foreground group: the parent closes the database in order.
process.on('SIGINT', () => undefined);
if (path) {
  const started = Date.now();
  const repairs = await repairSecondaryIndexes(path);
  if (Object.keys(repairs).length) {
    console.error(
      `dynalite: repaired secondary indexes in ${Date.now() - started} ms: ${JSON.stringify(repairs)}`,
    );
  }
}
const server = dynalite({ path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
server.listen(Number(port), host, () => {
  console.log(`Dynalite listening at: http://${host}:${server.address().port}`);
});
