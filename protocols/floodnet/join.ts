/**
 * The JOIN_REQ message: `[requestId, requesterKey, host, tcpPort, hopsLeft]`. It carries
 * the requester's enode so that the node that accepts can dial it — and so the new link is
 * authenticated by the requester's key.
 * @module
 */
import { randomBytes } from 'node:crypto'
import { RLP } from '@ethereumjs/rlp'
import { MessageDecodeError, nodeId, uint, type Enode } from '../../lib/index.js'
import { decodeRlp, FIXED_SHAPE_MAX_ITEMS } from '../../lib/rlp.js'

/** A decoded JOIN_REQ. */
export interface JoinRequest {
  /** 8 random bytes, fresh at every hop. */
  requestId: Buffer
  requester: Enode
  hopsLeft: number
}

/** Encodes a JOIN_REQ with a fresh request id (a forwarded request gets a new one too). */
export function encodeJoin(req: Omit<JoinRequest, 'requestId'>): Uint8Array {
  const { publicKey, host, tcpPort } = req.requester
  return RLP.encode([randomBytes(8), publicKey, host ?? '', tcpPort ?? 0, req.hopsLeft])
}

/** @throws {MessageDecodeError} when the message is not a well-formed JOIN_REQ */
export function decodeJoin(payload: Uint8Array): JoinRequest {
  let list: unknown
  try {
    list = decodeRlp(payload, { maxItems: FIXED_SHAPE_MAX_ITEMS })
  } catch (err) {
    throw new MessageDecodeError(`JOIN_REQ is not valid RLP: ${(err as Error).message}`)
  }
  if (!Array.isArray(list) || list.length < 5) throw new MessageDecodeError('JOIN_REQ must be [id, key, host, port, hops]')
  const [requestId, key, host, port, hops] = list as Uint8Array[]
  if (!(requestId instanceof Uint8Array) || requestId.length !== 8) throw new MessageDecodeError('JOIN_REQ id must be 8 bytes')
  if (!(key instanceof Uint8Array) || key.length !== 64) throw new MessageDecodeError('JOIN_REQ key must be 64 bytes')
  if (!(host instanceof Uint8Array) || host.length === 0 || host.length > 255) throw new MessageDecodeError('JOIN_REQ host must be 1-255 bytes')
  const tcpPort = uint(port, 'JOIN_REQ port', 2)
  if (tcpPort === 0) throw new MessageDecodeError('JOIN_REQ port must be 1-65535')
  const hopsLeft = uint(hops, 'JOIN_REQ hops', 1)
  const publicKey = Buffer.from(key)
  return {
    requestId: Buffer.from(requestId),
    requester: {
      publicKey,
      id: nodeId(publicKey),
      host: Buffer.from(host).toString('utf8'),
      tcpPort,
    },
    hopsLeft,
  }
}
