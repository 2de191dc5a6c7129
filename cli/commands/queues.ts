import type { QueuesView } from '../api-types';
import { parseCommandArgs } from '../args';
import { type Command, printJson, printLines } from '../command';
import { connect } from '../connect';
import { EXIT, UsageError } from '../errors';
import { formatUsage } from '../format';
import { renderTable } from '../table';

export const queuesCommand: Command = {
  name: 'queues',
  summary: 'show per-team queues, GPU usage against quota, and why head jobs wait',
  help: `Usage: drivetrain queues

Shows, per team, the pending and running jobs, GPUs in use against quota and the
fair-share weight; the jobs at the head of each team's queue with the reason they
wait; and the GPU pools with their capacity in use.`,

  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('queues', argv, {});
    if (positionals.length > 0)
      throw new UsageError(`queues takes no arguments, got ${positionals.join(' ')}`);
    const { body } = await connect(values, io).getQueues();
    if (values.json) printJson(io, body);
    else printLines(io, renderQueues(body));
    return EXIT.ok;
  },
};

export function renderQueues(view: QueuesView): string[] {
  const teams = renderTable(
    ['TEAM', 'WEIGHT', 'PENDING', 'RUNNING', 'GPUS IN USE / QUOTA'],
    view.teams.map((team) => [
      team.team,
      String(team.weight),
      String(team.pending),
      String(team.running),
      formatUsage(team.gpusInUse, team.quota),
    ]),
  );
  const heads = view.teams.flatMap((team) => team.heads.map((head) => ({ team: team.team, ...head })));
  const waiting =
    heads.length === 0
      ? ['no jobs waiting']
      : renderTable(
          ['TEAM', 'JOB', 'NAME', 'CLASS', 'WHY PENDING'],
          heads.map((head) => [
            head.team,
            head.id,
            head.name,
            head.priorityClass,
            head.reason ? `${head.reason.message} [${head.reason.code}]` : '-',
          ]),
        );
  const pools = renderTable(
    ['POOL', 'GPU', 'CAPACITY', 'GPUS IN USE'],
    view.pools.map((pool) => [pool.pool, pool.gpuType, pool.capacityType, `${pool.gpusInUse}/${pool.gpus}`]),
  );
  return [...teams, '', 'Head of queue:', ...waiting, '', ...pools];
}
