import type { ClusterState, Job, Placement, UsageLedger } from './model';

/** Machine-readable reasons a job is still pending. */
export type PendingCode =
  /** Team is at its nominal quota and no idle capacity is left to borrow. */
  | 'quota'
  /** No pool the job may use has room, and the job may not preempt anything there. */
  | 'capacity'
  /** Jobs of the same class ahead in fair-share order took the free capacity. */
  | 'priority'
  /** It would fit, but only on nodes held for a larger job and it could outlast that hold. */
  | 'gang-reservation'
  /** A job of a higher (possibly aged) class is itself still waiting. */
  | 'blocked-by-higher-class'
  /** No pool of this GPU type is large enough for the job, however empty. */
  | 'unschedulable';

export interface PendingReason {
  readonly code: PendingCode;
  /** One sentence for humans, e.g. in `drivetrain jobs describe`. */
  readonly message: string;
}

export interface StartJob {
  readonly jobId: string;
  readonly placement: Placement;
}

export interface PreemptJob {
  readonly jobId: string;
  /** The waiting job the capacity is freed for. */
  readonly forJobId: string;
  readonly reason: 'higher-class' | 'reclaim-quota';
}

export interface WaitingJob {
  readonly jobId: string;
  readonly reason: PendingReason;
}

/** Nodes held for a blocked gang job until `untilS`, its earliest possible start. */
export interface Reservation {
  readonly jobId: string;
  readonly placement: Placement;
  readonly untilS: number;
  /**
   * When the holder is expected to start, judged by predicted run times (`untilS` by the
   * running jobs' limits): backfill on held nodes must be expected to end by then too.
   */
  readonly expectedS?: number;
  /** Held for a job past the starvation bound: binds every job, whatever its class. */
  readonly starving?: boolean;
  /** The holder's class, and whether it may be preempted (a job that may preempt it need not wait for its hold). */
  readonly holder?: { readonly priorityClass: Job['priorityClass']; readonly preemptible: boolean };
}

/**
 * The outcome of one round. Apply `preemptions` before `starts`: some starts use capacity
 * that the preemptions free.
 */
export interface Decision {
  readonly starts: readonly StartJob[];
  readonly preemptions: readonly PreemptJob[];
  /** One entry per job left pending; with `explain: false`, only for jobs the round looked at. */
  readonly waiting: readonly WaitingJob[];
  /** The first of `reservations`, for callers that show one hold. */
  readonly reservation?: Reservation;
  /** Every hold of the round; their node sets never overlap. */
  readonly reservations?: readonly Reservation[];
  /**
   * The holds to keep (of jobs past the starvation bound, and the EASY hold): pass those of
   * jobs still pending back as `ClusterState.carriedHolds`, so each job keeps its nodes and
   * its start time until it starts.
   */
  readonly carriedHolds?: readonly Reservation[];
  /** Store and pass back as `ClusterState.usage` next round. */
  readonly usage: UsageLedger;
}

export interface RoundOptions {
  /**
   * Give every pending job a why-pending reason. Costs time linear in the queue, which a
   * simulator replaying 150,000 rounds can skip. Default true.
   */
  readonly explain?: boolean;
}

/**
 * A scheduling policy: deterministic and free of I/O, so the Lambda dispatcher, the local
 * runtime and the simulator run the same code.
 */
export interface SchedulingPolicy {
  readonly name: string;
  /** One round from a full snapshot, as the Lambda dispatcher runs it. Pure. */
  decide(state: ClusterState, now: number): Decision;
  /**
   * A long-lived session that keeps its queues indexed between rounds, for callers that see
   * every change (the local runtime, the simulator). Same decisions as `decide`.
   */
  open(state: ClusterState): PolicySession;
}

/**
 * A policy's view of the cluster between rounds. Tell it every change; it applies its own
 * decisions: started jobs run, preempted jobs leave (resubmit them, with their attained
 * service, to requeue them).
 */
export interface PolicySession {
  /** A job became pending: newly submitted, or preempted and requeued. */
  submit(job: Job): void;
  /** A pending job was cancelled. */
  withdraw(jobId: string): void;
  /** A running job ended, for whatever reason. */
  finish(jobId: string): void;
  /** A running job saved a checkpoint at `at`. */
  checkpointed(jobId: string, at: number): void;
  decide(now: number, options?: RoundOptions): Decision;
}
