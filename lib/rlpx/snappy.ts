/**
 * Snappy block compression for p2p v5 messages (EIP-706), with the declared decompressed
 * length checked before anything is inflated.
 * @module
 */
import { createRequire } from 'node:module'
import { MessageDecodeError, MessageTooLargeError } from '../errors.js'

const require = createRequire(import.meta.url)
const snappy: {
  compressSync(input: Buffer): Buffer
  uncompressSync(input: Buffer, options?: { asBuffer?: boolean }): Buffer | string
} = require('snappy')

/** Reads the little-endian base-128 varint that opens a snappy block (the decompressed length). */
export function snappyDeclaredLength(data: Uint8Array): number {
  let result = 0
  for (let i = 0, shift = 0; i < 5 && i < data.length; i++, shift += 7) {
    const byte = data[i]!
    result += (byte & 0x7f) * 2 ** shift
    if ((byte & 0x80) === 0) return result
  }
  throw new MessageDecodeError('snappy block has no valid length header')
}

/**
 * The payload of a block that is one literal spanning the whole declared length — what
 * {@link snappyCompress} sends for small payloads — without a native call or a copy;
 * undefined for any other block.
 */
function wholeLiteral(data: Buffer, declared: number): Buffer | undefined {
  const head = declared < 128 ? 1 : declared < 16384 ? 2 : 0
  if (head === 0 || declared === 0 || data.length <= head) return undefined
  const tag = data[head]!
  if ((tag & 3) !== 0) return undefined
  let length: number
  let start: number
  if (tag >> 2 < 60) {
    length = (tag >> 2) + 1
    start = head + 1
  } else if (tag >> 2 === 60 && data.length > head + 1) {
    length = data[head + 1]! + 1
    start = head + 2
  } else {
    return undefined
  }
  return length === declared && data.length === start + length ? data.subarray(start) : undefined
}

/** snappy's worst case: the largest block a payload of `n` bytes can compress to. */
export function snappyMaxCompressedLength(n: number): number {
  return 32 + n + Math.floor(n / 6)
}

/** Payloads up to this size are sent as one snappy literal (see {@link snappyCompress}). */
const LITERAL_ONLY = 256

/**
 * Compresses one message payload (snappy block format, no framing). A small payload is
 * written as a single literal — valid snappy that any decoder reads — because there is
 * little to gain by compressing it and the native call costs more than the copy.
 */
export function snappyCompress(data: Buffer): Buffer {
  const n = data.length
  if (n === 0 || n > LITERAL_ONLY) return snappy.compressSync(data)
  const head = n < 128 ? 1 : 2
  const tag = n <= 60 ? 1 : 2
  const out = Buffer.allocUnsafe(head + tag + n)
  if (head === 1) out[0] = n
  else {
    out[0] = (n & 0x7f) | 0x80
    out[1] = n >> 7
  }
  if (tag === 1) out[head] = (n - 1) << 2
  else {
    out[head] = 60 << 2
    out[head + 1] = n - 1
  }
  out.set(data, head + tag)
  return out
}

/**
 * Decompresses one payload after checking its declared length against `maxSize`.
 * @throws {MessageTooLargeError} when the declared length exceeds `maxSize`
 * @throws {MessageDecodeError} when the data is not valid snappy
 */
export function snappyDecompress(data: Buffer, maxSize: number): Buffer {
  const declared = snappyDeclaredLength(data)
  if (declared > maxSize) {
    throw new MessageTooLargeError(`compressed message declares ${declared} bytes, above the ${maxSize}-byte limit`)
  }
  const literal = wholeLiteral(data, declared)
  if (literal) return literal
  try {
    return snappy.uncompressSync(data, { asBuffer: true }) as Buffer
  } catch (err) {
    throw new MessageDecodeError(`invalid snappy data: ${(err as Error).message}`, { cause: err })
  }
}
