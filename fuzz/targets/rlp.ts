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
const INTEGER_READS = 64
/**
 * Only payloads within these bounds are re-encoded: RLP.encode spreads a list's items as call
 * arguments, which overflows the stack past about 100,000, and copies each nested list into
 * its parent, which takes depth × size.
 */
const ROUND_TRIP = { items: 10_000, depth: 64 }

/**
 * Calls `fn` on the first {@link INTEGER_READS} byte strings in `items`, in order and without
 * recursion (inputs nest thousands deep); true when the items are within {@link ROUND_TRIP}.
 * Stops there, so that the harness's walk never costs more than the decoding.
 */
function walk(items: RlpItem[], fn: (item: Uint8Array) => void): boolean {
  // Open lists: the list, the index of its next item, its depth.
  const open: [RlpItem[], number, number][] = [[items, 0, 1]]
  let visited = 0
  let reads = 0
  while (open.length > 0) {
    const top = open[open.length - 1]!
    const [list, index, depth] = top
    if (index === list.length) {
      open.pop()
      continue
    }
    top[1]++
    const item = list[index]!
    if (++visited > ROUND_TRIP.items) return false
    if (!(item instanceof Uint8Array)) {
      if (depth === ROUND_TRIP.depth) return false
      open.push([item, 0, depth + 1])
    } else if (reads++ < INTEGER_READS) {
      fn(item)
    }
  }
  return true
}

export const rlp: Target = {
  name: 'rlp',
  decoder: 'Msg.decode, uint, bigUint',
  arbitrary: networkBytes(rlpSeeds, LARGE_INPUT),
  run(payload) {
    const items = new Msg(0, payload).decode()
    const small = walk(items, (item) => {
      ignoreTyped(() => uint(item, 'fuzz'))
      ignoreTyped(() => uint(item, 'fuzz', 1))
      ignoreTyped(() => bigUint(item, 'fuzz'))
    })
    if (small && !Buffer.from(RLP.encode(items)).equals(payload)) {
      throw new PropertyViolation('accepted RLP that does not re-encode to the input')
    }
  },
  bytes: (payload) => payload,
  valid: rlpSeeds.filter((seed) => seed[0]! >= 0xc0),
}
