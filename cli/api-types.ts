import type { jobView } from '../api/job-view';
import type { JobState } from '../jobs/states';

/**
 * The job API's wire types. Job and queue shapes are the server's own types, so the CLI and
 * the API cannot drift apart.
 */

/** JSON drops properties whose value is undefined: on the wire those keys are optional. */
type OverJson<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

export type JobView = OverJson<ReturnType<typeof jobView>>;
export type { PoolUsage, QueueReport as QueuesView, TeamQueue } from '../jobs/queues';

export interface JobResponse {
  readonly job: JobView;
}

export interface JobPage {
  readonly jobs: readonly JobView[];
  readonly nextToken?: string;
}

export interface LogPage {
  readonly lines: readonly string[];
  /** Byte offset to ask for next; resuming from it never repeats or skips a line. */
  readonly nextOffset: number;
  /** The attempt has ended and every line has been returned. */
  readonly complete: boolean;
}

/** Always the caller's own team: the API takes it from the identity. */
export interface ListJobsQuery {
  readonly state?: JobState;
  readonly limit?: number;
  readonly nextToken?: string;
}

export interface LogsQuery {
  readonly attempt?: number;
  readonly offset?: number;
}
