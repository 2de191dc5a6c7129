import type { Dispatch } from '../jobs/job';
import type { BackendJobStatus, BackendSubmission, ComputeBackend } from '../jobs/ports';
import { type KubernetesApi, KubernetesApiError } from './kubernetes-api';
import {
  JOB_ID_LABEL,
  type RayJob,
  type RayJobOptions,
  rayJobManifest,
  rayJobToStatus,
  teamNamespace,
} from './ray-job';

export interface RayEksBackendOptions extends RayJobOptions {
  /**
   * All or nothing, as Kueue's waitForPodsReady: a RayJob whose pods are not all running this
   * long after creation is deleted and reported INTERRUPTED, so the dispatcher requeues the
   * job instead of letting a partly placed gang hold GPUs. From config `eks.podsReadyTimeoutS`.
   * @default 600
   */
  readonly podsReadyTimeoutS?: number;
  /** Clock, for tests. */
  readonly now?: () => Date;
}

/** The RayJobs of a namespace, one of them with `name`, or (no namespace) of the whole cluster. */
export function rayJobPath(namespace?: string, name?: string): string {
  const scope = namespace === undefined ? '' : `/namespaces/${encodeURIComponent(namespace)}`;
  const collection = `/apis/ray.io/v1${scope}/rayjobs`;
  return name === undefined ? collection : `${collection}/${encodeURIComponent(name)}`;
}

/**
 * EKS with KubeRay: one RayJob per attempt in the team's namespace. Object names are
 * unique per namespace, so a repeated submit gets 409 and returns the first RayJob's uid.
 *
 * findByName and terminate get only the dispatch, which does not name the team: they look
 * the attempt name up across namespaces (a `metadata.name` field selector), or in
 * `dispatch.queue` when the dispatcher recorded the namespace there.
 */
export class RayEksBackend implements ComputeBackend {
  readonly kind = 'eks' as const;

  constructor(
    private readonly api: KubernetesApi,
    private readonly options: RayEksBackendOptions = {},
  ) {}

  async submit(submission: BackendSubmission): Promise<{ backendJobId: string }> {
    const manifest = rayJobManifest(submission, this.options);
    const namespace = teamNamespace(submission.job.team);
    try {
      return uidOf(await this.api.create(rayJobPath(namespace), manifest));
    } catch (error) {
      if (!isStatus(error, 409)) throw error;
      return uidOf(await this.api.get<RayJob>(rayJobPath(namespace, manifest.metadata.name)));
    }
  }

  async findByName(dispatch: Dispatch): Promise<{ backendJobId: string } | undefined> {
    const rayJob = await this.find(dispatch);
    return rayJob && uidOf(rayJob);
  }

  /** The RayJob with KubeRay's status (for rayJobToStatus); undefined once it is gone. */
  async find(dispatch: Dispatch): Promise<RayJob | undefined> {
    if (dispatch.queue === undefined) {
      const selector = encodeURIComponent(`metadata.name=${dispatch.name}`);
      const list = await this.api.get<{ items: RayJob[] }>(`${rayJobPath()}?fieldSelector=${selector}`);
      return list.items[0];
    }
    try {
      return await this.api.get<RayJob>(rayJobPath(dispatch.queue, dispatch.name));
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  /** RayJobs publish no EventBridge events: the dispatcher polls them once per round. */
  async poll(dispatch: Dispatch): Promise<BackendJobStatus | undefined> {
    const rayJob = await this.find(dispatch);
    return rayJob && this.statusOf(rayJob);
  }

  /** Every Drivetrain RayJob of the cluster in one list call, matched to the attempts by name. */
  async reconcile(dispatches: readonly Dispatch[]): Promise<Map<string, BackendJobStatus>> {
    const wanted = new Set(dispatches.map((d) => d.name));
    const selector = encodeURIComponent(JOB_ID_LABEL);
    const list = await this.api.get<{ items: RayJob[] }>(`${rayJobPath()}?labelSelector=${selector}`);
    const statuses = new Map<string, BackendJobStatus>();
    for (const rayJob of list.items) {
      if (wanted.has(rayJob.metadata.name)) statuses.set(rayJob.metadata.name, await this.statusOf(rayJob));
    }
    return statuses;
  }

  /**
   * KubeRay's status, except that a gang not fully running within podsReadyTimeoutS of its
   * creation is torn down and reported INTERRUPTED with the reason, to be requeued.
   */
  private async statusOf(rayJob: RayJob): Promise<BackendJobStatus> {
    const status = rayJobToStatus(rayJob);
    const created = Date.parse(rayJob.metadata.creationTimestamp ?? '');
    const timeoutS = this.options.podsReadyTimeoutS ?? 600;
    const ageS = ((this.options.now?.() ?? new Date()).getTime() - created) / 1000;
    if (status.state !== 'STARTING' || !Number.isFinite(created) || ageS < timeoutS) return status;
    await this.remove(rayJob);
    const cluster = rayJob.status?.rayClusterStatus;
    const pods =
      cluster?.desiredWorkerReplicas === undefined
        ? ''
        : ` (${cluster.readyWorkerReplicas ?? 0} of ${cluster.desiredWorkerReplicas} workers ready)`;
    return {
      ...status,
      state: 'INTERRUPTED',
      reason: `gang not running within ${timeoutS}s of creation${pods}: RayJob deleted, job requeued`,
    };
  }

  async terminate(dispatch: Dispatch, _reason: string): Promise<void> {
    const rayJob = await this.find(dispatch);
    if (rayJob !== undefined) await this.remove(rayJob);
  }

  private async remove(rayJob: RayJob): Promise<void> {
    try {
      await this.api.delete(rayJobPath(rayJob.metadata.namespace, rayJob.metadata.name));
    } catch (error) {
      // Deleted meanwhile (finished and past its TTL, or a concurrent terminate).
      if (!isStatus(error, 404)) throw error;
    }
  }
}

function uidOf(rayJob: RayJob): { backendJobId: string } {
  const uid = rayJob.metadata.uid;
  if (uid === undefined) throw new Error(`RayJob ${rayJob.metadata.name} has no uid`);
  return { backendJobId: uid };
}

function isStatus(error: unknown, status: number): boolean {
  return error instanceof KubernetesApiError && error.status === status;
}
