import type { Command } from '../command';
import { EXIT, UsageError } from '../errors';
import { dataIngest } from './data-ingest';
import { dataRuns } from './data-runs';
import { dataShow } from './data-show';
import { dataTables } from './data-tables';

const SUBCOMMANDS = { ingest: dataIngest, runs: dataRuns, tables: dataTables, show: dataShow } as const;

export const dataCommand: Command = {
  name: 'data',
  summary: 'sensor ETL on this machine: ingest logs, list runs and tables, show rows',
  help: `Usage: drivetrain data <ingest|runs|tables|show> ...

The sensor-ETL pillar on this machine (the .drivetrain/ folder; see README: Sensor ETL):

  data ingest <file>... [--vehicle <id> --drive <id>] [--force] [--no-wait]
      upload raw logs (.mcap, .bag, .db3 with its metadata.yaml, .can.parquet) into the
      local raw bucket under raw/<vehicle>/<drive>/ and follow the run they start
  data runs [--limit <n>]        ingest runs, newest first, with their state and counts
  data tables                    Iceberg tables with snapshot, rows, files and partitions
  data show <table> [--limit <n>]   rows of one table

Files already laid out as .../raw/<vehicle>/<drive>/<name> keep their vehicle and drive.
With 'npm start' running, its raw-folder watcher starts the runs; otherwise the command
runs them itself. --force re-ingests versions already ingested (not with a watcher running).`,

  async run(argv, io) {
    const [sub, ...rest] = argv;
    const run = sub ? SUBCOMMANDS[sub as keyof typeof SUBCOMMANDS] : undefined;
    if (!run) {
      throw new UsageError(
        `${sub ? `unknown data command '${sub}'` : 'data needs a command'}: one of ${Object.keys(SUBCOMMANDS).join(', ')}`,
      );
    }
    return (await run(rest, io)) ?? EXIT.ok;
  },
};
