/**
 * Runs a task on a timer and on demand, never two at once: the local stand-in for the
 * dispatcher Lambda's schedule, its event triggers and its reserved concurrency of 1.
 * Wakes that arrive during a run coalesce into one follow-up run.
 */
export class SerialLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  private lastRunEndedAt = 0;
  private lastRunMs = 0;
  private deferred: NodeJS.Timeout | undefined;

  /**
   * @param minGapMs quiet time after a run before a woken run starts, and never less than the
   *   last run took: under a burst of submissions the task gets at most half the event loop,
   *   however long a round over a growing backlog becomes.
   */
  constructor(
    private readonly task: () => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly onError: (error: unknown) => void,
    private readonly minGapMs = 0,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.wake(), this.intervalMs);
    this.wake();
  }

  wake(): void {
    if (this.stopped || this.deferred) return;
    if (this.running) {
      this.again = true;
      return;
    }
    const wait = this.lastRunEndedAt + Math.max(this.minGapMs, this.lastRunMs) - Date.now();
    if (wait > 0) {
      this.deferred = setTimeout(() => {
        this.deferred = undefined;
        this.wake();
      }, wait);
      return;
    }
    const started = Date.now();
    this.running = this.task()
      .then(
        () => undefined,
        (error: unknown) => this.onError(error),
      )
      .finally(() => {
        this.running = undefined;
        this.lastRunEndedAt = Date.now();
        this.lastRunMs = this.lastRunEndedAt - started;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Resolves when no run is in progress; none starts afterwards. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.deferred);
    await this.settled();
  }
}
