/**
 * chat/2's signed envelopes. Every chat message that floods is one RLP list
 *
 *     [kind, origin, timestamp, body, signature]
 *
 * where `origin` is the author's 32-byte node id, `timestamp` the author's clock in ms, and
 * `signature` the author's 65-byte recoverable secp256k1 signature over
 * keccak256(RLP(["devp2p-chat/2", kind, origin, timestamp, body])). A receiver recovers the
 * key, checks that it hashes to `origin`, and so knows who wrote it. The message id is the
 * first 16 bytes of that signing hash: it names the signed content, so a copy with a
 * malleated signature or under another flood id is still the same message.
 *
 * | kind | body |
 * | --- | --- |
 * | 0 broadcast | `[nick, text]` |
 * | 1 direct | `[recipient, sealed]` — `sealed` is ECIES to the recipient's key over RLP `[sender, recipient, timestamp, inner]`, with `inner` = `[0, nick, text]` (a message) or `[1, messageId]` (its receipt) |
 * | 2 presence | `[nick, host, port, interval, since]` — the author's listening address (an IP literal, or empty), its refresh period and the time it started, in ms |
 * | 3 goodbye | `[]` |
 *
 * The sealed part of a direct message names its sender and recipient again, inside what is
 * encrypted and (as ciphertext) signed: a relay that re-signs someone else's sealed body as
 * its own, or re-addresses it, makes the names disagree and the recipient refuses it.
 * Relays cannot tell a direct message from a receipt, nor read either.
 *
 * Every decoder here takes network bytes: sizes are checked before anything is allocated
 * or recovered, and every failure is a {@link MessageDecodeError} (or an {@link EciesError}
 * for a body not sealed to us).
 * @module
 */
import { isIP } from 'node:net'
import { RLP } from '@ethereumjs/rlp'
import { recover, sign } from '../../lib/crypto/index.js'
import { decodeRlp, FIXED_SHAPE_MAX_ITEMS } from '../../lib/rlp.js'
import { eciesDecrypt, eciesEncrypt, keccak256, MessageDecodeError, nodeId, publicKeyOf, uint, type RlpItem } from '../../lib/index.js'
import { MAX_ENVELOPE, MAX_NICK, MAX_TEXT } from './constants.js'
import { checkNick, nickProblem } from './nick.js'

/** The kinds of envelope, the first RLP element. */
export enum ChatKind {
  Broadcast = 0,
  Direct = 1,
  Presence = 2,
  Goodbye = 3,
}

/** What a direct envelope's sealed body holds. */
export enum DirectKind {
  Message = 0,
  Receipt = 1,
}

/** Prepended to every signed content, so a chat signature cannot be replayed as anything else's. */
export const SIGNING_DOMAIN = Buffer.from('devp2p-chat/2')
/** Longest host in a presence announcement: an IPv6 literal. */
const MAX_HOST = 45
/** A sealed direct body: ECIES overhead (113) + the RLP of sender, recipient, timestamp, nick and text, with room. */
const MAX_SEALED = MAX_TEXT + MAX_NICK + 256
const utf8Strict = new TextDecoder('utf-8', { fatal: true })

interface Signed {
  /** Message id: hex of the first 16 bytes of the signing hash. */
  id: string
  /** Node id (hex) of the author, proven by the signature. */
  origin: string
  /** The author's 64-byte public key, recovered from the signature. */
  originKey: Buffer
  /** Author's clock, ms since the epoch. */
  timestamp: number
  /** The envelope's bytes as received. */
  payload: Uint8Array
}

/** A broadcast. */
export interface BroadcastEnvelope extends Signed {
  kind: ChatKind.Broadcast
  nick: string
  text: string
}

/** A direct message or receipt; only the recipient can open `sealed` ({@link openDirect}). */
export interface DirectEnvelope extends Signed {
  kind: ChatKind.Direct
  /** Node id (hex) of the recipient. */
  recipient: string
  sealed: Buffer
}

