import { parseCommandArgs, splitAtDoubleDash } from '../args';
import { type Command, printJson } from '../command';
import { connect } from '../connect';
import { EXIT, UsageError } from '../errors';
import { buildSpecInput, readSpecFile, validateSpec } from '../spec-input';
import { watchJob } from '../watch-job';

const OPTIONS = {
  name: { type: 'string' },
  image: { type: 'string' },
  gpus: { type: 'string' },
  'gpu-type': { type: 'string' },
  cpus: { type: 'string' },
  memory: { type: 'string' },
  nodes: { type: 'string' },
  priority: { type: 'string' },
  preemptible: { type: 'boolean' },
  'max-runtime': { type: 'string' },
  retries: { type: 'string' },
  backend: { type: 'string' },
  env: { type: 'string', multiple: true },
  tag: { type: 'string', multiple: true },
  'idempotency-key': { type: 'string' },
  wait: { type: 'boolean', default: false },
} as const;

export const submitCommand: Command = {
  name: 'submit',
  summary: 'submit a job from a YAML/JSON spec file or from flags',
  help: `Usage: drivetrain submit [<spec.yaml|spec.json>] [flags] [-- <command> [args...]]

Submits a job. The spec is checked locally against the job schema first; nothing is sent
when a field is invalid. Flags override the file's fields; without a file they are the spec.

Spec flags:
  --name <name>              job name (letters, digits, . _ -)
  --image <ref>              container image
  --gpus <n>                 GPUs per node
  --gpu-type <type>          GPU model, e.g. a10g, a100, h100
  --cpus <n>                 vCPUs per node
  --memory <size>            memory per node, e.g. 32Gi or 512Mi
  --nodes <n>                node count; more than 1 is a gang (multi-node) job
  --priority <class>         critical | standard | preemptible
  --preemptible              opt in to preemption and spot capacity
  --max-runtime <duration>   hard runtime limit, e.g. 2h, 90m, 1h30m
  --retries <n>              retries after infrastructure failures
  --backend <backend>        batch | eks | sagemaker | auto
  --env KEY=VALUE            environment variable (repeatable)
  --tag KEY=VALUE            tag (repeatable)
  --idempotency-key <key>    submitting again with the same key returns the same job
  -- <command...>            the job's command and arguments

Other flags:
  --wait                     follow the job until it ends, showing state changes and why it
                             waits; exit 0 on SUCCEEDED, ${EXIT.jobDidNotSucceed} on FAILED or CANCELLED
                             (with --json, prints only the final job)

Examples:
  drivetrain submit job.yaml --wait
  drivetrain submit --name smoke --image python:3.11 --gpus 0 --cpus 1 --memory 512Mi \\
    -- python -c "print('hello')"`,

  async run(argv, io) {
    const [own, command] = splitAtDoubleDash(argv);
    const { values, positionals } = parseCommandArgs('submit', own, OPTIONS);
    if (positionals.length > 1) {
      throw new UsageError(
        `submit takes at most one spec file, got ${positionals.join(' ')}\nPut the job's command after '--'.`,
      );
    }
    const file = positionals[0];
    const spec = validateSpec(
      buildSpecInput(file === undefined ? undefined : readSpecFile(file), values, command),
    );

    const api = connect(values, io);
    const submitted = await api.submitJob(spec);
    const { job } = submitted.body;
    if (values.json && !values.wait) printJson(io, submitted.body);
    if (!values.json) {
      io.stdout(
        submitted.replayed
          ? `job ${job.id} (${job.name}) already submitted with this idempotency key`
          : `submitted job ${job.id} (${job.name})`,
      );
    }
    if (!values.wait) return EXIT.ok;

    const final = await watchJob(api, job, io, { showProgress: !values.json });
    if (values.json) printJson(io, { job: final });
    return final.state === 'SUCCEEDED' ? EXIT.ok : EXIT.jobDidNotSucceed;
  },
};
