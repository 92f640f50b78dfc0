/** The p2p Hello, decoded before anything else on a session is trusted. @module */
import { decodeHello, MAX_HELLO_SIZE } from '../../lib/hello.js'
import type { Target } from '../harness.js'
import { networkBytes } from '../inputs.js'
import { helloSeeds } from '../seeds.js'

export const hello: Target = {
  name: 'hello',
  decoder: 'decodeHello',
  arbitrary: networkBytes(helloSeeds, 2 * MAX_HELLO_SIZE),
  run: (payload) => void decodeHello(payload),
  bytes: (payload) => payload,
  valid: helloSeeds,
}