/** A presence announcement. */
export interface PresenceEnvelope extends Signed {
  kind: ChatKind.Presence
  nick: string
  /** Where the author listens: an IP literal and TCP port, absent when it does not say. */
  host?: string
  port?: number
  /** The author's refresh period, ms: it announces again within this. */
  interval: number
  /** When the author started (its clock, ms): who started after us is shown as joining. */
  since: number
}

/** A goodbye: the author is leaving the chat. */
export interface GoodbyeEnvelope extends Signed {
  kind: ChatKind.Goodbye
}

/** A decoded envelope whose signature checked out. */
export type Envelope = BroadcastEnvelope | DirectEnvelope | PresenceEnvelope | GoodbyeEnvelope

/** The opened body of a direct envelope addressed to us. */
export type DirectBody = { kind: DirectKind.Message; nick: string; text: string } | { kind: DirectKind.Receipt; messageId: string }

/** Fields of a presence announcement, for {@link encodePresence}. */
export interface Presence {
  nick: string
  host?: string
  port?: number
  interval: number
  since: number
}

const signingHash = (kind: number, origin: Uint8Array, timestamp: number, body: unknown): Buffer =>
  keccak256(RLP.encode([SIGNING_DOMAIN, kind, origin, timestamp, body as Uint8Array]))

function signed(privateKey: Uint8Array, kind: ChatKind, timestamp: number, body: unknown): Uint8Array {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new RangeError(`timestamp must be a non-negative safe integer, got ${timestamp}`)
  const origin = Buffer.from(nodeId(publicKeyOf(privateKey)), 'hex')
  const signature = sign(signingHash(kind, origin, timestamp, body), privateKey)
  return RLP.encode([kind, origin, timestamp, body as Uint8Array, signature])
}

function checkText(text: string): void {
  const bytes = Buffer.byteLength(text)
  if (bytes > MAX_TEXT) throw new RangeError(`text is ${bytes} bytes, longer than ${MAX_TEXT}; split it into several lines`)
}

/**
 * Signs a broadcast.
 * @throws {InvalidNickError} when the nick breaks the nick rules
 * @throws {RangeError} when the text is over 2 KiB of UTF-8
 */
export function encodeBroadcast(privateKey: Uint8Array, nick: string, text: string, timestamp: number): Uint8Array {
  checkNick(nick)
  checkText(text)
  return signed(privateKey, ChatKind.Broadcast, timestamp, [nick, text])
}

function encodeSealed(privateKey: Uint8Array, recipientKey: Uint8Array, timestamp: number, inner: unknown[]): Uint8Array {
  const sender = Buffer.from(nodeId(publicKeyOf(privateKey)), 'hex')
  const recipient = Buffer.from(nodeId(recipientKey), 'hex')
  const sealed = eciesEncrypt(recipientKey, RLP.encode([sender, recipient, timestamp, inner as Uint8Array[]]))
  return signed(privateKey, ChatKind.Direct, timestamp, [recipient, sealed])
}

/**
 * Seals a direct message to `recipientKey` (64 bytes) and signs it.
 * @throws {InvalidNickError} / {RangeError} as {@link encodeBroadcast}
 */
export function encodeDirect(privateKey: Uint8Array, recipientKey: Uint8Array, nick: string, text: string, timestamp: number): Uint8Array {
  checkNick(nick)
  checkText(text)
  return encodeSealed(privateKey, recipientKey, timestamp, [DirectKind.Message, nick, text])
}

/** Seals and signs the receipt of direct message `messageId` (hex) for its sender. */
export function encodeReceipt(privateKey: Uint8Array, senderKey: Uint8Array, messageId: string, timestamp: number): Uint8Array {
  return encodeSealed(privateKey, senderKey, timestamp, [DirectKind.Receipt, Buffer.from(messageId, 'hex')])
}

/**
 * Signs a presence announcement.
 * @throws {InvalidNickError} when the nick breaks the nick rules
 * @throws {RangeError} when the host is not an IP literal or the port or interval is out of range
 */
