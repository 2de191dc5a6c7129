// dynalite as a child that cannot outlive its parent: it exits when its stdin closes, which
// happens however the parent ends (a SIGKILL runs no exit handler). An orphaned dynalite
// would hold the LevelDB lock and the next start would fail with "Database is closed".
// Arguments: <host> <port> [path]; prints "Dynalite listening at: http://<host>:<port>".
import dynalite from 'dynalite';

const [host, port, path] = process.argv.slice(2);
const server = dynalite({ path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
server.listen(Number(port), host, () => {
  console.log(`Dynalite listening at: http://${host}:${server.address().port}`);
});
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
// Ctrl-C reaches the whole foreground group: the parent closes the database in order.
process.on('SIGINT', () => undefined);
