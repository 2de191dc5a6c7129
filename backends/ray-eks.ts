import type { Dispatch } from '../jobs/job';
import type { BackendSubmission, ComputeBackend } from '../jobs/ports';
import { type KubernetesApi, KubernetesApiError } from './kubernetes-api';
import { type RayJob, type RayJobOptions, rayJobManifest, teamNamespace } from './ray-job';

export type RayEksBackendOptions = RayJobOptions;

/** The collection (or, with a name, the object) path of RayJobs in a namespace. */
export function rayJobPath(namespace: string, name?: string): string {
  const collection = `/apis/ray.io/v1/namespaces/${encodeURIComponent(namespace)}/rayjobs`;
  return name === undefined ? collection : `${collection}/${encodeURIComponent(name)}`;
}

/**
 * EKS with KubeRay: one RayJob per attempt in the team's namespace. Object names are
 * unique per namespace, so a repeated submit gets 409 and returns the first RayJob's uid.
 *
 * findByName and terminate get only the dispatch, which does not name the team: the
 * dispatcher records the namespace as `dispatch.queue` (see `teamNamespace`).
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

  /** The RayJob with KubeRay's status, for rayJobToStatus; undefined once it is gone. */
  async find(dispatch: Dispatch): Promise<RayJob | undefined> {
    try {
      return await this.api.get<RayJob>(pathOf(dispatch));
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async terminate(dispatch: Dispatch, _reason: string): Promise<void> {
    try {
      await this.api.delete(pathOf(dispatch));
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
  }
}

function pathOf(dispatch: Dispatch): string {
  if (dispatch.queue === undefined) {
    throw new Error(`dispatch ${dispatch.name} has no queue: record the team namespace there`);
  }
  return rayJobPath(dispatch.queue, dispatch.name);
}

function uidOf(rayJob: RayJob): { backendJobId: string } {
  const uid = rayJob.metadata.uid;
  if (uid === undefined) throw new Error(`RayJob ${rayJob.metadata.name} has no uid`);
  return { backendJobId: uid };
}

function isStatus(error: unknown, status: number): boolean {
  return error instanceof KubernetesApiError && error.status === status;
}
