/**
 * Per-source token buckets on the injected clock, checked before a datagram costs a signature
 * recovery: a flood from one address is cut to a fixed rate without touching other sources.
 * The number of sources tracked is bounded; the least recently seen is forgotten first.
 * @module
 */
import type { Clock } from '../clock.js'

/** Options of {@link RateLimiter}. */
export interface RateLimiterOptions {
  clock: Clock
  /** Tokens added per second per key. */
  rate: number
  /** Bucket capacity: the burst allowed after a quiet spell. */
  burst: number
  /** Keys tracked at once. @default 1024 */
  maxKeys?: number
}

/** See the module comment. */
export class RateLimiter {
  readonly #clock: Clock
  readonly #rate: number
  readonly #burst: number
  readonly #maxKeys: number
  readonly #buckets = new Map<string, { tokens: number; at: number }>()

  constructor(options: RateLimiterOptions) {
    this.#clock = options.clock
    this.#rate = options.rate
    this.#burst = options.burst
    this.#maxKeys = options.maxKeys ?? 1024
  }

  /** Takes one token for `key`; false when its bucket is empty. */
  take(key: string): boolean {
    const now = this.#clock.now()
    let b = this.#buckets.get(key)
    if (b) {
      this.#buckets.delete(key)
      b.tokens = Math.min(this.#burst, b.tokens + ((now - b.at) / 1000) * this.#rate)
      b.at = now
    } else {
      b = { tokens: this.#burst, at: now }
      if (this.#buckets.size >= this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!)
    }
    this.#buckets.set(key, b)
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }

  /** Keys tracked now. */
  get size(): number {
    return this.#buckets.size
  }
}
