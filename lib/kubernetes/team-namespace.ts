import * as eks from 'aws-cdk-lib/aws-eks-v2';
import { Construct } from 'constructs';
import type { TeamConfig } from '../../config/schema';

export interface TeamNamespaceProps {
  readonly cluster: eks.ICluster;
  /** The team; its `kubernetes` block sizes the quota. */
  readonly team: TeamConfig;
}

/**
 * A team's namespace (`team-<name>`) with a ResourceQuota on GPUs, CPU and memory, so one
 * team's Ray clusters cannot take the whole cluster.
 */
export class TeamNamespace extends Construct {
  public readonly namespace: string;

  constructor(scope: Construct, id: string, props: TeamNamespaceProps) {
    super(scope, id);
    const { name, kubernetes } = props.team;
    this.namespace = `team-${name}`;
    const cpu = String(kubernetes.cpus);
    const memory = `${kubernetes.memoryGiB}Gi`;

    new eks.KubernetesManifest(this, 'Resource', {
      cluster: props.cluster,
      manifest: [
        {
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: {
            name: this.namespace,
            labels: {
              'drivetrain/team': name,
              // Training pods need no host access; baseline rejects privileged pods and host paths.
              'pod-security.kubernetes.io/enforce': 'baseline',
            },
          },
        },
        {
          apiVersion: 'v1',
          kind: 'ResourceQuota',
          metadata: { name: 'team-quota', namespace: this.namespace },
          spec: {
            hard: {
              // Extended resources such as GPUs take a requests quota only: they cannot be overcommitted.
              'requests.nvidia.com/gpu': String(kubernetes.gpus),
              'requests.cpu': cpu,
              'requests.memory': memory,
              'limits.cpu': cpu,
              'limits.memory': memory,
            },
          },
        },
      ],
    });
  }
}
