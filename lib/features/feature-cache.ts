import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { FeatureStoreConfig } from '../../config/features';

export interface FeatureCacheProps {
  readonly env: string;
  readonly vpc: ec2.IVpc;
  readonly key: kms.IKey;
  readonly config: FeatureStoreConfig['cache'];
}

/** ElastiCache Serverless for Valkey listens here (and on 6380 for reads from replicas). */
export const CACHE_PORTS = ec2.Port.tcpRange(6379, 6380);

/**
 * The feature cache: ElastiCache Serverless for Valkey in the private subnets, encrypted at
 * rest with the stack's key and in transit (serverless caches are TLS only), with IAM
 * authentication: the functions sign a token as the feature user, which may touch only the
 * cache's `ft:*` keys. The `default` user every user group needs is switched off.
 */
export class FeatureCache extends Construct {
  public readonly cache: elasticache.CfnServerlessCache;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly userId: string;
  public readonly cacheName: string;

  constructor(scope: Construct, id: string, props: FeatureCacheProps) {
    super(scope, id);
    this.cacheName = `drivetrain-${props.env}-features`;
    this.userId = `drivetrain-${props.env}-features`;
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `Drivetrain ${props.env} feature cache: Valkey from the feature functions only`,
      allowAllOutbound: false,
    });

    const user = new elasticache.CfnUser(this, 'FeatureUser', {
      engine: 'valkey',
      userId: this.userId,
      // IAM authentication requires the user name to equal the user id.
      userName: this.userId,
      authenticationMode: { Type: 'iam' },
      accessString: 'on ~ft:* -@all +@read +@write +@scripting +@connection +cluster +info',
    });
    const disabledDefault = new elasticache.CfnUser(this, 'DefaultUser', {
      engine: 'valkey',
      userId: `drivetrain-${props.env}-features-default`,
      userName: 'default',
      authenticationMode: { Type: 'iam' },
      accessString: 'off -@all',
    });
    const users = new elasticache.CfnUserGroup(this, 'Users', {
      engine: 'valkey',
      userGroupId: `drivetrain-${props.env}-features`,
      userIds: [user.userId, disabledDefault.userId],
    });
    users.addDependency(user);
    users.addDependency(disabledDefault);

    this.cache = new elasticache.CfnServerlessCache(this, 'Resource', {
      serverlessCacheName: this.cacheName,
      description: `Drivetrain ${props.env} online feature cache`,
      engine: 'valkey',
      majorEngineVersion: '8',
      kmsKeyId: props.key.keyArn,
      subnetIds: props.vpc.privateSubnets.map((subnet) => subnet.subnetId),
      securityGroupIds: [this.securityGroup.securityGroupId],
      userGroupId: users.userGroupId,
      snapshotRetentionLimit: props.config.snapshotRetentionDays,
      cacheUsageLimits: {
        dataStorage: { maximum: props.config.maxDataStorageGb, unit: 'GB' },
        ecpuPerSecond: { maximum: props.config.maxEcpuPerSecond },
      },
    });
    this.cache.addDependency(users);
  }

  public get endpointAddress(): string {
    return this.cache.attrEndpointAddress;
  }

  public get endpointPort(): string {
    return this.cache.attrEndpointPort;
  }

  /** Lets `peer` reach the cache's ports. */
  public allowFrom(peer: ec2.ISecurityGroup): void {
    this.securityGroup.addIngressRule(peer, CACHE_PORTS, 'Valkey from a feature function');
    peer.addEgressRule(this.securityGroup, CACHE_PORTS, 'Valkey (TLS) to the feature cache');
  }

  /** `elasticache:Connect` as the feature user, on this cache only. */
  public connectStatement(): iam.PolicyStatement {
    const stack = Stack.of(this);
    return new iam.PolicyStatement({
      actions: ['elasticache:Connect'],
      resources: [
        stack.formatArn({
          service: 'elasticache',
          resource: 'serverlesscache',
          resourceName: this.cacheName,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
        stack.formatArn({
          service: 'elasticache',
          resource: 'user',
          resourceName: this.userId,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
    });
  }
}
