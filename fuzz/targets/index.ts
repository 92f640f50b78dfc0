/** Every fuzz target, in the order `npm run fuzz` runs them. @module */
import type { Target } from '../harness.js'
import { chatBroadcast, chatDirect } from './chat.js'
import { disconnect } from './disconnect.js'
import { flood, join } from './floodnet.js'
import { frame } from './frame.js'
import { ack, auth } from './handshake.js'
import { hello } from './hello.js'
import { rlp } from './rlp.js'
import { snappy } from './snappy.js'

// Targets take different input types; the runner only passes each its own inputs.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const targets: readonly Target<any>[] = [rlp, auth, ack, frame, snappy, hello, disconnect, join, flood, chatBroadcast, chatDirect]
