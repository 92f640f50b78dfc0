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

/** Byte strings `uint` and `bigUint` read: enough of every shape, and errors cost microseconds each. */
const INTEGER_READS = 256
/**
 * Only payloads within these bounds are re-encoded: RLP.encode spreads a list's items as call
 * arguments, which overflows the stack past about 100,000, and copies each nested list into
 * its parent, which takes depth × size.
 */
const ROUND_TRIP = { items: 10_000, depth: 64 }

/**
 * Calls `fn` on every byte string in `items`, without recursion (inputs nest thousands
 * deep); returns how many items there are and how deep they nest.
 */
function forEachString(items: RlpItem[], fn: (item: Uint8Array) => void): { count: number; depth: number } {
  const stack: [RlpItem, number][] = []
  let count = 0
  let depth = 1
  const push = (list: RlpItem[], level: number): void => {
    for (const item of list) stack.push([item, level])
    count += list.length
    depth = Math.max(depth, level)
  }
  push(items, 1)
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [item, level] = next
    if (item instanceof Uint8Array) fn(item)
    else push(item, level + 1)
  }
  return { count, depth }
}

export const rlp: Target = {
  name: 'rlp',
  decoder: 'Msg.decode, uint, bigUint',
  arbitrary: networkBytes(rlpSeeds, LARGE_INPUT),
  run(payload) {
    const items = new Msg(0, payload).decode()
    let reads = 0
    const { count, depth } = forEachString(items, (item) => {
      if (++reads > INTEGER_READS) return
      ignoreTyped(() => uint(item, 'fuzz'))
      ignoreTyped(() => uint(item, 'fuzz', 1))
      ignoreTyped(() => bigUint(item, 'fuzz'))
    })
    if (count <= ROUND_TRIP.items && depth <= ROUND_TRIP.depth && !Buffer.from(RLP.encode(items)).equals(payload)) {
      throw new PropertyViolation('accepted RLP that does not re-encode to the input')
    }
  },
  bytes: (payload) => payload,
  valid: rlpSeeds.filter((seed) => seed[0]! >= 0xc0),
}
