/**
 * The p2p Hello message: `[protocolVersion, clientId, caps, listenPort, nodeId, ...]`.
 * Decoding tolerates extra list elements and any version number, as EIP-8 requires.
 * @module
 */
import { RLP } from '@ethereumjs/rlp'
import { MessageDecodeError } from './errors.js'
import { uint, type RlpItem } from './message.js'
import { decodeRlp } from './rlp.js'
import type { Cap } from './protocol.js'

/** The p2p protocol version we speak (5: snappy after Hello). */
export const P2P_VERSION = 5
/** Largest Hello payload accepted, as in go-ethereum. */
export const MAX_HELLO_SIZE = 2048

/** A decoded Hello; extra list elements of newer versions are dropped. */
export interface Hello {
  version: number
  clientId: string
  caps: Cap[]
  listenPort: number
  /** The sender's 64-byte public key. */
  nodeId: Buffer
}

function bytes(item: unknown, field: string): Buffer {
  if (!(item instanceof Uint8Array)) throw new MessageDecodeError(`Hello field "${field}" must be a byte string`)
  return Buffer.from(item)
}

/** RLP payload of a Hello (uncompressed: Hello is never snappy-compressed). */
export function encodeHello(hello: Hello): Uint8Array {
  return RLP.encode([
    hello.version,
    hello.clientId,
    hello.caps.map((c) => [c.name, c.version]),
    hello.listenPort,
    hello.nodeId,
  ])
}

/**
 * @throws {MessageDecodeError} when the payload is too large or not a Hello
 */
export function decodeHello(payload: Uint8Array): Hello {
  if (payload.length > MAX_HELLO_SIZE) {
    throw new MessageDecodeError(`Hello of ${payload.length} bytes exceeds the ${MAX_HELLO_SIZE}-byte limit`)
  }
  let list: unknown
  try {
    list = decodeRlp(payload, { trailing: true })
  } catch (err) {
    throw new MessageDecodeError(`Hello is not valid RLP: ${(err as Error).message}`)
  }
  if (!Array.isArray(list) || list.length < 5) throw new MessageDecodeError('Hello must be a list of at least 5 elements')
  const [version, clientId, caps, listenPort, nodeId] = list as RlpItem[]
  if (!Array.isArray(caps)) throw new MessageDecodeError('Hello capabilities must be a list')
  return {
    version: uint(version, 'Hello protocolVersion'),
    clientId: bytes(clientId, 'clientId').toString('utf8'),
    caps: caps.map((cap: RlpItem) => {
      if (!Array.isArray(cap) || cap.length < 2) throw new MessageDecodeError('Hello capability must be [name, version]')
      return { name: bytes(cap[0], 'cap name').toString('latin1'), version: uint(cap[1], 'Hello cap version') }
    }),
    listenPort: uint(listenPort, 'Hello listenPort'),
    nodeId: bytes(nodeId, 'nodeId'),
  }
}
