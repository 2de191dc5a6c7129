import type { Dispatch, JobRecord } from '../jobs/job';
import type { BackendJobStatus, BackendSubmission, CheckpointStore } from '../jobs/ports';
import { argv, attemptEnvironment, fleetOf } from './attempt';

/**
 * The RayJob (KubeRay `ray.io/v1`) of one attempt: a Ray cluster sized as the job's gang,
 * in the team's namespace, torn down when the job ends.
 */

/**
 * Node labels and taint of the EKS GPU NodePools. They mirror GPU_TYPE_LABEL,
 * CAPACITY_TYPE_LABEL and GPU_TAINT of lib/kubernetes/gpu-node-pools (a test keeps them
 * equal); importing them would pull aws-cdk-lib into the dispatcher's Lambda bundle.
 */
export const GPU_TYPE_LABEL = 'drivetrain/gpu-type';
export const CAPACITY_TYPE_LABEL = 'drivetrain/capacity-type';
export const GPU_TAINT = { key: 'nvidia.com/gpu', value: 'present' } as const;

export const JOB_ID_LABEL = 'drivetrain/job-id';
/** Karpenter's pod annotation that blocks voluntary disruption of its node. */
export const DO_NOT_DISRUPT = 'karpenter.sh/do-not-disrupt';
export const TEAM_LABEL = 'drivetrain/team';
export const ATTEMPT_LABEL = 'drivetrain/attempt';

export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  /** Set by the API server (RFC 3339). */
  readonly creationTimestamp?: string;
}

export interface KubernetesObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ObjectMeta;
}

export interface Container {
  readonly name: string;
  readonly image: string;
  readonly env?: readonly { readonly name: string; readonly value: string }[];
  readonly resources?: {
    readonly requests: Readonly<Record<string, string>>;
    readonly limits: Readonly<Record<string, string>>;
  };
  readonly volumeMounts?: readonly { readonly name: string; readonly mountPath: string }[];
}

export interface PodTemplate {
  readonly metadata?: {
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec: {
    readonly containers: readonly Container[];
    readonly restartPolicy?: 'Never';
    readonly nodeSelector?: Readonly<Record<string, string>>;
    readonly tolerations?: readonly {
      readonly key: string;
      readonly operator: 'Equal';
      readonly value: string;
      readonly effect: 'NoSchedule';
    }[];
    readonly volumes?: readonly {
      readonly name: string;
      readonly emptyDir: { readonly medium: 'Memory' };
    }[];
  };
}

export interface RayJob extends KubernetesObject {
  readonly spec: {
    readonly entrypoint: string;
    readonly submissionMode: 'K8sJobMode';
    readonly shutdownAfterJobFinishes: boolean;
    readonly ttlSecondsAfterFinished: number;
    readonly activeDeadlineSeconds: number;
    readonly backoffLimit: number;
    readonly submitterPodTemplate: PodTemplate;
    readonly rayClusterSpec: {
      readonly headGroupSpec: {
        readonly rayStartParams: Readonly<Record<string, string>>;
        readonly template: PodTemplate;
      };
      readonly workerGroupSpecs?: readonly {
        readonly groupName: string;
        readonly replicas: number;
        readonly minReplicas: number;
        readonly maxReplicas: number;
        readonly rayStartParams: Readonly<Record<string, string>>;
        readonly template: PodTemplate;
      }[];
    };
  };
  /** Written by KubeRay. */
  readonly status?: {
    readonly jobDeploymentStatus?: string;
    readonly jobStatus?: string;
    readonly reason?: string;
    readonly message?: string;
    /** The RayCluster's view of its pods (KubeRay RayClusterStatus). */
    readonly rayClusterStatus?: {
      readonly state?: string;
      readonly readyWorkerReplicas?: number;
      readonly desiredWorkerReplicas?: number;
    };
  };
}

export interface RayJobOptions {
  /**
   * How long KubeRay keeps a finished RayJob, for `kubectl describe` and logs; its Ray
   * cluster is deleted as soon as the job ends either way.
   * @default 3600
   */
  readonly ttlSecondsAfterFinished?: number;
  /** Where each job checkpoints (its team's prefix of the artifacts bucket): DRIVETRAIN_CHECKPOINT_DIR. */
  readonly checkpoints?: Pick<CheckpointStore, 'locationOf'>;
}

/** The Kubernetes namespace of a team (lib/kubernetes/team-namespace). */
export function teamNamespace(team: string): string {
  return `team-${team}`;
}

/**
 * The RayJob of one attempt. The head pod is gang member 0 and a worker group holds the
 * other `nodes - 1`, each pod with the job's per-node resources, so the GPU pods equal the
 * gang. KubeRay does not retry (backoffLimit 0): the dispatcher owns retries, under a new
 * attempt name, and would otherwise count one attempt twice.
 */
export function rayJobManifest({ job, dispatch }: BackendSubmission, options: RayJobOptions = {}): RayJob {
  const { spec } = job;
  const labels = {
    [JOB_ID_LABEL]: job.id,
    [TEAM_LABEL]: job.team,
    [ATTEMPT_LABEL]: String(job.attempt),
  };
  const checkpointDir = options.checkpoints?.locationOf(job);
  const pod = (name: string) => gangPodTemplate(job, dispatch, name, labels, checkpointDir);
  const workers = spec.resources.nodes - 1;
  return {
    apiVersion: 'ray.io/v1',
    kind: 'RayJob',
    metadata: { name: dispatch.name, namespace: teamNamespace(job.team), labels },
    spec: {
      entrypoint: argv(spec).map(shellQuote).join(' '),
      submissionMode: 'K8sJobMode',
      shutdownAfterJobFinishes: true,
      ttlSecondsAfterFinished: options.ttlSecondsAfterFinished ?? 3600,
      activeDeadlineSeconds: spec.maxRuntimeS,
      backoffLimit: 0,
      // Explicit resources: the team namespace's ResourceQuota rejects pods without them.
      submitterPodTemplate: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name: 'ray-job-submitter',
              image: spec.image,
              resources: {
                requests: { cpu: '500m', memory: '512Mi' },
                limits: { cpu: '500m', memory: '512Mi' },
              },
            },
          ],
        },
      },
      rayClusterSpec: {
        headGroupSpec: { rayStartParams: {}, template: pod('ray-head') },
        ...(workers > 0
          ? {
              workerGroupSpecs: [
                {
                  groupName: 'gang',
                  replicas: workers,
                  minReplicas: workers,
                  maxReplicas: workers,
                  rayStartParams: {},
                  template: pod('ray-worker'),
                },
              ],
            }
          : {}),
      },
    },
  };
}

