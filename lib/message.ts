/**
 * Messages as sub-protocols see them, and the read/write interface each protocol's `run`
 * gets: codes are relative to the protocol (0 … length − 1), payloads are RLP.
 * @module
 */
import { RLP, type Input } from '@ethereumjs/rlp'
import { MessageDecodeError } from './errors.js'

/** One decoded RLP item: a byte string or a list of items. */
export type RlpItem = Uint8Array | RlpItem[]

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
   * The items of the payload's RLP list, as {@link sendItems} wrote them.
   * @throws {MessageDecodeError} when the payload is not exactly one RLP list
   */
  decode(): RlpItem[] {
    let decoded: unknown
    try {
      decoded = RLP.decode(this.payload)
    } catch (err) {
      throw new MessageDecodeError(`message ${this.code}: payload is not valid RLP (${(err as Error).message})`, { cause: err })
    }
    if (!Array.isArray(decoded)) throw new MessageDecodeError(`message ${this.code}: payload is an RLP string, expected a list`)
    return decoded as RlpItem[]
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
