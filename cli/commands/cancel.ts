import { exactlyOnePositional, parseCommandArgs } from '../args';
import { type Command, printJson } from '../command';
import { connect } from '../connect';
import { EXIT } from '../errors';

export const cancelCommand: Command = {
  name: 'cancel',
  summary: 'cancel a job',
  help: `Usage: drivetrain cancel <job-id>

Cancels a job. A waiting job is cancelled at once; a running one is stopped by the
dispatcher shortly after (see 'drivetrain status <job-id>').`,

  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('cancel', argv, {});
    const id = exactlyOnePositional('cancel', positionals, 'job-id');
    const { body } = await connect(values, io).cancelJob(id);
    const { job } = body;
    if (values.json) printJson(io, body);
    else if (job.state === 'CANCELLED') io.stdout(`cancelled job ${job.id} (${job.name})`);
    else
      io.stdout(
        `cancel requested for job ${job.id} (${job.name}); it is ${job.state} and will be stopped shortly`,
      );
    return EXIT.ok;
  },
};
