import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';

/** The log groups Glue names at run time under /aws-glue/ (with the security configuration's name). */
export function glueLogGroupsArn(scope: Construct): string {
  return Stack.of(scope).formatArn({
    service: 'logs',
    resource: 'log-group',
    resourceName: '/aws-glue/*',
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/**
 * What a Glue job's role needs for its run logs: Glue creates the log groups and streams
 * under /aws-glue/ and associates them with the security configuration's key.
 */
export function glueJobLogsStatement(scope: Construct): iam.PolicyStatement {
  return new iam.PolicyStatement({
    actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:AssociateKmsKey'],
    resources: [glueLogGroupsArn(scope)],
  });
}
