/**
 * A binary min-heap on precomputed numeric keys. `KeyedHeap.of` builds one in O(n) and pops
 * are lazy: a round usually starts a few jobs out of thousands, so a full sort is wasted.
 */
export class KeyedHeap<T> {
  private constructor(
    private readonly items: T[],
    private readonly keys: number[],
  ) {}

  static empty<T>(): KeyedHeap<T> {
    return new KeyedHeap<T>([], []);
  }

  /** Takes ownership of both arrays. */
  static of<T>(items: T[], keys: number[]): KeyedHeap<T> {
    const heap = new KeyedHeap(items, keys);
    for (let i = (items.length >> 1) - 1; i >= 0; i--) heap.siftDown(i);
    return heap;
  }

  get size(): number {
    return this.items.length;
  }

  push(item: T, key: number): void {
    this.items.push(item);
    this.keys.push(key);
    this.siftUp(this.items.length - 1);
  }

  peek(): { item: T; key: number } | undefined {
    return this.items.length === 0 ? undefined : { item: this.items[0]!, key: this.keys[0]! };
  }

  /** The first item, without the object `peek` allocates. */
  peekItem(): T | undefined {
    return this.items[0];
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

  /** Replaces every item by `change(item)` where it stands: the heap's shape is unchanged. */
  mapItems(change: (item: T) => T): void {
    const { items } = this;
    for (let i = 0; i < items.length; i++) items[i] = change(items[i]!);
  }

  private siftUp(start: number): void {
    let i = start;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.keys[parent]! <= this.keys[i]!) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(start: number): void {
    const { keys } = this;
    const n = keys.length;
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) return;
      const right = left + 1;
      const child = right < n && keys[right]! < keys[left]! ? right : left;
      if (keys[child]! >= keys[i]!) return;
      this.swap(i, child);
      i = child;
    }
  }

  private swap(a: number, b: number): void {
    const { items, keys } = this;
    const item = items[a]!;
    items[a] = items[b]!;
    items[b] = item;
    const key = keys[a]!;
    keys[a] = keys[b]!;
    keys[b] = key;
  }
}
