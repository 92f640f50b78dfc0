// The WebAssembly primitives against independent implementations: Keccak-256 against
// @noble/hashes over many lengths and chunkings (peeks in between must not disturb the
// sponge), the MAC-seed AES-256 against OpenSSL's through node:crypto.
import { createCipheriv } from 'node:crypto'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { Keccak256, keccak256 } from '../lib/crypto/index.js'
import { heap, SCRATCH, wasm } from '../lib/crypto/wasm.js'
import { seededRandom } from '../lib/random.js'

const rng = seededRandom(1600)
function noise(n: number): Buffer {
  const out = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) out[i] = Math.floor(rng() * 256)
  return out
}

test('keccak256 of lengths around the rate and the scratch size matches @noble/hashes', () => {
  for (const n of [0, 1, 7, 8, 9, 135, 136, 137, 271, 272, 273, 1000, 65535, 65536, 65537, 200_000]) {
    const data = noise(n)
    assert.is(keccak256(data).toString('hex'), Buffer.from(keccak_256(data)).toString('hex'), `${n} bytes`)
  }
})

test('a running sponge fed in random pieces, peeked on the way, matches @noble/hashes', () => {
  for (let round = 0; round < 20; round++) {
    const data = noise(Math.floor(rng() * 3000))
    const sponge = new Keccak256()
    let offset = 0
    while (offset < data.length) {
      const n = Math.min(data.length - offset, Math.floor(rng() * 300))
      sponge.update(data.subarray(offset, offset + n))
      offset += n
      assert.is(sponge.digest(16).toString('hex'), Buffer.from(keccak_256(data.subarray(0, offset))).subarray(0, 16).toString('hex'))
    }
    assert.is(sponge.digest().toString('hex'), Buffer.from(keccak_256(data)).toString('hex'))
  }
})

test('digest lengths outside 0..32 are refused', () => {
  assert.throws(() => new Keccak256().digest(33), RangeError)
})

test('single-block AES-256 matches OpenSSL for random keys and blocks', () => {
  const roundKeys = SCRATCH + 64
  for (let i = 0; i < 100; i++) {
    const key = noise(32)
    const block = noise(16)
    heap.set(key, SCRATCH)
    wasm.aesExpandKey(SCRATCH, roundKeys)
    heap.set(block, SCRATCH)
    wasm.aesEncrypt(roundKeys, SCRATCH, SCRATCH)
    const expected = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false).update(block)
    assert.is(Buffer.from(heap.subarray(SCRATCH, SCRATCH + 16)).toString('hex'), expected.toString('hex'))
  }
})

test('equal16 compares all 16 bytes', () => {
  const a = noise(16)
  heap.set(a, SCRATCH)
  heap.set(a, SCRATCH + 16)
  assert.is(wasm.equal16(SCRATCH, SCRATCH + 16), 1)
  for (let i = 0; i < 16; i++) {
    for (const bit of [0x01, 0x80]) {
      heap[SCRATCH + 16 + i] ^= bit
      assert.is(wasm.equal16(SCRATCH, SCRATCH + 16), 0, `byte ${i} bit ${bit}`)
      heap[SCRATCH + 16 + i] ^= bit
    }
  }
})

test.run()
