/**
 * The job lifecycle. Every write moves a job along one of these edges with a conditional
 * write on its current state, so two writers (an API call and the dispatcher, or two
 * dispatcher rounds) can never both win.
 *
 *   PENDING ──► DISPATCHED ──► RUNNING ──► SUCCEEDED | FAILED | CANCELLED
 *      ▲            │             │
 *      └─ PREEMPTED ◄─────────────┘   (preemption, spot reclaim, host loss)
 */
export const JOB_STATES = [
  'PENDING',
  'DISPATCHED',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
  'PREEMPTED',
] as const;
export type JobState = (typeof JOB_STATES)[number];

const EDGES: Record<JobState, readonly JobState[]> = {
  // FAILED from PENDING: a job that can never run here (its backend is not configured).
  PENDING: ['DISPATCHED', 'CANCELLED', 'FAILED'],
  DISPATCHED: ['RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'PREEMPTED'],
  RUNNING: ['SUCCEEDED', 'FAILED', 'CANCELLED', 'PREEMPTED'],
  PREEMPTED: ['PENDING', 'CANCELLED'],
  SUCCEEDED: [],
  FAILED: [],
  CANCELLED: [],
};

export const TERMINAL_STATES: readonly JobState[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];
/** States in which the job holds (or is about to hold) backend capacity. */
export const ACTIVE_STATES: readonly JobState[] = ['DISPATCHED', 'RUNNING'];

export function canTransition(from: JobState, to: JobState): boolean {
  return EDGES[from].includes(to);
}

/** States from which `to` may be reached: the condition of a transition's write. */
export function sourcesOf(to: JobState): JobState[] {
  return JOB_STATES.filter((from) => EDGES[from].includes(to));
}

export function isTerminal(state: JobState): boolean {
  return TERMINAL_STATES.includes(state);
}
