/**
 * Keccak-256 (Ethereum's, not NIST SHA3-256) with a state that can be peeked and copied,
 * which the RLPx frame MAC needs: its running sponges are digested after every frame
 * without being finalised.
 *
 * The sponges live in the memory of the WebAssembly module (lib/crypto/wasm.ts), where the
 * frame MAC runs on them in place; data passes in through its scratch area.
 * @module
 */
import { allocFor, allocStatic, heap, SCRATCH, SCRATCH_SIZE, SPONGE_SIZE, wasm } from './wasm.js'

/** Absorbs `data` into the sponge at `sponge`, through the scratch area. */
export function absorbInto(sponge: number, data: Uint8Array): void {
  for (let offset = 0; offset < data.length; offset += SCRATCH_SIZE) {
    const chunk = data.subarray(offset, offset + SCRATCH_SIZE)
    heap.set(chunk, SCRATCH)
    wasm.keccakAbsorb(sponge, SCRATCH, chunk.length)
  }
}

function peek(sponge: number, length: number): Buffer {
  if (!(length >= 0 && length <= 32)) throw new RangeError(`digest length must be 0..32 bytes, got ${length}`)
  wasm.keccakPeek(sponge, SCRATCH, length)
  return Buffer.from(heap.subarray(SCRATCH, SCRATCH + length))
}

/** An incremental Keccak-256 whose digest can be read at any point without ending it. */
export class Keccak256 {
  /**
   * Address of this sponge in the WebAssembly memory, valid while this object lives.
   * @internal the frame MAC runs on it in place
   */
  readonly sponge: number = allocFor(this, SPONGE_SIZE)

  /** Absorbs `data`; returns `this` for chaining. */
  update(data: Uint8Array): this {
    absorbInto(this.sponge, data)
    return this
  }

  /**
   * The digest of everything absorbed so far; the state stays open for more updates.
   * `length` below 32 gives that prefix of the digest (the frame MAC needs 16 bytes).
   */
  digest(length = 32): Buffer {
    return peek(this.sponge, length)
  }
}

/** The sponge every {@link keccak256} call clears and reuses: hashing is synchronous. */
const oneShot = allocStatic(SPONGE_SIZE)

/** Keccak-256 of the concatenation of `parts`. */
export function keccak256(...parts: Uint8Array[]): Buffer {
  heap.fill(0, oneShot, oneShot + SPONGE_SIZE)
  for (const part of parts) absorbInto(oneShot, part)
  return peek(oneShot, 32)
}
