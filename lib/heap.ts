/**
 * A binary min-heap, for the places that need the earliest of many: the virtual clock's
 * timers, chat's replay guard.
 * @module
 */

/** A min-heap ordered by `before(a, b)`: true when `a` comes out first. */
export class MinHeap<T> {
  #items: T[] = []
  #before: (a: T, b: T) => boolean

  constructor(before: (a: T, b: T) => boolean) {
    this.#before = before
  }

  get size(): number {
    return this.#items.length
  }

  /** The first item, without taking it. */
  peek(): T | undefined {
    return this.#items[0]
  }

  push(item: T): void {
    const items = this.#items
    items.push(item)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.#before(items[i]!, items[parent]!)) break
      ;[items[i], items[parent]] = [items[parent]!, items[i]!]
      i = parent
    }
  }

  /** Takes the first item. */
  pop(): T | undefined {
    const items = this.#items
    const top = items[0]
    const last = items.pop()
    if (items.length === 0 || last === undefined) return top
    items[0] = last
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let min = i
      if (l < items.length && this.#before(items[l]!, items[min]!)) min = l
      if (r < items.length && this.#before(items[r]!, items[min]!)) min = r
      if (min === i) return top
      ;[items[i], items[min]] = [items[min]!, items[i]!]
      i = min
    }
  }
}
