import { type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';

export interface EncryptionKeyProps {
  /** Says what the key encrypts. */
  readonly description: string;
  readonly removalPolicy: RemovalPolicy;
  /**
   * Service principals that encrypt through the key on the stack's behalf (for example
   * `events.amazonaws.com` for dead letters): granted kms:Decrypt and kms:GenerateDataKey.
   * @default - none
   */
  readonly services?: readonly string[];
}

/**
 * A stack's customer-managed key: rotated yearly, usable by CloudWatch Logs in the stack's
 * region for its encrypted log groups, and by the given services.
 */
export function encryptionKey(scope: Construct, id: string, props: EncryptionKeyProps): kms.Key {
  const key = new kms.Key(scope, id, {
    description: props.description,
    enableKeyRotation: true,
    removalPolicy: props.removalPolicy,
  });
  key.grantEncryptDecrypt(new iam.ServicePrincipal(`logs.${Stack.of(scope).region}.amazonaws.com`));
  for (const service of props.services ?? []) {
    key.grant(new iam.ServicePrincipal(service), 'kms:Decrypt', 'kms:GenerateDataKey');
  }
  return key;
}
