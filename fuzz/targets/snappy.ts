/**
 * Snappy blocks as a peer sends them after Hello, with the connection's default limit.
 * A block that decompresses must yield exactly the length it declares.
 * @module
 */
import fc from 'fast-check'
import { MAX_FRAME_SIZE } from '../../lib/rlpx/frames.js'
import { snappyDeclaredLength, snappyDecompress } from '../../lib/rlpx/snappy.js'
import { PropertyViolation, type Target } from '../harness.js'
import { mutate, networkBytes } from '../inputs.js'
import { snappySeeds } from '../seeds.js'

/** The base-128 varint a block opens with. */
function varint(n: number): Uint8Array {
  const out: number[] = []
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80)
  out.push(n)
  return Uint8Array.from(out)
}

/** A seed whose declared length lies: around the limit, at the varint's extremes, or anything. */
const lyingLength = fc
  .record({
    seed: fc.constantFrom(...snappySeeds),
    declared: fc.oneof(fc.constantFrom(0, 1, 127, 128, MAX_FRAME_SIZE, MAX_FRAME_SIZE + 1, 2 ** 32 - 1, 2 ** 35 - 1), fc.nat(MAX_FRAME_SIZE)),
  })
  .map(({ seed, declared }) => {
    let end = 0
    while (end < 5 && (seed[end]! & 0x80) !== 0) end++
    return Buffer.concat([varint(declared), seed.subarray(end + 1)])
  })

export const snappy: Target = {
  name: 'snappy',
  decoder: 'snappyDecompress',
  arbitrary: fc.oneof({ weight: 4, arbitrary: networkBytes(snappySeeds, 64 * 1024) }, { weight: 1, arbitrary: mutate(lyingLength, snappySeeds, { min: 0, max: 2 }) }),
  run(data) {
    const block = Buffer.from(data.buffer, data.byteOffset, data.length)
    const out = snappyDecompress(block, MAX_FRAME_SIZE)
    const declared = snappyDeclaredLength(block)
    if (out.length !== declared) throw new PropertyViolation(`decompressed ${out.length} bytes, the block declares ${declared}`)
  },
  bytes: (data) => data,
  valid: snappySeeds,
}
