/**
 * Keccak-256 (Ethereum's, not NIST SHA3-256) with a state that can be peeked and copied,
 * which the RLPx frame MAC needs: its running sponges are digested after every frame
 * without being finalised.
 *
 * Uses the native sponge of the `keccak` package directly (no stream wrapper per hash);
 * falls back to that package's pure-JS sponge where the binding does not load.
 * @module
 */
import { createRequire } from 'node:module'
import { dirname } from 'node:path'

interface Sponge {
  initialize(rate: number, capacity: number): void
  absorb(data: Uint8Array): void
  squeeze(length: number): Buffer
  copy(dest: Sponge): void
}
type SpongeClass = new () => Sponge

const require = createRequire(import.meta.url)

function loadSponge(): SpongeClass {
  try {
    const gypBuild: (dir: string) => unknown = require('node-gyp-build')
    const native = gypBuild(dirname(require.resolve('keccak/package.json')))
    if (typeof native === 'function') return native as SpongeClass
  } catch {
    // the pure-JS sponge below is the documented fallback of the keccak package
  }
  return require('keccak/lib/keccak.js') as SpongeClass
}

const Sponge: SpongeClass = loadSponge()
const RATE = 1088
const CAPACITY = 512

/** Where {@link Keccak256.digest} finalises a copy; digests are synchronous, so one serves all. */
const peekScratch: Sponge = new Sponge()

/** An incremental Keccak-256 whose digest can be read at any point without ending it. */
export class Keccak256 {
  #state: Sponge

  constructor(state?: Sponge) {
    if (state) {
      this.#state = state
    } else {
      this.#state = new Sponge()
      this.#state.initialize(RATE, CAPACITY)
    }
  }

  /** Absorbs `data`; returns `this` for chaining. */
  update(data: Uint8Array): this {
    this.#state.absorb(data)
    return this
  }

  /**
   * The digest of everything absorbed so far; the state stays open for more updates.
   * `length` below 32 gives that prefix of the digest (the frame MAC needs 16 bytes).
   */
  digest(length = 32): Buffer {
    this.#state.copy(peekScratch)
    return peekScratch.squeeze(length)
  }

  /** An independent copy of the current state. */
  copy(): Keccak256 {
    const state = new Sponge()
    this.#state.copy(state)
    return new Keccak256(state)
  }
}

/**
 * The sponge every {@link keccak256} call reinitialises and reuses. Hashing is synchronous,
 * so one suffices; a fresh native object per call cost more than a short hash itself
 * (allocation plus a GC finalizer) and churned the malloc heap.
 */
const oneShot: Sponge = new Sponge()

/** Keccak-256 of the concatenation of `parts`. */
export function keccak256(...parts: Uint8Array[]): Buffer {
  oneShot.initialize(RATE, CAPACITY)
  for (const part of parts) oneShot.absorb(part)
  return oneShot.squeeze(32)
}
