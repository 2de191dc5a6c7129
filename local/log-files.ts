import { open } from 'node:fs/promises';
import { attemptLogPath } from '../backends/local-process';
import type { JobStore, LogChunk, LogSource } from '../jobs/ports';
import { isTerminal } from '../jobs/states';

/** At most this much of a log per request, so `logs --follow` streams in pieces. */
export const CHUNK_BYTES = 256 * 1024;

const NEWLINE = 0x0a;

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
        const size = (await handle.stat()).size;
        const buffer = Buffer.alloc(CHUNK_BYTES);
        const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, offset);
        return linesOf(buffer.subarray(0, bytesRead), offset, { size, finished });
      } finally {
        await handle.close();
      }
    },
  };
}

/**
 * Whole lines of `bytes` (read at `offset`), with offsets counted in bytes of the file, never
 * of decoded text: invalid UTF-8 decodes to U+FFFD, which is three bytes long. A line longer
 * than a chunk is handed out in chunk-sized pieces cut at a character boundary, and the last
 * line of a finished attempt comes out without its newline: neither can stall a reader.
 */
export function linesOf(
  bytes: Buffer,
  offset: number,
  { size, finished }: { size: number; finished: boolean },
): LogChunk {
  let end = bytes.lastIndexOf(NEWLINE) + 1;
  const atEndOfFile = offset + bytes.length >= size;
  if (end === 0 && bytes.length > 0) {
    if (finished && atEndOfFile) end = bytes.length;
    else if (bytes.length === CHUNK_BYTES) end = characterBoundary(bytes);
  }
  const whole = bytes.subarray(0, end);
  const text = whole.toString('utf8');
  const lines = text.length === 0 ? [] : (text.endsWith('\n') ? text.slice(0, -1) : text).split('\n');
  const nextOffset = offset + end;
  return { lines, nextOffset, complete: finished && nextOffset >= size };
}

/** The longest prefix of `bytes` that does not cut a UTF-8 sequence in two. */
function characterBoundary(bytes: Buffer): number {
  let end = bytes.length;
  // Back over continuation bytes (10xxxxxx) to the lead byte of the last sequence...
  let lead = end - 1;
  while (lead > 0 && end - lead < 4 && (bytes[lead]! & 0xc0) === 0x80) lead--;
  const byte = bytes[lead]!;
  const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
  // ...and leave it for the next read if it is incomplete.
  if (lead + length > end) end = lead;
  return end > 0 ? end : bytes.length;
}
