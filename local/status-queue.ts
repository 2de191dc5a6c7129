import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { BackendJobStatus } from '../jobs/ports';

export interface QueuedStatus {
  readonly id: number;
  readonly status: BackendJobStatus;
}

/**
 * Backend status reports on their way to the dispatcher, with the delivery SQS gives the
 * dispatcher Lambda on AWS: at least once, in no promised order. A received message is
 * invisible until it is acknowledged or its visibility timeout passes, when it is delivered
 * again; one delivered `maxReceives` times without an acknowledgement is dead-lettered.
 * The dispatcher applies reports idempotently, so a second delivery changes nothing.
 * With a journal, the queue is durable as SQS is: a report sent before a crash of the
 * runtime is delivered after its restart (sends and acknowledgements are appended to files,
 * replayed and compacted at start).
 */
export class LocalStatusQueue {
  private readonly messages = new Map<
    number,
    { status: BackendJobStatus; visibleAtMs: number; receives: number }
  >();
  private nextId = 1;
  /** Messages given up on, kept for inspection. */
  readonly deadLetters: BackendJobStatus[] = [];

  constructor(
    private readonly visibilityTimeoutMs = 30_000,
    private readonly maxReceives = 10,
    private readonly journal?: string,
  ) {
    if (journal) this.replay(journal);
  }

  send(status: BackendJobStatus): void {
    this.sendAll([status]);
  }

  /** Many reports with one journal write. */
  sendAll(statuses: readonly BackendJobStatus[]): void {
    const first = this.nextId;
    this.nextId += statuses.length;
    if (this.journal) {
      appendFileSync(
        this.journal,
        statuses.map((status, i) => `${JSON.stringify({ id: first + i, status })}\n`).join(''),
      );
    }
    for (const [i, status] of statuses.entries()) {
      this.messages.set(first + i, { status, visibleAtMs: 0, receives: 0 });
    }
  }

  /** Up to `max` visible messages, oldest first, made invisible for the visibility timeout. */
  receive(max: number, nowMs = Date.now()): QueuedStatus[] {
    const batch: QueuedStatus[] = [];
    for (const [id, message] of this.messages) {
      if (batch.length >= max) break;
      if (message.visibleAtMs > nowMs) continue;
      if (message.receives >= this.maxReceives) {
        this.messages.delete(id);
        this.deadLetters.push(message.status);
        continue;
      }
      message.receives++;
      message.visibleAtMs = nowMs + this.visibilityTimeoutMs;
      batch.push({ id, status: message.status });
    }
    return batch;
  }

  acknowledge(batch: readonly QueuedStatus[]): void {
    if (batch.length === 0) return;
    if (this.journal) appendFileSync(`${this.journal}.acks`, `${batch.map((m) => m.id).join('\n')}\n`);
    for (const { id } of batch) this.messages.delete(id);
  }

  /** Loads what an earlier lifetime sent and never acknowledged, and rewrites the journal to just that. */
  private replay(journal: string): void {
    const acked = new Set(
      existsSync(`${journal}.acks`)
        ? readFileSync(`${journal}.acks`, 'utf8').split('\n').filter(Boolean).map(Number)
        : [],
    );
    const lines = existsSync(journal) ? readFileSync(journal, 'utf8').split('\n') : [];
    for (const line of lines) {
      let message: QueuedStatus;
      try {
        message = JSON.parse(line) as QueuedStatus;
      } catch {
        continue; // empty, or the last line a crash cut short: never acknowledged, never applied
      }
      this.nextId = Math.max(this.nextId, message.id + 1);
      if (!acked.has(message.id))
        this.messages.set(message.id, { status: message.status, visibleAtMs: 0, receives: 0 });
    }
    const kept = [...this.messages].map(([id, { status }]) => `${JSON.stringify({ id, status })}\n`).join('');
    writeFileSync(`${journal}.tmp`, kept);
    renameSync(`${journal}.tmp`, journal);
    writeFileSync(`${journal}.acks`, '');
  }

  /** Makes unacknowledged messages visible again at once (the consumer failed). */
  release(batch: readonly QueuedStatus[]): void {
    for (const { id } of batch) {
      const message = this.messages.get(id);
      if (message) message.visibleAtMs = 0;
    }
  }

  /** Messages not yet acknowledged, visible or in flight. */
  get depth(): number {
    return this.messages.size;
  }
}
