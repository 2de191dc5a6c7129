import type { JobDefinition, RegisterJobDefinitionRequest, SubmitJobRequest } from '@aws-sdk/client-batch';
import type { CreateTrainingJobRequest } from '@aws-sdk/client-sagemaker';
import {
  CREATE_TRAINING_JOB_RULES,
  REGISTER_JOB_DEFINITION_RULES,
  ruleViolations,
  SUBMIT_JOB_RULES,
} from '../../backends/aws-request-rules';
import { modelViolations } from './service-model';

/** One request as the service would receive it: the command's name and its input. */
export interface RecordedCall {
  readonly command: string;
  readonly input: unknown;
}

type Responder = (input: never) => unknown;

/** botocore's name of each service a backend talks to. */
export type RecordedService = 'batch' | 'sagemaker' | 'logs';

/** A request AWS would refuse: the service's model or a documented rule says why. */
export class RejectedRequest extends Error {
  constructor(
    readonly command: string,
    readonly problems: readonly string[],
  ) {
    super(`${command} would be rejected:\n  ${problems.join('\n  ')}`);
    this.name = 'RejectedRequest';
  }
}

/**
 * A stand-in for an AWS SDK v3 client (BatchClient, SageMakerClient, CloudWatchLogsClient)
 * that behaves as the service's front door does: every `send(command)` is checked against
 * the service's published model (botocore's service-2.json) and the documented rules the
 * model cannot state, and rejected with every reason when it breaks one. Accepted requests
 * are recorded and answered from per-command responders (`{}` when none is given); a
 * responder that throws makes `send` reject, as the SDK does with a service error.
 *
 * For Batch it remembers the job definitions it has described or registered, so a SubmitJob
 * is checked against the definition it names (node ranges against `numNodes`).
 */
export class RecordingClient {
  readonly calls: RecordedCall[] = [];
  readonly rejected: RejectedRequest[] = [];
  private readonly definitions = new Map<string, Pick<JobDefinition, 'type' | 'nodeProperties'>>();

  constructor(
    private readonly service: RecordedService,
    private readonly responders: Readonly<Record<string, Responder>> = {},
  ) {}

  async send(command: { readonly input: unknown }): Promise<unknown> {
    const name = command.constructor.name.replace(/Command$/, '');
    const problems = this.problemsOf(name, command.input);
    if (problems.length > 0) {
      const rejection = new RejectedRequest(name, problems);
      this.rejected.push(rejection);
      throw rejection;
    }
    this.calls.push({ command: name, input: command.input });
    if (name === 'RegisterJobDefinition') {
      const request = command.input as RegisterJobDefinitionRequest;
      this.definitions.set(request.jobDefinitionName!, request);
    }
    const respond = this.responders[name];
    const response = respond ? await respond(command.input as never) : {};
    if (name === 'DescribeJobDefinitions') {
      for (const definition of (response as { jobDefinitions?: JobDefinition[] }).jobDefinitions ?? []) {
        this.definitions.set(definition.jobDefinitionName!, definition);
      }
    }
    return response;
  }

  /** Why the service would refuse this request; empty when it would accept it. */
  problemsOf(command: string, input: unknown): string[] {
    const problems = modelViolations(this.service, command, input);
    if (this.service === 'batch' && command === 'SubmitJob') {
      const request = input as SubmitJobRequest;
      const definition = this.definitions.get(request.jobDefinition ?? '');
      if (!definition) problems.push(`jobDefinition ${request.jobDefinition} does not exist`);
      problems.push(...ruleViolations(SUBMIT_JOB_RULES, { request, definition }));
    }
    if (this.service === 'batch' && command === 'RegisterJobDefinition') {
      problems.push(...ruleViolations(REGISTER_JOB_DEFINITION_RULES, input as RegisterJobDefinitionRequest));
    }
    if (this.service === 'sagemaker' && command === 'CreateTrainingJob') {
      problems.push(...ruleViolations(CREATE_TRAINING_JOB_RULES, input as CreateTrainingJobRequest));
    }
    return problems;
  }

  /** Inputs of every call of one command, in order. */
  inputsOf(command: string): unknown[] {
    return this.calls.filter((c) => c.command === command).map((c) => c.input);
  }

  /** Typed as the SDK client the backend takes. */
  as<Client>(): Client {
    return this as unknown as Client;
  }
}
