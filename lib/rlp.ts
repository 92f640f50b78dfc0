/**
 * RLP decoding for bytes from the network: one pass, no recursion, byte strings returned as
 * Uint8Array views into the input, and an optional bound on the number of items.
 *
 * @ethereumjs/rlp (still our encoder) decodes recursively, so lists nested 20,000 deep
 * overflow the stack; copies each list's content before reading its items when the input
 * is a plain Uint8Array, so nesting 1,000 deep around 256 KiB took 0.3 s; and builds every
 * item it finds, so 1 MiB of one-byte items took half a second and 128 MiB of heap. This
 * decoder accepts exactly the canonical RLP that one accepts, except that it refuses
 * empty input instead of reading it as an empty string.
 * @module
 */
import { MessageDecodeError } from './errors.js'
import type { RlpItem } from './message.js'

/**
 * Items a message of fixed shape (JOIN_REQ, flood message, chat envelope, Disconnect) may
 * hold, counting its own fields and any a newer version appends: far more than any of them
 * needs, far fewer than the one item per byte a hostile peer can send.
 */
export const FIXED_SHAPE_MAX_ITEMS = 64

/** Options of {@link decodeRlp}. */
export interface DecodeRlpOptions {
  /** Allow bytes after the first item (EIP-8: padding and future fields may follow it). */
  trailing?: boolean
  /**
   * Most items (byte strings and lists, at any depth) to decode before giving up: a
   * message of known shape passes a small bound, so that a peer cannot make us build one
   * object per byte it sends.
   */
  maxItems?: number
}

/** Where the item being read starts its content, and how long that is. */
let contentStart = 0
let contentLength = 0

/** Reads the header at `pos`, whose item must end by `end`; true for a list. */
function readHeader(input: Uint8Array, pos: number, end: number): boolean {
  const first = input[pos]!
  if (first < 0x80) {
    contentStart = pos
    contentLength = 1
    return false
  }
  const list = first >= 0xc0
  const short = first - (list ? 0xc0 : 0x80)
  if (short < 56) {
    contentStart = pos + 1
    contentLength = short
  } else {
    const lengthBytes = short - 55
    contentStart = pos + 1 + lengthBytes
    if (contentStart > end) throw new MessageDecodeError('invalid RLP: the length field runs past the end of the data')
    if (input[pos + 1] === 0) throw new MessageDecodeError('invalid RLP: a length with a leading zero byte (not canonical)')
    contentLength = 0
    for (let i = pos + 1; i < contentStart; i++) contentLength = contentLength * 256 + input[i]!
    if (contentLength < 56) throw new MessageDecodeError('invalid RLP: the long form for a length below 56 (not canonical)')
  }
  if (contentStart + contentLength > end) {
    throw new MessageDecodeError(`invalid RLP: an item of ${contentLength} bytes runs past the end of the data`)
  }
  if (!list && short === 1 && input[contentStart]! < 0x80) {
    throw new MessageDecodeError('invalid RLP: a single byte below 0x80 with a length prefix (not canonical)')
  }
  return list
}

/**
 * Decodes the RLP item at the start of `input`. Byte strings are Uint8Array views into `input`.
 * @throws {MessageDecodeError} when the input is empty, not canonical RLP, followed by
 *   other bytes (unless `trailing`), or holds more than `maxItems` items
 */
export function decodeRlp(input: Uint8Array, options: DecodeRlpOptions = {}): RlpItem {
  if (input.length === 0) throw new MessageDecodeError('invalid RLP: no data')
  const maxItems = options.maxItems ?? Infinity
  // The lists still being filled, innermost last, and where each one's content ends.
  const open: RlpItem[][] = []
  const ends: number[] = []
  let root: RlpItem | undefined
  let items = 0
  let pos = 0
  do {
    if (++items > maxItems) throw new MessageDecodeError(`more than ${maxItems} RLP items`)
    const end = ends.length > 0 ? ends[ends.length - 1]! : input.length
    const list = readHeader(input, pos, end)
    // A plain view, built directly: four times cheaper than Buffer's subarray, per item.
    const item: RlpItem = list ? [] : new Uint8Array(input.buffer, input.byteOffset + contentStart, contentLength)
    if (open.length > 0) open[open.length - 1]!.push(item)
    else root = item
    if (list && contentLength > 0) {
      open.push(item as RlpItem[])
      ends.push(contentStart + contentLength)
      pos = contentStart
      continue
    }
    pos = contentStart + contentLength
    while (ends.length > 0 && pos === ends[ends.length - 1]) {
      ends.pop()
      open.pop()
    }
  } while (ends.length > 0)
  if (!options.trailing && pos !== input.length) {
    throw new MessageDecodeError(`invalid RLP: ${input.length - pos} bytes follow the item`)
  }
  return root!
}
