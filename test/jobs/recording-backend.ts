import type { BackendKind, Dispatch } from '../../jobs/job';
import type { BackendSubmission, ComputeBackend } from '../../jobs/ports';

/**
 * A backend that remembers what it was asked, keyed by name like a real control plane, and
 * refuses duplicate names the way SageMaker and Kubernetes do (so tests see double submits).
 */
export class RecordingBackend implements ComputeBackend {
  readonly submissions: BackendSubmission[] = [];
  readonly terminations: { name: string; reason: string }[] = [];
  private readonly jobs = new Map<string, string>();

  constructor(readonly kind: BackendKind = 'local') {}

  async submit({ job, dispatch }: BackendSubmission) {
    this.submissions.push({ job, dispatch });
    const existing = this.jobs.get(dispatch.name);
    if (existing) return { backendJobId: existing };
    const backendJobId = `backend-${this.jobs.size + 1}`;
    this.jobs.set(dispatch.name, backendJobId);
    return { backendJobId };
  }

  async findByName(dispatch: Dispatch) {
    const backendJobId = this.jobs.get(dispatch.name);
    return backendJobId ? { backendJobId } : undefined;
  }

  async terminate(dispatch: Dispatch, reason: string) {
    this.terminations.push({ name: dispatch.name, reason });
  }

  /** Distinct backend jobs created. */
  get created(): number {
    return this.jobs.size;
  }
}
