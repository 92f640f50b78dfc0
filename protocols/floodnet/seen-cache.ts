/**
 * The set of message ids already handled, bounded both in entries and in age. Seeing an id
 * again refreshes its age, so a message that keeps circulating stays recognised for as long
 * as it circulates (the lesson of go-libp2p-pubsub#502).
 * @module
 */

export class SeenCache {
  /** Insertion order is age order: a refresh deletes and re-inserts. */
  #entries = new Map<string, number>()
  readonly maxEntries: number
  readonly ttl: number
  #now: () => number

  constructor(maxEntries: number, ttl: number, now: () => number = Date.now) {
    this.maxEntries = maxEntries
    this.ttl = ttl
    this.#now = now
  }

  get size(): number {
    return this.#entries.size
  }

  /** Records `id`; returns true when it was already there (and refreshes it). */
  seen(id: string): boolean {
    const now = this.#now()
    const expiry = this.#entries.get(id)
    const known = expiry !== undefined && expiry > now
    this.#entries.delete(id)
    this.#entries.set(id, now + this.ttl)
    this.#prune(now)
    return known
  }

  /** True when `id` is present and not expired; does not refresh. */
  has(id: string): boolean {
    const expiry = this.#entries.get(id)
    return expiry !== undefined && expiry > this.#now()
  }

  #prune(now: number): void {
    for (const [id, expiry] of this.#entries) {
      if (this.#entries.size <= this.maxEntries && expiry > now) break
      this.#entries.delete(id)
    }
  }
}
