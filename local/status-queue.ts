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
  ) {}

  send(status: BackendJobStatus): void {
    this.messages.set(this.nextId++, { status, visibleAtMs: 0, receives: 0 });
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
    for (const { id } of batch) this.messages.delete(id);
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