function gangPodTemplate(
  job: JobRecord,
  dispatch: Dispatch,
  containerName: string,
  labels: Record<string, string>,
  checkpointDir: string | undefined,
): PodTemplate {
  const { resources } = job.spec;
  const gpu = resources.gpus > 0;
  const quantities = {
    cpu: String(resources.cpus),
    memory: `${resources.memoryMiB}Mi`,
    ...(gpu ? { 'nvidia.com/gpu': String(resources.gpus) } : {}),
  };
  return {
    // Karpenter never voluntarily disrupts (consolidates, drifts) a node running a gang member.
    metadata: { labels, annotations: { [DO_NOT_DISRUPT]: 'true' } },
    spec: {
      containers: [
        {
          name: containerName,
          image: job.spec.image,
          env: Object.entries(attemptEnvironment(job, { checkpointDir })).map(([name, value]) => ({
            name,
            value,
          })),
          // requests == limits: Guaranteed QoS, never evicted for a neighbour's memory.
          resources: { requests: quantities, limits: quantities },
          volumeMounts: [{ name: 'dshm', mountPath: '/dev/shm' }],
        },
      ],
      ...(gpu
        ? {
            nodeSelector: {
              [GPU_TYPE_LABEL]: fleetOf(job.spec),
              [CAPACITY_TYPE_LABEL]: dispatch.capacityType,
            },
            tolerations: [{ ...GPU_TAINT, operator: 'Equal', effect: 'NoSchedule' }],
          }
        : {}),
      // The container runtime's 64 MiB /dev/shm is too small for Ray's object store and NCCL.
      volumes: [{ name: 'dshm', emptyDir: { medium: 'Memory' } }],
    },
  };
}

/** POSIX shell quoting: Ray runs the entrypoint through a shell, the spec's argv must survive it. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Ray's messages when a node (and with it a worker or the head) went away, e.g. a spot reclaim. */
const LOST_NODE = /node (has died|.*marked dead|.*was terminated)|preempt|spot/i;

/**
 * What a RayJob's status means for the job. KubeRay does not say why a node vanished, so a
 * failure is INTERRUPTED only when Ray's message names a lost node.
 */
export function rayJobToStatus(rayJob: RayJob): BackendJobStatus {
  const base = { name: rayJob.metadata.name, backendJobId: rayJob.metadata.uid ?? '' };
  const { jobDeploymentStatus, jobStatus, reason, message } = rayJob.status ?? {};
  const why = [reason, message].filter(Boolean).join(': ') || undefined;
  switch (jobDeploymentStatus) {
    case 'Running':
      return { ...base, state: jobStatus === 'RUNNING' ? 'RUNNING' : 'STARTING' };
    case 'Complete':
      if (jobStatus === 'SUCCEEDED') return { ...base, state: 'SUCCEEDED', exitCode: 0 };
      return { ...base, state: failureState(message), reason: why ?? `Ray job ${jobStatus ?? 'ended'}` };
    case 'Failed':
      // activeDeadlineSeconds (the spec's maxRuntimeS) passed: KubeRay fails the RayJob with DeadlineExceeded.
      if (reason === 'DeadlineExceeded') return { ...base, state: 'FAILED', reason: 'timed out' };
      return { ...base, state: failureState(message), reason: why ?? 'RayJob failed' };
    default:
      // '', New, Initializing, Waiting, Suspended: the Ray cluster is not up yet.
      return { ...base, state: 'STARTING' };
  }
}

function failureState(message: string | undefined): 'FAILED' | 'INTERRUPTED' {
  return message !== undefined && LOST_NODE.test(message) ? 'INTERRUPTED' : 'FAILED';
}
