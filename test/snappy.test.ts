// Snappy blocks as we write and read them: literals for small and for incompressible
// payloads, compression otherwise; every block we write is read back by snappyjs (what
// @ethereumjs/devp2p decodes with) and the native decoder, and one whole literal is read
// as a view of the frame, without a copy.
import { createRequire } from 'node:module'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { seededRandom } from '../lib/random.js'
import { snappyCompress, snappyDecompress } from '../lib/rlpx/snappy.js'

const require = createRequire(import.meta.url)
const snappyjs = require('snappyjs') as { uncompress(data: Uint8Array): Uint8Array }
const native = require('snappy') as { uncompressSync(data: Buffer): Buffer }

const rng = seededRandom(706)
function noise(n: number): Buffer {
  const out = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) out[i] = Math.floor(rng() * 256)
  return out
}

/** Whether the pieces of `payload`'s block are a literal's head and `payload` itself. */
const isOneLiteral = (payload: Buffer): boolean => snappyCompress(payload)[1] === payload

const SIZES = [1, 60, 61, 256, 257, 8192, 8193, 65536, 65537, 1 << 20, (1 << 24) - 1]

test('random payloads of every literal length form round-trip through three decoders', () => {
  assert.equal(snappyCompress(Buffer.alloc(0)), [Buffer.from([0])], 'the empty block')
  for (const n of SIZES) {
    const payload = noise(n)
    const block = Buffer.concat(snappyCompress(payload))
    assert.ok(Buffer.from(snappyjs.uncompress(block)).equals(payload), `snappyjs reads ${n} bytes`)
    assert.ok(native.uncompressSync(block).equals(payload), `native snappy reads ${n} bytes`)
    const back = snappyDecompress(block, 1 << 24)
    assert.ok(back.equals(payload), `we read ${n} bytes`)
    if (n <= 256 || n > 8192) {
      assert.ok(isOneLiteral(payload), `${n} random bytes are sent as one literal`)
      assert.is(back.buffer, block.buffer, `${n} bytes are read as a view of the block`)
    }
  }
})

test('compressible payloads above the literal size are compressed, also behind an incompressible tail', () => {
  for (const n of [257, 8193, 1 << 20]) {
    const text = Buffer.alloc(n, 'floodnet chat message; ')
    const block = Buffer.concat(snappyCompress(text))
    assert.ok(block.length < n / 4, `${n} bytes of text compress (${block.length})`)
    assert.ok(Buffer.from(snappyjs.uncompress(block)).equals(text))
    assert.ok(snappyDecompress(block, 1 << 24).equals(text))
  }
  // Only the first 4 KiB decide: a compressible head with random bytes after it is compressed.
  const mixed = Buffer.concat([Buffer.alloc(8192, 'abc'), noise(1 << 16)])
  const block = Buffer.concat(snappyCompress(mixed))
  assert.not.ok(isOneLiteral(mixed))
  assert.ok(Buffer.from(snappyjs.uncompress(block)).equals(mixed))
})

test('a literal whose length disagrees with the declared length is handed to the decoder, which refuses it', () => {
  const block = Buffer.concat(snappyCompress(noise(100_000)))
  block[0] = block[0]! ^ 1 // declared length off by one
  assert.throws(() => snappyDecompress(block, 1 << 24), /invalid snappy data/)
})

test.run()
