// The one RLP integer decoder every message decoder shares: canonical big-endian, no
// leading zeros, bounded length, typed errors.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MessageDecodeError } from '../lib/errors.js'
import { bigUint, uint, type RlpItem } from '../lib/message.js'

const b = (...bytes: number[]): Uint8Array => Uint8Array.from(bytes)

test('uint: canonical encodings decode', () => {
  const table: [Uint8Array, number][] = [
    [b(), 0],
    [b(1), 1],
    [b(0x7f), 127],
    [b(0x01, 0x00), 256],
    [b(0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 2 ** 48 - 1],
  ]
  for (const [item, want] of table) assert.is(uint(item), want, `${Buffer.from(item).toString('hex')}`)
})

test('uint: lists, leading zeros and oversized items are MessageDecodeErrors naming the field', () => {
  const bad: [RlpItem | undefined, number, RegExp][] = [
    [[b(1)], 6, /port must be a byte string, got a list/],
    [undefined, 6, /port must be a byte string, got nothing/],
    [b(0), 6, /leading zero/],
    [b(0, 1), 6, /leading zero/],
    [b(1, 0, 0), 2, /at most 2 bytes/],
    [b(1, 2, 3, 4, 5, 6, 7), 8, /at most 6 bytes/],
  ]
  for (const [item, max, message] of bad) {
    const err = (() => {
      try {
        uint(item, 'port', max)
      } catch (e) {
        return e
      }
    })()
    assert.instance(err, MessageDecodeError)
    assert.match((err as Error).message, message)
  }
})

test('bigUint: any length, still canonical', () => {
  assert.is(bigUint(b()), 0n)
  assert.is(bigUint(b(1, 0, 0, 0, 0, 0, 0, 0, 0)), 2n ** 64n)
  assert.throws(() => bigUint(b(0, 1)), /leading zero/)
})

test.run()
