/**
 * The replay guard: every message id chat has accepted, kept until the message could no
 * longer pass the clock window anyway (its timestamp + the window). A relay that sends a
 * signed message again — a minute later, or after flushing floodnet's seen-cache with fresh
 * ids — finds its id here.
 *
 * The guard is bounded in entries. When full it evicts the entry that expires first and
 * raises a watermark to that expiry; from then on a message that expires at or before the
 * watermark is refused as stale. Every evicted id expires at or before the watermark, so an
 * evicted id can never be accepted again: pressure narrows the window of acceptable
 * timestamps (old messages are refused), it never lets one id through twice.
 * @module
 */
import { MinHeap } from '../../lib/heap.js'

/** What {@link ReplayGuard.admit} decided. */
export type Admission = 'new' | 'replay' | 'stale'

interface Entry {
  id: string
  expiry: number
}

export class ReplayGuard {
  readonly capacity: number
  #expiry = new Map<string, number>()
  /** Entries by expiry, soonest first; one per id in `#expiry`. */
  #heap = new MinHeap<Entry>((a, b) => a.expiry < b.expiry)
  #watermark = -Infinity

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`replay guard capacity must be a positive integer, got ${capacity}`)
    this.capacity = capacity
  }

  /** Ids held. */
  get size(): number {
    return this.#expiry.size
  }

  /** Messages that expire at or before this time are refused: the latest expiry evicted under pressure. */
  get watermark(): number {
    return this.#watermark
  }

  /** True when `id` is held (and not yet expired at `now`). */
  has(id: string, now: number): boolean {
    const expiry = this.#expiry.get(id)
    return expiry !== undefined && expiry >= now
  }

  /**
   * Records `id`, valid until `expiry`, unless it is already held (`replay`) or expires at
   * or before the watermark or before `now` (`stale`). Only a `new` message may be delivered.
   */
  admit(id: string, expiry: number, now: number): Admission {
    this.#prune(now)
    if (this.#expiry.has(id)) return 'replay'
    if (expiry < now || expiry <= this.#watermark) return 'stale'
    this.#expiry.set(id, expiry)
    this.#heap.push({ id, expiry })
    while (this.#expiry.size > this.capacity) {
      const evicted = this.#heap.pop()!
      this.#expiry.delete(evicted.id)
      this.#watermark = Math.max(this.#watermark, evicted.expiry)
    }
    return 'new'
  }

  /** Drops ids whose messages no longer pass the clock window. */
  #prune(now: number): void {
    while ((this.#heap.peek()?.expiry ?? Infinity) < now) this.#expiry.delete(this.#heap.pop()!.id)
  }

}
