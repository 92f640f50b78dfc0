/**
 * RLP as sub-protocols read it: `Msg.decode` of a payload, then `uint` and `bigUint` on every
 * byte string in it. An accepted payload must re-encode to itself: the decoder refuses
 * non-canonical RLP, as geth's does.
 * @module
 */
import { RLP } from '@ethereumjs/rlp'
import { bigUint, Msg, uint, type RlpItem } from '../../lib/message.js'
import { ignoreTyped, PropertyViolation, type Target } from '../harness.js'
import { LARGE_INPUT, networkBytes } from '../inputs.js'
import { rlpSeeds } from '../seeds.js'

/**
 * Lists with more items than this are not re-encoded: RLP.encode spreads a list's items
 * as call arguments, which overflows the stack past about 100,000.
 */
const ROUND_TRIP_ITEMS = 10_000

/** Calls `fn` on every byte string in `items`, without recursion (inputs nest thousands deep); returns the item count. */
function forEachString(items: RlpItem[], fn: (item: Uint8Array) => void): number {
  const stack: RlpItem[] = []
  let count = 0
  const push = (list: RlpItem[]): void => {
    for (const item of list) stack.push(item)
    count += list.length
  }
  push(items)
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    if (item instanceof Uint8Array) fn(item)
    else push(item)
  }
  return count
}

export const rlp: Target = {
  name: 'rlp',
  decoder: 'Msg.decode, uint, bigUint',
  arbitrary: networkBytes(rlpSeeds, LARGE_INPUT),
  run(payload) {
    const items = new Msg(0, payload).decode()
    const count = forEachString(items, (item) => {
      ignoreTyped(() => uint(item, 'fuzz'))
      ignoreTyped(() => uint(item, 'fuzz', 1))
      ignoreTyped(() => bigUint(item, 'fuzz'))
    })
    if (count <= ROUND_TRIP_ITEMS && !Buffer.from(RLP.encode(items)).equals(payload)) {
      throw new PropertyViolation('accepted RLP that does not re-encode to the input')
    }
  },
  bytes: (payload) => payload,
  valid: rlpSeeds.filter((seed) => seed[0]! >= 0xc0),
}
