/**
 * Testing helpers for protocol authors: an in-memory pair of connected read-writers and an
 * assertion on the next message, so a protocol's `run` can be tested without sockets.
 * @module
 */
import { RLP, type Input } from '@ethereumjs/rlp'
import { DisconnectError, DiscReason } from './disconnect.js'
import { Devp2pError, InvalidMessageCodeError } from './errors.js'
import { Msg, type MsgReadWriter } from './message.js'
import { MsgQueue } from './msg-queue.js'

/** One end of a {@link MsgPipe}; `close()` ends both ends. */
export interface MsgPipeEnd extends MsgReadWriter {
  close(): void
}

/**
 * Two connected in-memory read-writers: what one writes, the other reads. Writes reject
 * codes ≥ `length`; after `close()` reads and writes on both ends reject with
 * {@link DisconnectError}. Unread messages queue without bound, so keep tests small.
 */
export function MsgPipe(length = Number.MAX_SAFE_INTEGER, name = 'pipe'): [MsgPipeEnd, MsgPipeEnd] {
  const queues = [new MsgQueue(Number.MAX_SAFE_INTEGER, () => {}), new MsgQueue(Number.MAX_SAFE_INTEGER, () => {})] as const
  let closed = false
  const close = (): void => {
    if (closed) return
    closed = true
    const err = new DisconnectError(DiscReason.Requested, false)
    queues[0].close(err)
    queues[1].close(err)
  }
  const end = (inbox: MsgQueue, outbox: MsgQueue): MsgPipeEnd => ({
    readMsg: () => inbox.readMsg(),
    [Symbol.asyncIterator]: () => inbox[Symbol.asyncIterator](),
    async writeMsg(code, payload) {
      if (!Number.isInteger(code) || code < 0 || code >= length) throw new InvalidMessageCodeError(name, code, length)
      if (closed) throw new DisconnectError(DiscReason.Requested, false)
      outbox.push(new Msg(code, Uint8Array.from(payload)))
    },
    close,
  })
  return [end(queues[0], queues[1]), end(queues[1], queues[0])]
}

/** The message {@link expectMsg} read did not match. */
export class UnexpectedMsgError extends Devp2pError {
  constructor(message: string) {
    super('ERR_UNEXPECTED_MSG', message)
  }
}

/**
 * An RLP payload as a reader wants to see it: lists in brackets, byte strings of two or
 * more printable ASCII characters in quotes, up to 6 bytes without a leading zero as the
 * integer they spell (so `42` and `'*'` both read as 42), anything else as 0x-hex. A
 * payload that is not RLP is shown as hex.
 */
export function describeRlp(payload: Uint8Array): string {
  let decoded: unknown
  try {
    decoded = RLP.decode(payload)
  } catch {
    return `0x${Buffer.from(payload).toString('hex')} (not RLP)`
  }
  const show = (item: unknown): string => {
    if (Array.isArray(item)) return `[${item.map(show).join(', ')}]`
    const bytes = Buffer.from(item as Uint8Array)
    if (bytes.length === 0) return '""'
    if (bytes.length >= 2 && bytes.every((b) => b >= 0x20 && b < 0x7f)) return JSON.stringify(bytes.toString('latin1'))
    if (bytes.length <= 6 && bytes[0] !== 0) return String(bytes.readUIntBE(0, bytes.length))
    return `0x${bytes.toString('hex')}`
  }
  return show(decoded)
}

/**
 * Reads the next message and checks its code and, when `items` is given, that its payload
 * is exactly the RLP list of `items`. Returns the message.
 * @throws {UnexpectedMsgError} on a mismatch, saying what was expected and what came, as
 *   decoded items ({@link describeRlp})
 */
export async function expectMsg(rw: MsgReadWriter, code: number, items?: Input[]): Promise<Msg> {
  const msg = await rw.readMsg()
  if (msg.code !== code) throw new UnexpectedMsgError(`expected message code ${code}, got ${msg.code} with ${describeRlp(msg.payload)}`)
  if (items !== undefined) {
    const want = RLP.encode(items)
    if (!Buffer.from(want).equals(msg.payload)) {
      throw new UnexpectedMsgError(`message ${code}: expected ${describeRlp(want)}, got ${describeRlp(msg.payload)}`)
    }
  }
  return msg
}
