import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { environmentConfig } from '../../config/environments';
import type { EnvironmentName } from '../../config/schema';
import { DynamoDbJobStore } from '../../jobs/store/dynamodb-job-store';
import { tracer } from './powertools';

/** Reads a variable the stack must set; a missing one is a deployment bug, so fail loudly. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

/** The environment's config is bundled with the function: the same source the stacks came from. */
export const environment = environmentConfig(requiredEnv('DRIVETRAIN_ENV') as EnvironmentName);

export const dynamodb = tracer.captureAWSv3Client(new DynamoDBClient({}));

export const jobStore = new DynamoDbJobStore(dynamodb, requiredEnv('JOB_TABLE_NAME'));
