/**
 * A binary heap whose items know their own position, so that any item can be
 * removed in O(log n), plus an ordered walk that reads the best items without
 * touching the heap (the k best of n in O(k log k)). Used by the mempool for
 * its fee-ordered indexes (the first pending transfer of each sender for
 * templates, the last for eviction).
 */
export class IndexedHeap<T> {
  private readonly items: T[] = [];

  /**
   * @param before true when `a` must come out before `b` (a strict order;
   *   ties must be broken so that no two distinct items compare equal)
   * @param getPos the item's stored position, -1 when it is not in the heap
   * @param setPos stores the item's position (-1 on removal)
   */
  constructor(
    private readonly before: (a: T, b: T) => boolean,
    private readonly getPos: (x: T) => number,
    private readonly setPos: (x: T, i: number) => void,
  ) {}

  get size(): number {
    return this.items.length;
  }

  /** The best item, or undefined when empty. */
  peek(): T | undefined {
    return this.items[0];
  }

  has(x: T): boolean {
    const i = this.getPos(x);
    return i >= 0 && this.items[i] === x;
  }

  /** Adds an item (not already in this heap). */
  push(x: T): void {
    const i = this.items.length;
    this.items.push(x);
    this.setPos(x, i);
    this.up(i);
  }

  /** Removes an item if present; O(log n). */
  remove(x: T): void {
    const i = this.getPos(x);
    if (i < 0 || this.items[i] !== x) return;
    const last = this.items.pop()!;
    this.setPos(x, -1);
    if (i === this.items.length) return;
    this.items[i] = last;
    this.setPos(last, i);
    this.up(i);
    this.down(this.getPos(last));
  }

  /**
   * Items in order, best first, without changing the heap: a second heap of
   * candidates starts at the root and takes in the children of each item it
   * gives out. Reading k items costs O(k log k) whatever the size. The heap
   * must not change while the cursor is in use.
   */
  cursor(): HeapCursor<T> {
    return new HeapCursor(this.items, this.before);
  }

  /** {@link cursor} as an iterable. */
  *ordered(): Generator<T> {
    const c = this.cursor();
    for (let x = c.next(); x !== undefined; x = c.next()) yield x;
  }

  private up(i: number): void {
    const { items } = this;
    const x = items[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p]!;
      if (!this.before(x, parent)) break;
      items[i] = parent;
      this.setPos(parent, i);
      i = p;
    }
    items[i] = x;
    this.setPos(x, i);
  }

  private down(i: number): void {
    const { items } = this;
    const n = items.length;
    const x = items[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.before(items[r]!, items[l]!) ? r : l;
      const child = items[c]!;
      if (!this.before(child, x)) break;
      items[i] = child;
      this.setPos(child, i);
      i = c;
    }
    items[i] = x;
    this.setPos(x, i);
  }
}

/** A best-first walk over a heap's array (see {@link IndexedHeap.cursor}). */
export class HeapCursor<T> {
  /** Indexes into `items` of the candidates, a heap by `before`. */
  private readonly cand: number[];
  private readonly better: (a: number, b: number) => boolean;

  constructor(private readonly items: readonly T[], before: (a: T, b: T) => boolean) {
    this.cand = items.length > 0 ? [0] : [];
    this.better = (a, b) => before(items[a]!, items[b]!);
  }

  /** The best item not given out yet, without taking it. */
  peek(): T | undefined {
    const top = this.cand[0];
    return top === undefined ? undefined : this.items[top];
  }

  /** Takes the best item not given out yet, or undefined at the end. */
  next(): T | undefined {
    const { cand, items, better } = this;
    const top = cand[0];
    if (top === undefined) return undefined;
    const last = cand.pop()!;
    if (cand.length > 0) {
      cand[0] = last;
      siftDown(cand, 0, better);
    }
    const l = 2 * top + 1;
    if (l < items.length) {
      cand.push(l);
      siftUp(cand, cand.length - 1, better);
      if (l + 1 < items.length) {
        cand.push(l + 1);
        siftUp(cand, cand.length - 1, better);
      }
    }
    return items[top];
  }
}

/** Sift-up in a plain array heap ordered by `better`. */
export function siftUp<T>(a: T[], i: number, better: (x: T, y: T) => boolean): void {
  const x = a[i]!;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!better(x, a[p]!)) break;
    a[i] = a[p]!;
    i = p;
  }
  a[i] = x;
}

/** Sift-down in a plain array heap ordered by `better`. */
export function siftDown<T>(a: T[], i: number, better: (x: T, y: T) => boolean): void {
  const n = a.length;
  const x = a[i]!;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const r = l + 1;
    const c = r < n && better(a[r]!, a[l]!) ? r : l;
    if (!better(a[c]!, x)) break;
    a[i] = a[c]!;
    i = c;
  }
  a[i] = x;
}
