import { type BatchClient, DescribeJobsCommand, type JobDetail } from '@aws-sdk/client-batch';
import { type CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import type { JobStore, LogChunk, LogSource } from '../jobs/ports';
import { isTerminal } from '../jobs/states';

/** Lines per read: enough to fill a terminal, small enough for one API Gateway response. */
const MAX_LINES = 1_000;

/**
 * Job logs on AWS: the CloudWatch Logs stream Batch wrote the attempt's container output to
 * (for a gang job, the main node's). Offsets count log events from the start of the stream.
 */
export class BatchLogSource implements LogSource {
  constructor(
    private readonly store: JobStore,
    private readonly batch: BatchClient,
    private readonly logs: CloudWatchLogsClient,
    private readonly logGroupName: string,
  ) {}

  async read(jobId: string, attempt: number, offset: number): Promise<LogChunk> {
    const job = await this.store.get(jobId);
    const dispatch = job?.dispatch;
    // Only the current attempt's Batch job id is kept; earlier attempts' streams are in the console.
    if (!job || !dispatch?.backendJobId || dispatch.backend !== 'batch' || attempt !== job.attempt) {
      return { lines: [], nextOffset: offset, complete: true };
    }
    const described = await this.describe(dispatch.backendJobId);
    // A multi-node job's parent runs no container: its main node (`<id>#<n>`) writes the log.
    const main = described?.nodeProperties
      ? await this.describe(`${dispatch.backendJobId}#${described.nodeProperties.mainNode ?? 0}`)
      : described;
    const stream = main?.container?.logStreamName ?? main?.attempts?.at(-1)?.container?.logStreamName;
    const ended = isTerminal(job.state) || job.attempt > attempt;
    if (!stream) return { lines: [], nextOffset: offset, complete: ended };

    const lines: string[] = [];
    let skipped = 0;
    let token: string | undefined;
    for (;;) {
      const page = await this.logs.send(
        new GetLogEventsCommand({
          logGroupName: this.logGroupName,
          logStreamName: stream,
          startFromHead: true,
          nextToken: token,
        }),
      );
      for (const event of page.events ?? []) {
        if (skipped < offset) skipped++;
        else if (lines.length < MAX_LINES) lines.push(event.message ?? '');
      }
      // CloudWatch signals the end of a stream by returning the token it was given.
      const atEnd = page.nextForwardToken === token || (page.events ?? []).length === 0;
      if (atEnd || lines.length >= MAX_LINES) {
        return { lines, nextOffset: offset + lines.length, complete: ended && atEnd };
      }
      token = page.nextForwardToken;
    }
  }

  private async describe(batchJobId: string): Promise<JobDetail | undefined> {
    const { jobs = [] } = await this.batch.send(new DescribeJobsCommand({ jobs: [batchJobId] }));
    return jobs[0];
  }
}
