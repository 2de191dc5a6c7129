import { parseCommandArgs } from '../args';
import { type Command, printJson, printLines } from '../command';
import { connect } from '../connect';
import { EXIT, UsageError } from '../errors';

export const whoamiCommand: Command = {
  name: 'whoami',
  summary: 'show the team the API maps you to',
  help: `Usage: drivetrain whoami

Asks the API which team your identity maps to: on a deployed API the IAM role behind your
credentials (the team's principals in config), locally the --team you pass.`,

  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('whoami', argv, {});
    if (positionals.length > 0)
      throw new UsageError(`whoami takes no arguments, got ${positionals.join(' ')}`);
    const { body } = await connect(values, io).getWhoami();
    if (values.json) printJson(io, body);
    else printLines(io, [`team ${body.team}`]);
    return EXIT.ok;
  },
};
