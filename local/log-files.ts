import { open } from 'node:fs/promises';
import { attemptLogPath } from '../backends/local-process';
import type { JobStore, LogSource } from '../jobs/ports';
import { isTerminal } from '../jobs/states';

/** At most this much of a log per request, so `logs --follow` streams in pieces. */
const CHUNK_BYTES = 256 * 1024;

/** Job logs from the files the local process backend writes. */
export function localLogFiles(logDir: string, store: JobStore): LogSource {
  return {
    async read(jobId, attempt, offset) {
      const job = await store.get(jobId);
      const finished = !job || job.attempt > attempt || isTerminal(job.state);
      let handle: Awaited<ReturnType<typeof open>>;
      try {
        handle = await open(attemptLogPath(logDir, jobId, attempt), 'r');
      } catch {
        return { lines: [], nextOffset: offset, complete: finished };
      }
      try {
        const buffer = Buffer.alloc(CHUNK_BYTES);
        const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, offset);
        const text = buffer.subarray(0, bytesRead).toString('utf8');
        // Hand out whole lines only; a partial last line comes with the next read.
        const end = text.lastIndexOf('\n') + 1;
        const size = (await handle.stat()).size;
        return {
          lines: end > 0 ? text.slice(0, end - 1).split('\n') : [],
          nextOffset: offset + Buffer.byteLength(text.slice(0, end)),
          complete: finished && offset + Buffer.byteLength(text.slice(0, end)) >= size,
        };
      } finally {
        await handle.close();
      }
    },
  };
}
