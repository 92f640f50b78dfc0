// The RLP decoder every decoder of network bytes uses: the canonical RLP @ethereumjs/rlp
// accepts, in one pass, with a bound on items. The bombs below are the inputs `npm run fuzz`
// found to stall the event loop under @ethereumjs/rlp's decoder.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { RLP } from '@ethereumjs/rlp'
import { decodeDisconnectReason } from '../lib/disconnect.js'
import { MessageDecodeError } from '../lib/errors.js'
import { MAX_DECODE_ITEMS, Msg, type RlpItem } from '../lib/message.js'
import { decodeRlp } from '../lib/rlp.js'
import { decodeFlood, floodnetDefaults } from '../protocols/floodnet/index.js'
import { decodeJoin } from '../protocols/floodnet/join.js'
import { decodeEnvelope } from '../protocols/chat/index.js'
import { mutate, randomRlp, rlpHeader } from '../fuzz/inputs.js'
import { broadcastSeeds, disconnectSeeds, floodSeeds, joinSeeds, rlpSeeds } from '../fuzz/seeds.js'

const hex = (s: string): Buffer => Buffer.from(s, 'hex')

function thrown(fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return undefined
}

/** An item as nested arrays of hex strings: @ethereumjs/rlp returns some strings as Uint8Array, we as Buffer. */
type Shape = string | Shape[]
const shape = (item: unknown): Shape => (Array.isArray(item) ? item.map(shape) : Buffer.from(item as Uint8Array).toString('hex'))

/** `content` inside `depth` lists: [[[…content…]]]. */
function nested(content: Uint8Array, depth: number): Buffer {
  let out = Buffer.from(content)
  for (let i = 0; i < depth; i++) out = Buffer.concat([rlpHeader(out.length, true), out])
  return out
}

/** A list of `count` one-byte items (0x00 each). */
const wide = (count: number): Buffer => Buffer.concat([rlpHeader(count, true), Buffer.alloc(count)])

/** The seed's list with `count` more one-byte items appended. */
function padded(seed: Uint8Array, count: number): Buffer {
  const h = seed[0]! - 0xf7
  const content = seed.subarray(seed[0]! < 0xf8 ? 1 : 1 + h)
  return Buffer.concat([rlpHeader(content.length + count, true), content, Buffer.alloc(count)])
}

test('decodes canonical RLP as @ethereumjs/rlp does', () => {
  for (const input of ['00', '7f', '8180', '80', 'b838' + '61'.repeat(56), 'c0', 'c3010203', 'c7c0c1c0c3c0c1c0', 'f83b' + '80'.repeat(59)]) {
    assert.equal(shape(decodeRlp(hex(input))), shape(RLP.decode(hex(input))), input)
  }
})

test('refuses what @ethereumjs/rlp refuses: non-canonical forms, truncation, trailing bytes', () => {
  const table: [string, RegExp][] = [
    ['', /no data/],
    ['8100', /single byte below 0x80/],
    ['817f', /single byte below 0x80/],
    ['b80161', /long form for a length below 56/],
    ['f801c0', /long form for a length below 56/],
    ['b90038' + '61'.repeat(56), /leading zero/],
    ['82ff', /runs past the end/],
    ['c2c3', /runs past the end/],
    ['b9ff', /length field runs past the end/],
    ['c18180', /runs past the end/],
    ['c08080', /2 bytes follow the item/],
  ]
  for (const [input, message] of table) {
    const err = thrown(() => decodeRlp(hex(input)))
    assert.instance(err, MessageDecodeError, input)
    assert.match((err as Error).message, message, input)
    assert.ok(thrown(() => RLP.decode(hex(input))) !== undefined || input === '', `@ethereumjs/rlp refuses ${input} too`)
  }
  assert.equal(decodeRlp(hex('c08080'), { trailing: true }), [])
})

test('accepts exactly what @ethereumjs/rlp accepts, on 3,000 mutated seeds and random RLP trees', () => {
  // The one difference: @ethereumjs/rlp reads no bytes as an empty string, we refuse them.
  const inputs = fc.oneof(mutate(fc.constantFrom(...rlpSeeds), rlpSeeds), randomRlp).filter((input) => input.length > 0)
  fc.assert(
    fc.property(inputs, (input) => {
      const ours = thrown(() => decodeRlp(input))
      const theirs = thrown(() => RLP.decode(input))
      assert.is(ours === undefined, theirs === undefined, `agree on accepting ${Buffer.from(input).toString('hex')}`)
      if (ours === undefined) assert.equal(shape(decodeRlp(input)), shape(RLP.decode(input)))
    }),
    { seed: 7, numRuns: 3000 },
  )
})

test('byte strings are views into the input, not copies', () => {
  const input = hex('c88363617483646f67')
  const items = decodeRlp(input) as Uint8Array[]
  assert.is(items[1]!.buffer, input.buffer)
  assert.is(Buffer.from(items[1]!).toString(), 'dog')
})

test('fuzz input [[[…[]…]]], lists nested 8,000 deep: decoded without recursion, here 20,000 deep', () => {
  const items = new Msg(0, nested(Uint8Array.of(0xc0), 20_000)).decode()
  let depth = 1
  for (let list = items; list.length > 0; list = list[0] as RlpItem[]) depth++
  assert.is(depth, 20_001)
})

test(`fuzz input of 1 MiB one-byte items: Msg.decode stops after ${MAX_DECODE_ITEMS} items, or maxItems`, () => {
  const err = thrown(() => new Msg(3, wide(1 << 20)).decode())
  assert.instance(err, MessageDecodeError)
  assert.match((err as Error).message, `message 3: more than ${MAX_DECODE_ITEMS} RLP items`)
  assert.is(new Msg(3, wide(100_000)).decode({ maxItems: 100_001 }).length, 100_000)
  assert.instance(thrown(() => new Msg(3, wide(100)).decode({ maxItems: 100 })), MessageDecodeError)
})

test('messages of fixed shape refuse 100,000 extra items before building them', () => {
  const decoders: [string, Uint8Array, (payload: Uint8Array) => unknown][] = [
    ['JOIN_REQ', joinSeeds[0]!, decodeJoin],
    ['flood message', floodSeeds[1]!, (wire) => decodeFlood(wire, floodnetDefaults.MAX_PAYLOAD)],
    ['chat envelope', broadcastSeeds[0]!, decodeEnvelope],
  ]
  // JOIN_REQ and flood messages take the extra fields of a newer version.
  decodeJoin(padded(joinSeeds[0]!, 3))
  decodeFlood(padded(floodSeeds[1]!, 3), floodnetDefaults.MAX_PAYLOAD)
  for (const [what, seed, decode] of decoders) {
    const err = thrown(() => decode(padded(seed, 100_000)))
    assert.instance(err, MessageDecodeError, what)
    // A chat envelope is refused on its size (4 KiB) even before its items are counted.
    assert.match((err as Error).message, /more than 64 RLP items|over the \d+-byte limit/, what)
  }
  assert.is(decodeDisconnectReason(padded(disconnectSeeds[0]!, 3)), 4)
  assert.is(decodeDisconnectReason(padded(disconnectSeeds[0]!, 100_000)), undefined)
})

test.run()
