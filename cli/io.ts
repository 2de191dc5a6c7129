import type { AwsCredentialIdentityProvider } from '@smithy/types';

/**
 * Everything the CLI touches outside its arguments, so tests run `main` in-process with
 * captured output, a fixed clock and no real waiting.
 */
export interface CliIo {
  /** Writes one line of results. */
  readonly stdout: (line: string) => void;
  /** Writes one line of diagnostics. */
  readonly stderr: (line: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly now: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
  /** AWS credentials for SigV4; the Node provider chain when absent. */
  readonly credentials?: AwsCredentialIdentityProvider;
}

export function processIo(): CliIo {
  return {
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
    now: () => new Date(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}
