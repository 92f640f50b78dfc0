/**
 * chat's signed messages. A broadcast is `[0, origin, nick, text, timestamp, signature]`; a
 * direct message is `[1, origin, recipient, sealed, timestamp, signature]` where `sealed`
 * is ECIES to the recipient's key over RLP `[nick, text]`. The signature is the origin's
 * recoverable secp256k1 signature over keccak256 of the RLP of every other field, so a
 * receiver recovers the key, checks that it hashes to `origin`, and knows who spoke.
 * @module
 */
import { RLP } from '@ethereumjs/rlp'
import { eciesDecrypt, eciesEncrypt, keccak256, MessageDecodeError, nodeId, publicKeyOf, uint } from '../../lib/index.js'
import { recover, sign } from '../../lib/crypto/index.js'
import { decodeRlp, FIXED_SHAPE_MAX_ITEMS } from '../../lib/rlp.js'

/** The two kinds of chat envelope, the first RLP element. */
export enum ChatKind {
  Broadcast = 0,
  Direct = 1,
}

/** Longest text accepted, in bytes of UTF-8. */
export const MAX_TEXT = 2048
/** Longest nick, in bytes of UTF-8. */
export const MAX_NICK = 32

/** A verified chat message. */
export interface ChatMessage {
  kind: ChatKind
  /** Node id (hex) of the author, proven by the signature. */
  origin: string
  /** The author's 64-byte public key, recovered from the signature. */
  originKey: Buffer
  nick: string
  text: string
  /** Author's clock, ms since the epoch. */
  timestamp: number
  /** For direct messages: the recipient's node id. */
  recipient?: string
}

/** A decoded, signature-checked envelope whose direct-message body may still be sealed. */
export interface Envelope {
  kind: ChatKind
  origin: string
  originKey: Buffer
  timestamp: number
  /** Broadcast: nick and text. */
  nick?: string
  text?: string
  /** Direct: recipient id and the ECIES-sealed `[nick, text]`. */
  recipient?: string
  sealed?: Buffer
}

function signed(fields: unknown[], privateKey: Uint8Array): Uint8Array {
  const signature = sign(keccak256(RLP.encode(fields as Uint8Array[])), privateKey)
  return RLP.encode([...(fields as Uint8Array[]), signature])
}

function checkText(nick: string, text: string): void {
  if (Buffer.byteLength(nick) > MAX_NICK) throw new RangeError(`nick is longer than ${MAX_NICK} bytes`)
  if (Buffer.byteLength(text) > MAX_TEXT) throw new RangeError(`text is longer than ${MAX_TEXT} bytes`)
}

/** Encodes and signs a broadcast. */
export function encodeBroadcast(privateKey: Uint8Array, nick: string, text: string, timestamp = Date.now()): Uint8Array {
  checkText(nick, text)
  const origin = Buffer.from(nodeId(publicKeyOf(privateKey)), 'hex')
  return signed([ChatKind.Broadcast, origin, nick, text, timestamp], privateKey)
}

/** Encodes, seals to `recipientKey` and signs a direct message. */
export function encodeDirect(privateKey: Uint8Array, recipientKey: Uint8Array, nick: string, text: string, timestamp = Date.now()): Uint8Array {
  checkText(nick, text)
  const origin = Buffer.from(nodeId(publicKeyOf(privateKey)), 'hex')
  const recipient = Buffer.from(nodeId(recipientKey), 'hex')
  const sealed = eciesEncrypt(recipientKey, RLP.encode([nick, text]))
  return signed([ChatKind.Direct, origin, recipient, sealed, timestamp], privateKey)
}

const str = (item: unknown, what: string, max: number): string => {
  if (!(item instanceof Uint8Array) || item.length > max) throw new MessageDecodeError(`chat ${what} must be at most ${max} bytes`)
  return Buffer.from(item).toString('utf8')
}
const id32 = (item: unknown, what: string): Buffer => {
  if (!(item instanceof Uint8Array) || item.length !== 32) throw new MessageDecodeError(`chat ${what} must be a 32-byte node id`)
  return Buffer.from(item)
}

/**
 * Decodes an envelope and verifies its signature.
 * @throws {MessageDecodeError} when malformed, or when the signature is not the origin's
 */
export function openEnvelope(payload: Uint8Array): Envelope {
  let list: unknown
  try {
    list = decodeRlp(payload, { maxItems: FIXED_SHAPE_MAX_ITEMS })
  } catch (err) {
    throw new MessageDecodeError(`chat message is not valid RLP: ${(err as Error).message}`)
  }
  if (!Array.isArray(list) || list.length !== 6) throw new MessageDecodeError('chat message must be a 6-element list')
  const kind = uint(list[0], 'chat kind')
  const origin = id32(list[1], 'origin')
  const signature = list[5]
  if (!(signature instanceof Uint8Array) || signature.length !== 65) throw new MessageDecodeError('chat signature must be 65 bytes')
  let originKey: Buffer
  try {
    originKey = recover(keccak256(RLP.encode(list.slice(0, 5) as Uint8Array[])), signature)
  } catch {
    throw new MessageDecodeError('chat signature does not recover a key')
  }
  if (nodeId(originKey) !== origin.toString('hex')) throw new MessageDecodeError('chat signature is not by the claimed origin')
  const timestamp = uint(list[4], 'chat timestamp')
  const base = { kind, origin: origin.toString('hex'), originKey, timestamp }
  if (kind === ChatKind.Broadcast) {
    return { ...base, nick: str(list[2], 'nick', MAX_NICK), text: str(list[3], 'text', MAX_TEXT) }
  }
  if (kind === ChatKind.Direct) {
    const sealed = list[3]
    if (!(sealed instanceof Uint8Array) || sealed.length > MAX_TEXT + MAX_NICK + 256) throw new MessageDecodeError('chat direct body too large')
    return { ...base, recipient: id32(list[2], 'recipient').toString('hex'), sealed: Buffer.from(sealed) }
  }
  throw new MessageDecodeError(`unknown chat message kind ${kind}`)
}

/**
 * Opens the sealed body of a direct message addressed to `privateKey`'s owner.
 * @throws {EciesError} when it was not sealed to this key
 * @throws {MessageDecodeError} when the body is malformed
 */
export function unsealDirect(envelope: Envelope, privateKey: Uint8Array): { nick: string; text: string } {
  const body = eciesDecrypt(privateKey, envelope.sealed!)
  let list: unknown
  try {
    list = decodeRlp(body, { maxItems: FIXED_SHAPE_MAX_ITEMS })
  } catch {
    throw new MessageDecodeError('direct message body is not valid RLP')
  }
  if (!Array.isArray(list) || list.length < 2) throw new MessageDecodeError('direct message body must be [nick, text]')
  return { nick: str(list[0], 'nick', MAX_NICK), text: str(list[1], 'text', MAX_TEXT) }
}
