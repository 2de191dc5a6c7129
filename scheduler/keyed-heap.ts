/**
 * A binary min-heap on precomputed numeric keys. Built in O(n) and popped lazily: a round
 * usually starts a few jobs out of thousands, so sorting whole queues would be wasted work.
 */
export class KeyedHeap<T> {
  private readonly items: T[] = [];
  private readonly keys: number[] = [];

  push(item: T, key: number): void {
    this.items.push(item);
    this.keys.push(key);
  }

  /** Call once after the pushes, before the first pop. */
  heapify(): void {
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  get size(): number {
    return this.items.length;
  }

  pop(): T | undefined {
    const top = this.items[0];
    const lastItem = this.items.pop();
    const lastKey = this.keys.pop();
    if (this.items.length > 0 && lastItem !== undefined && lastKey !== undefined) {
      this.items[0] = lastItem;
      this.keys[0] = lastKey;
      this.siftDown(0);
    }
    return top;
  }

  /** What is still queued, in no particular order. */
  remaining(): readonly T[] {
    return this.items;
  }

  private siftDown(start: number): void {
    const { items, keys } = this;
    const n = items.length;
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) return;
      const right = left + 1;
      const child = right < n && keys[right]! < keys[left]! ? right : left;
      if (keys[child]! >= keys[i]!) return;
      [items[i], items[child]] = [items[child]!, items[i]!];
      [keys[i], keys[child]] = [keys[child]!, keys[i]!];
      i = child;
    }
  }
}
