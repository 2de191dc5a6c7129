import { expect, test } from 'vitest';
import { DEFAULT_CACHE_POLICY, withTimeout } from '../../features/online/online-reader';

/** Blocks the event loop for `ms`, as building another request's response does. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** A reply that arrives after `tasks` other requests, each holding the loop for 30 ms in a task of its own. */
function replyBehind<T>(tasks: number, value: T): Promise<T> {
  return new Promise<T>((resolve) => {
    let left = tasks;
    const next = () => {
      busy(30);
      if (--left > 0) setTimeout(next, 0);
      else setImmediate(() => resolve(value));
    };
    setTimeout(next, 0);
  });
}

test('a lookup on an idle event loop that never answers times out after about its budget', async () => {
  const start = performance.now();
  await expect(withTimeout(new Promise<never>(() => {}), 20, 800)).rejects.toThrow(/timed out/);
  const waited = performance.now() - start;
  expect(waited).toBeGreaterThanOrEqual(19);
  expect(waited).toBeLessThan(150);
});

test('a reply queued behind 300 ms of other requests on the same event loop is not a slow cache', async () => {
  const { timeoutMs } = DEFAULT_CACHE_POLICY;
  const reply = replyBehind(10, 'cached');
  await expect(withTimeout(reply, timeoutMs, 40 * timeoutMs)).resolves.toBe('cached');
});

test('the busy-loop credit is bounded: past it the lookup gives up even while the loop stays busy', async () => {
  const reply = replyBehind(20, 'too late');
  await expect(withTimeout(reply, 20, 200)).rejects.toThrow(/timed out/);
});