export function encodePresence(privateKey: Uint8Array, presence: Presence, timestamp: number): Uint8Array {
  checkNick(presence.nick)
  const host = presence.host ?? ''
  if (host !== '' && isIP(host) === 0) throw new RangeError(`presence host must be an IP literal, got ${JSON.stringify(host)}`)
  const port = presence.port ?? 0
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`presence port must be 0 … 65535, got ${port}`)
  if (!Number.isSafeInteger(presence.interval) || presence.interval < 1) throw new RangeError(`presence interval must be a positive integer, got ${presence.interval}`)
  if (!Number.isSafeInteger(presence.since) || presence.since < 0) throw new RangeError(`presence start time must be a non-negative integer, got ${presence.since}`)
  return signed(privateKey, ChatKind.Presence, timestamp, [presence.nick, host, port, presence.interval, presence.since])
}

/** Signs a goodbye. */
export function encodeGoodbye(privateKey: Uint8Array, timestamp: number): Uint8Array {
  return signed(privateKey, ChatKind.Goodbye, timestamp, [])
}

// ---------------------------------------------------------------------------------------
// Decoding network bytes

const fail = (message: string): never => {
  throw new MessageDecodeError(message)
}

function bytes(item: RlpItem | undefined, what: string, min: number, max: number): Uint8Array {
  if (!(item instanceof Uint8Array)) return fail(`chat ${what} must be a byte string`)
  if (item.length < min || item.length > max) return fail(min === max ? `chat ${what} must be ${min} bytes, got ${item.length}` : `chat ${what} must be ${min} to ${max} bytes, got ${item.length}`)
  return item
}

function text(item: RlpItem | undefined, what: string, max: number): string {
  const raw = bytes(item, what, 0, max)
  try {
    return utf8Strict.decode(raw)
  } catch {
    return fail(`chat ${what} is not valid UTF-8`)
  }
}

function nick(item: RlpItem | undefined): string {
  const value = text(item, 'nick', MAX_NICK)
  const problem = nickProblem(value)
  if (problem) fail(`chat nick ${problem}`)
  return value
}

function list(item: RlpItem | undefined, what: string, length: number): RlpItem[] {
  if (!Array.isArray(item)) return fail(`chat ${what} must be a list`)
  if (item.length !== length) fail(`chat ${what} must have ${length} elements, got ${item.length}`)
  return item
}

/** RLP-decodes network bytes, refusing anything but a list of at most `maxItems` items in all. */
export function decodeList(payload: Uint8Array, what: string, maxItems = FIXED_SHAPE_MAX_ITEMS): RlpItem[] {
  let decoded: unknown
  try {
    decoded = decodeRlp(payload, { maxItems })
  } catch (err) {
    return fail(`${what} is not valid RLP: ${(err as Error).message}`)
  }
  if (!Array.isArray(decoded)) return fail(`${what} must be an RLP list`)
  return decoded as RlpItem[]
}

/**
 * Decodes an envelope and verifies its signature.
 * @throws {MessageDecodeError} when it is too large, malformed, of an unknown kind, or not
 *   signed by the origin it names
 */
