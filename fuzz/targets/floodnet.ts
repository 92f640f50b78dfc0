/** floodnet's two messages: JOIN_REQ and the flood message that carries every broadcast. @module */
import { decodeFlood, floodnetDefaults } from '../../protocols/floodnet/index.js'
import { decodeJoin } from '../../protocols/floodnet/join.js'
import type { Target } from '../harness.js'
import { LARGE_INPUT, networkBytes } from '../inputs.js'
import { floodSeeds, joinSeeds } from '../seeds.js'

export const join: Target = {
  name: 'join',
  decoder: 'decodeJoin',
  arbitrary: networkBytes(joinSeeds, LARGE_INPUT),
  run: (payload) => void decodeJoin(payload),
  bytes: (payload) => payload,
  valid: joinSeeds,
}

export const flood: Target = {
  name: 'flood',
  decoder: 'decodeFlood',
  arbitrary: networkBytes(floodSeeds, LARGE_INPUT),
  run: (wire) => void decodeFlood(wire, floodnetDefaults.MAX_PAYLOAD),
  bytes: (wire) => wire,
  valid: floodSeeds,
}
