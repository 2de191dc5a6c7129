import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendKind, Dispatch } from '../../jobs/job';
import type { BackendSubmission, ComputeBackend } from '../../jobs/ports';

/**
 * A control plane whose state outlives the process that called it, as Batch's does: one
 * file per backend job, created exclusively, so two processes can never create the same name.
 */
export class FileBackend implements ComputeBackend {
  readonly kind: BackendKind = 'local';

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  async submit({ dispatch }: BackendSubmission) {
    const existing = await this.findByName(dispatch);
    if (existing) return existing;
    const backendJobId = `backend-${dispatch.name}`;
    writeFileSync(join(this.dir, dispatch.name), backendJobId, { flag: 'wx' });
    return { backendJobId };
  }

  async findByName(dispatch: Dispatch) {
    try {
      return { backendJobId: readFileSync(join(this.dir, dispatch.name), 'utf8') };
    } catch {
      return undefined;
    }
  }

  async terminate() {}

  /** Every backend job ever created. */
  jobs(): string[] {
    return readdirSync(this.dir);
  }
}
