/**
 * The simulated network's links: how long a chunk written at one end takes to reach the
 * other, and the seeded randomness behind it. Every number is a pure function of the seed
 * and of who talks to whom, so a run does not depend on the order in which unrelated nodes
 * happen to draw random numbers.
 * @module
 */
import { seededRandom, type Random } from '../lib/random.js'

/** What a link does to the chunks written on it. */
export interface LinkModel {
  /** One-way latency of a pair of nodes, drawn once per pair, uniform in [min, max] ms. */
  latency: [number, number]
  /** Extra delay of each chunk, uniform in [0, jitter] ms. Order is kept, as TCP keeps it. */
  jitter: number
  /**
   * Probability that a chunk is lost on the way. The transport under the real code is a
   * stream (TCP), so a lost segment is not missing but late: it arrives after `rto`, and
   * everything written after it waits behind it.
   */
  loss: number
  /** Retransmission timeout, ms: Linux's minimum RTO. */
  rto: number
}

/** 10–50 ms one way (iroh-gossip's simulator uses the same spread), 5 ms of jitter, no loss. */
export const DEFAULT_LINK: LinkModel = { latency: [10, 50], jitter: 5, loss: 0, rto: 200 }

/** A 32-bit hash of small integers (murmur3's finaliser over a running mix). */
export function mix(...parts: number[]): number {
  let h = 0x9e3779b9
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b)
    h ^= h >>> 13
    h = Math.imul(h, 0xc2b2ae35)
    h ^= h >>> 16
  }
  return h >>> 0
}

/** Where a pair of nodes sits on the latency spread: the same for both directions, every connection. */
export function pairLatency(model: LinkModel, seed: number, a: number, b: number): number {
  const [min, max] = model.latency
  const u = mix(seed, 0x1a7e, Math.min(a, b), Math.max(a, b)) / 2 ** 32
  return min + (max - min) * u
}

/**
 * The delays of one direction of one connection: `base` plus jitter, plus a retransmission
 * for a lost chunk; never before the chunk written ahead of it.
 */
export class Direction {
  #random: Random
  #last = 0

  constructor(
    readonly model: LinkModel,
    readonly base: number,
    seed: number,
  ) {
    this.#random = seededRandom(seed)
  }

  /** When a chunk written at `now` arrives. */
  arrival(now: number): number {
    let delay = this.base + this.model.jitter * this.#random()
    // Each retransmission may be lost again; the timeout doubles each time, as TCP's does.
    for (let rto = this.model.rto; this.model.loss > 0 && this.#random() < this.model.loss && rto <= 64 * this.model.rto; rto *= 2) delay += rto
    this.#last = Math.max(this.#last, now + delay)
    return this.#last
  }
}
