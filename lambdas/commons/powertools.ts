import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

/** Shared Powertools instances: one per Lambda execution environment, as Powertools advises. */
const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'drivetrain';

export const logger = new Logger({ serviceName });
export const metrics = new Metrics({ serviceName, namespace: 'Drivetrain' });
export const tracer = new Tracer({ serviceName });
