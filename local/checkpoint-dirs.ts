import { opendir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckpointStore, JobKey } from '../jobs/ports';

/** Entries looked at per job at most: a checkpoint directory is a few files, not a data set. */
const MAX_ENTRIES = 10_000;

/** Checkpoints on this machine: `<root>/<team>/<job id>/`, the newest file's modification time. */
export class LocalCheckpointDirs implements CheckpointStore {
  constructor(private readonly root: string) {}

  locationOf(job: JobKey): string {
    return join(this.root, job.team, job.id);
  }

  async newestCheckpoint(job: JobKey): Promise<Date | undefined> {
    let newest = 0;
    let seen = 0;
    const walk = async (dir: string): Promise<void> => {
      let entries: Awaited<ReturnType<typeof opendir>>;
      try {
        entries = await opendir(dir);
      } catch {
        return; // no checkpoint yet
      }
      for await (const entry of entries) {
        if (++seen > MAX_ENTRIES) return;
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (entry.isFile())
          newest = Math.max(newest, (await stat(path).catch(() => ({ mtimeMs: 0 }))).mtimeMs);
      }
    };
    await walk(this.locationOf(job));
    return newest > 0 ? new Date(newest) : undefined;
  }
}
