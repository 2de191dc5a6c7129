/**
 * One dispatcher round in a process of its own that is SIGKILLed right after the backend
 * accepted the submit and before the dispatcher recorded it: what a Lambda timeout or an
 * out-of-memory kill does. Arguments: <dynamodb endpoint> <table> <backend dir>.
 */
import { environmentConfig } from '../../config/environments';
import { localPools, teamsOf } from '../../jobs/cluster';
import { Dispatcher } from '../../jobs/dispatcher';
import { DynamoDbJobStore } from '../../jobs/store/dynamodb-job-store';
import { localDynamoDbClient } from '../../local/dynalite';
import { DrivetrainPolicy } from '../../scheduler/drivetrain/policy';
import { FileBackend } from './file-backend';

const [endpoint, table, backendDir] = process.argv.slice(2) as [string, string, string];
const environment = environmentConfig('dev');
const dispatcher = new Dispatcher({
  store: new DynamoDbJobStore(localDynamoDbClient(endpoint), table),
  policy: new DrivetrainPolicy(),
  pools: localPools(environment, { nodesPerPool: 1, gpusPerNode: 4 }),
  teams: teamsOf(environment),
  backends: { local: new FileBackend(backendDir) },
  defaultBackend: 'local',
  afterSubmit: () => {
    process.kill(process.pid, 'SIGKILL');
  },
});
await dispatcher.round();
