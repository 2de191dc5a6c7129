import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { Construct, type IDependable } from 'constructs';

export interface DispatcherClusterAccessProps {
  readonly cluster: eks.Cluster;
  /** The dispatcher's execution role. */
  readonly role: iam.IRole;
  /** The dispatcher's security group: let through to the private API endpoint. */
  readonly securityGroup: ec2.ISecurityGroup;
  /** Team namespaces the dispatcher creates and deletes RayJobs in. */
  readonly namespaces: readonly string[];
  /** What creates the namespaces; the role bindings go in after them. */
  readonly namespacesCreatedBy: readonly IDependable[];
}

/** Kubernetes group the dispatcher's access entry maps its IAM role to. */
export const DISPATCHER_GROUP = 'drivetrain-dispatcher';

/**
 * What the dispatcher needs to run RayJobs on the private EKS cluster (backends/ray-eks.ts):
 * HTTPS to the API endpoint, an access entry for its role, and RBAC that allows exactly the
 * RayJob calls it makes. EKS's predefined access policies (AmazonEKSEditPolicy and the
 * like) cover only built-in API groups, not KubeRay's ray.io, so the permissions are a
 * Kubernetes ClusterRole bound to the entry's group instead: read RayJobs cluster-wide
 * (the backend finds an attempt by name across namespaces), create and delete them only in
 * the team namespaces.
 */
export class DispatcherClusterAccess extends Construct {
  public readonly accessEntry: eks.CfnAccessEntry;
  public readonly rbac: eks.KubernetesManifest;

  constructor(scope: Construct, id: string, props: DispatcherClusterAccessProps) {
    super(scope, id);
    const { cluster } = props;

    // The endpoint's network interfaces carry the EKS-managed cluster security group.
    new ec2.CfnSecurityGroupIngress(this, 'ApiEndpointIngress', {
      groupId: cluster.clusterSecurityGroupId,
      sourceSecurityGroupId: props.securityGroup.securityGroupId,
      ipProtocol: 'tcp',
      fromPort: 443,
      toPort: 443,
      description: 'Drivetrain dispatcher to the Kubernetes API',
    });

    this.accessEntry = new eks.CfnAccessEntry(this, 'AccessEntry', {
      clusterName: cluster.clusterName,
      principalArn: props.role.roleArn,
      type: 'STANDARD',
      kubernetesGroups: [DISPATCHER_GROUP],
    });

    const rayJobs = (verbs: string[]) => [{ apiGroups: ['ray.io'], resources: ['rayjobs'], verbs }];
    const subject = [{ kind: 'Group', name: DISPATCHER_GROUP, apiGroup: 'rbac.authorization.k8s.io' }];
    const clusterRole = (name: string) => ({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name,
    });
    this.rbac = new eks.KubernetesManifest(this, 'Rbac', {
      cluster,
      manifest: [
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRole',
          metadata: { name: `${DISPATCHER_GROUP}-read` },
          rules: rayJobs(['get', 'list']),
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: { name: `${DISPATCHER_GROUP}-read` },
          roleRef: clusterRole(`${DISPATCHER_GROUP}-read`),
          subjects: subject,
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRole',
          metadata: { name: `${DISPATCHER_GROUP}-run` },
          rules: rayJobs(['create', 'delete']),
        },
        ...props.namespaces.map((namespace) => ({
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: `${DISPATCHER_GROUP}-run`, namespace },
          roleRef: clusterRole(`${DISPATCHER_GROUP}-run`),
          subjects: subject,
        })),
      ],
    });
    for (const dependency of props.namespacesCreatedBy) this.rbac.node.addDependency(dependency);
  }
}
