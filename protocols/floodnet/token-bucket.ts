/**
 * A token bucket: `rate` tokens a second, holding at most `burst`. One per relayed message
 * from a neighbour, so a flooding neighbour is throttled without slowing the others.
 * @module
 */

export class TokenBucket {
  #tokens: number
  #last: number
  readonly rate: number
  readonly burst: number
  #now: () => number

  constructor(rate: number, burst: number, now: () => number = Date.now) {
    this.rate = rate
    this.burst = burst
    this.#tokens = burst
    this.#now = now
    this.#last = now()
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const now = this.#now()
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.rate)
    this.#last = now
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}
