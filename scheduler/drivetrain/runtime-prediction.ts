import type { Job, RunningJob } from '../model';
import type { Decision } from '../policy';

const MINUTE = 60;
const HOUR = 3600;

/**
 * Where an exceeded prediction goes next: the first of these run times above the time run so
 * far (Tsafrir, Etsion & Feitelson 2007 extend an under-prediction stepwise by such a list
 * rather than jumping to the user's limit).
 */
export const EXTENSION_STEPS_S: readonly number[] = [
  MINUTE,
  5 * MINUTE,
  15 * MINUTE,
  30 * MINUTE,
  HOUR,
  2 * HOUR,
  5 * HOUR,
  10 * HOUR,
  20 * HOUR,
  50 * HOUR,
  100 * HOUR,
];

/**
 * System-generated runtime predictions for planning holds and backfill (Tsafrir, Etsion &
 * Feitelson, "Backfilling using system-generated predictions rather than user runtime
 * estimates", IEEE TPDS 2007): a job is predicted to run as long as the average of the last
 * two completed jobs of the same submitter, never longer than its own limit; with no history
 * the limit is the prediction. Users' limits are coarse overestimates, so holds planned from
 * them keep nodes back far longer than needed. The limit stays the kill limit; only run
 * times of jobs that ended are read, never a pending job's true duration.
 *
 * The scheduler's jobs carry no user, so the submitter is the job's team (`team`), or the
 * team's jobs of the same shape and declared limit (`shape`), closer to one user's series of
 * runs.
 */
export class RuntimePredictor {
  private readonly recent = new Map<string, number[]>();

  constructor(readonly submitter: PredictionKey = 'team') {}

  /** `runtimeS` is the whole run time of a job that ended (all its attempts). */
  record(job: PredictedJob, runtimeS: number): void {
    const key = this.keyOf(job);
    const runs = this.recent.get(key) ?? [];
    runs.push(Math.max(0, runtimeS));
    if (runs.length > 2) runs.shift();
    this.recent.set(key, runs);
  }

  /** The predicted whole run time of `job`. */
  predictedRuntime(job: PredictedJob): number {
    const runs = this.recent.get(this.keyOf(job));
    if (runs === undefined || runs.length === 0) return job.maxRuntimeS;
    const average = runs.reduce((sum, run) => sum + run, 0) / runs.length;
    return Math.min(job.maxRuntimeS, average);
  }

  /**
   * When the running attempt is expected to end: its start plus what the prediction leaves
   * after earlier attempts, extended stepwise once the attempt outlives it, and never past
   * the attempt's kill limit.
   */
  expectedEnd(run: RunningJob, now: number): number {
    const limitEnd = run.startedAt + run.job.maxRuntimeS;
    const earlierS = run.job.attainedGpuS / Math.max(1, run.job.resources.gpus);
    let end = run.startedAt + Math.max(0, this.predictedRuntime(run.job) - earlierS);
    if (end <= now) {
      const ranS = now - run.startedAt;
      const step = EXTENSION_STEPS_S.find((candidate) => candidate > ranS);
      end = step === undefined ? limitEnd : run.startedAt + step;
    }
    return Math.max(now, Math.min(end, limitEnd));
  }

  /** The key of `job`'s series; `RuntimePredictor.from` takes history by these keys. */
  keyOf(job: PredictedJob): string {
    if (this.submitter === 'team') return job.team;
    const { gpuType, gpus, nodes } = job.resources;
    return `${job.team}|${gpuType}|${gpus}|${nodes}|${job.maxRuntimeS}`;
  }

  /** A predictor that has seen `history`: the last run times by `keyOf`. */
  static from(
    history: Readonly<Record<string, readonly number[]>> | undefined,
    submitter: PredictionKey = 'team',
  ): RuntimePredictor {
    const predictor = new RuntimePredictor(submitter);
    for (const [key, runs] of Object.entries(history ?? {})) predictor.recent.set(key, runs.slice(-2));
    return predictor;
  }
}

export type PredictionKey = 'team' | 'shape';
type PredictedJob = Pick<Job, 'team' | 'maxRuntimeS' | 'resources'>;

/**
 * Learns run times from what a policy session sees: when each job started (with the run
 * time of its earlier attempts) and that it ended. The end is judged at the next round, the
 * first time the session is told the time.
 */
export class RunTimeLearner {
  private readonly attempts = new Map<string, { job: Job; startedAt: number }>();
  private ended: string[] = [];

  constructor(readonly predictor: RuntimePredictor) {}

  /** After a round: its starts run from `now`, its victims' attempts are over. */
  applied(decision: Decision, started: ReadonlyMap<string, Job>, now: number): void {
    for (const { jobId } of decision.preemptions) this.attempts.delete(jobId);
    for (const [jobId, job] of started) this.attempts.set(jobId, { job, startedAt: now });
  }

  finished(jobId: string): void {
    if (this.attempts.has(jobId)) this.ended.push(jobId);
  }

  /** Before a round at `now`: jobs that ended since the last one ran until now. */
  learn(now: number): RuntimePredictor {
    for (const jobId of this.ended) {
      const attempt = this.attempts.get(jobId)!;
      this.attempts.delete(jobId);
      const earlierS = attempt.job.attainedGpuS / Math.max(1, attempt.job.resources.gpus);
      this.predictor.record(attempt.job, earlierS + now - attempt.startedAt);
    }
    this.ended = [];
    return this.predictor;
  }
}
