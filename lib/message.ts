/**
 * Messages as sub-protocols see them, and the read/write interface each protocol's `run`
 * gets: codes are relative to the protocol (0 … length − 1), payloads are RLP.
 * @module
 */
import { RLP, type Input } from '@ethereumjs/rlp'
import { MessageDecodeError } from './errors.js'
import { decodeRlp } from './rlp.js'

/** One decoded RLP item: a byte string or a list of items. */
export type RlpItem = Uint8Array | RlpItem[]

/**
 * Items {@link Msg.decode} decodes at most by default, strings and lists at any depth:
 * without a bound a peer could make one message cost an object per byte it sends.
 */
export const MAX_DECODE_ITEMS = 65_536

/** A received message. */
export class Msg {
  /** The protocol-relative message code. */
  readonly code: number
  /** The RLP-encoded (uncompressed) payload. */
  readonly payload: Uint8Array
  /** When the message was read from the wire (ms since the epoch). */
  readonly receivedAt: number

  constructor(code: number, payload: Uint8Array, receivedAt = Date.now()) {
    this.code = code
    this.payload = payload
    this.receivedAt = receivedAt
  }

  /** Payload size in bytes (uncompressed). */
  get size(): number {
    return this.payload.length
  }

  /**
   * The items of the payload's RLP list, as {@link sendItems} wrote them. Byte strings are
   * views into the payload.
   * @param options.maxItems most items to decode, strings and lists at any depth
   *   (default {@link MAX_DECODE_ITEMS}); raise it for messages that carry more
   * @throws {MessageDecodeError} when the payload is not exactly one canonical RLP list,
   *   or holds more than `maxItems` items
   */
  decode({ maxItems = MAX_DECODE_ITEMS }: { maxItems?: number } = {}): RlpItem[] {
    let decoded: RlpItem
    try {
      decoded = decodeRlp(this.payload, { maxItems })
    } catch (err) {
      throw new MessageDecodeError(`message ${this.code}: ${(err as Error).message}`, { cause: err })
    }
    if (!Array.isArray(decoded)) throw new MessageDecodeError(`message ${this.code}: payload is an RLP string, expected a list`)
    return decoded
  }
}

/** Reads a protocol's incoming messages, one at a time or by `for await`. */
export interface MsgReader extends AsyncIterable<Msg> {
  /**
   * The next message.
   * @throws {DisconnectError} once the peer is gone
   */
  readMsg(): Promise<Msg>
}

/** Writes messages of one protocol. */
export interface MsgWriter {
  /**
   * Sends `payload` (RLP bytes) as message `code`. Resolves once queued for the socket;
   * waits while the socket's buffer is full.
   * @throws {InvalidMessageCodeError} when `code` is not below the protocol's `length`
   * @throws {DisconnectError} when the peer is gone
   */
  writeMsg(code: number, payload: Uint8Array): Promise<void>
}

/** What a protocol's `run` reads from and writes to. */
export interface MsgReadWriter extends MsgReader, MsgWriter {}

/** Sends `items` as one RLP list: `sendItems(rw, 0, 'bar')` sends `["bar"]`. */
export function sendItems(rw: MsgWriter, code: number, ...items: Input[]): Promise<void> {
  return rw.writeMsg(code, RLP.encode(items))
}

/** UTF-8 text of a byte string item. */
export function utf8(item: RlpItem | undefined): string {
  if (!(item instanceof Uint8Array)) throw new MessageDecodeError('expected a byte string item, got a list')
  return Buffer.from(item.buffer, item.byteOffset, item.length).toString('utf8')
}

/**
 * The unsigned integer in a byte string item, as RLP spells it: big-endian, no leading zero
 * bytes (the empty string is 0), at most `maxBytes` bytes (6 keeps it a safe integer).
 * @throws {MessageDecodeError} naming `what` when the item is a list, too long or not canonical
 */
export function uint(item: RlpItem | undefined, what = 'integer', maxBytes = 6): number {
  if (!(item instanceof Uint8Array)) throw new MessageDecodeError(`${what} must be a byte string, got ${item === undefined ? 'nothing' : 'a list'}`)
  if (item.length > Math.min(maxBytes, 6)) throw new MessageDecodeError(`${what} must be at most ${Math.min(maxBytes, 6)} bytes, got ${item.length}`)
  if (item[0] === 0) throw new MessageDecodeError(`${what} has a leading zero byte (not canonical RLP)`)
  let n = 0
  for (const byte of item) n = n * 256 + byte
  return n
}

/** {@link uint} without the size cap, as a bigint. @throws {MessageDecodeError} */
export function bigUint(item: RlpItem | undefined, what = 'integer'): bigint {
  if (!(item instanceof Uint8Array)) throw new MessageDecodeError(`${what} must be a byte string`)
  if (item[0] === 0) throw new MessageDecodeError(`${what} has a leading zero byte (not canonical RLP)`)
  return item.length === 0 ? 0n : BigInt(`0x${Buffer.from(item).toString('hex')}`)
}