export function decodeEnvelope(payload: Uint8Array): Envelope {
  if (payload.length > MAX_ENVELOPE) fail(`chat message of ${payload.length} bytes is over the ${MAX_ENVELOPE}-byte limit`)
  const [kindItem, originItem, timestampItem, body, signatureItem] = list(decodeList(payload, 'chat message'), 'message', 5)
  const kind = uint(kindItem, 'chat kind', 1)
  const origin = bytes(originItem, 'origin', 32, 32)
  const timestamp = uint(timestampItem, 'chat timestamp')
  const signature = bytes(signatureItem, 'signature', 65, 65)
  // The body is checked before the signature: recovery is the expensive part.
  let fields: Omit<BroadcastEnvelope, keyof Signed> | Omit<DirectEnvelope, keyof Signed> | Omit<PresenceEnvelope, keyof Signed> | Omit<GoodbyeEnvelope, keyof Signed>
  switch (kind) {
    case ChatKind.Broadcast: {
      const [n, t] = list(body, 'broadcast body', 2)
      fields = { kind, nick: nick(n), text: text(t, 'text', MAX_TEXT) }
      break
    }
    case ChatKind.Direct: {
      const [r, s] = list(body, 'direct body', 2)
      fields = { kind, recipient: Buffer.from(bytes(r, 'recipient', 32, 32)).toString('hex'), sealed: Buffer.from(bytes(s, 'sealed body', 0, MAX_SEALED)) }
      break
    }
    case ChatKind.Presence: {
      const [n, h, p, i, f] = list(body, 'presence body', 5)
      const host = text(h, 'presence host', MAX_HOST)
      if (host !== '' && isIP(host) === 0) fail('chat presence host must be an IP literal or empty')
      const port = uint(p, 'chat presence port', 2)
      const interval = uint(i, 'chat presence interval')
      if (interval < 1) fail('chat presence interval must be positive')
      fields = { kind, nick: nick(n), ...(host !== '' && port !== 0 ? { host, port } : {}), interval, since: uint(f, 'chat presence start time') }
      break
    }
    case ChatKind.Goodbye:
      list(body, 'goodbye body', 0)
      fields = { kind }
      break
    default:
      return fail(`unknown chat message kind ${kind}`)
  }
  const hash = signingHash(kind, origin, timestamp, body)
  let originKey: Buffer
  try {
    originKey = recover(hash, signature)
  } catch {
    return fail('chat signature does not recover a key')
  }
  const originHex = Buffer.from(origin).toString('hex')
  if (nodeId(originKey) !== originHex) fail('chat signature is not by the claimed origin')
  return { ...fields, id: hash.subarray(0, 16).toString('hex'), origin: originHex, originKey, timestamp, payload } as Envelope
}

/**
 * Opens the sealed body of a direct envelope addressed to `privateKey`'s owner and checks
 * that it names the envelope's signer as sender, us as recipient and the same timestamp.
 * @throws {EciesError} when it was not sealed to this key
 * @throws {MessageDecodeError} when the body is malformed or its names disagree with the envelope
 */
export function openDirect(envelope: DirectEnvelope, privateKey: Uint8Array): DirectBody {
  const self = nodeId(publicKeyOf(privateKey))
  if (envelope.recipient !== self) fail(`direct message is addressed to ${envelope.recipient.slice(0, 8)}, not to us`)
  const [senderItem, recipientItem, timestampItem, inner] = list(decodeList(eciesDecrypt(privateKey, envelope.sealed), 'direct message body'), 'sealed body', 4)
  const sender = Buffer.from(bytes(senderItem, 'sealed sender', 32, 32)).toString('hex')
  const recipient = Buffer.from(bytes(recipientItem, 'sealed recipient', 32, 32)).toString('hex')
  if (sender !== envelope.origin) fail(`direct message was sealed by ${sender.slice(0, 8)} but signed by ${envelope.origin.slice(0, 8)}: a relay re-signed someone else's message`)
  if (recipient !== self) fail(`direct message was sealed for ${recipient.slice(0, 8)}, not for us`)
  if (uint(timestampItem, 'sealed timestamp') !== envelope.timestamp) fail('direct message sealed and signed timestamps differ')
  if (!Array.isArray(inner) || inner.length === 0) return fail('chat direct inner body must be a non-empty list')
  const kind = uint(inner[0], 'direct kind', 1)
  if (kind === DirectKind.Message) {
    const [, n, t] = list(inner, 'direct message', 3)
    return { kind, nick: nick(n), text: text(t, 'text', MAX_TEXT) }
  }
  if (kind === DirectKind.Receipt) {
    const [, m] = list(inner, 'receipt', 2)
    return { kind, messageId: Buffer.from(bytes(m, 'receipt message id', 16, 16)).toString('hex') }
  }
  return fail(`unknown direct kind ${kind}`)
}
