/**
 * The Disconnect reason: whatever the payload, the decoder returns a reason byte or
 * undefined (a session ends either way, so it never throws).
 * @module
 */
import { decodeDisconnectReason } from '../../lib/disconnect.js'
import { PropertyViolation, type Target } from '../harness.js'
import { LARGE_INPUT, networkBytes } from '../inputs.js'
import { disconnectSeeds } from '../seeds.js'

export const disconnect: Target = {
  name: 'disconnect',
  decoder: 'decodeDisconnectReason',
  arbitrary: networkBytes(disconnectSeeds, LARGE_INPUT),
  run(payload) {
    const reason = decodeDisconnectReason(payload)
    if (reason !== undefined && !(Number.isInteger(reason) && reason >= 0 && reason <= 0xff)) {
      throw new PropertyViolation(`decoded reason ${reason} is not a byte`)
    }
  },
  bytes: (payload) => payload,
  valid: disconnectSeeds,
}
