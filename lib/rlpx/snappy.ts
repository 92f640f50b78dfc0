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
 * {@link snappyCompress} sends for small and for incompressible payloads — as a view of
 * `data`, without a native call or a copy; undefined for any other block.
 */
function wholeLiteral(data: Buffer, declared: number): Buffer | undefined {
  let head = 1
  while (head < 5 && data[head - 1]! & 0x80) head++
  if (declared === 0 || data.length <= head) return undefined
  const tag = data[head]!
  if ((tag & 3) !== 0) return undefined
  let length = (tag >> 2) + 1
  let start = head + 1
  if (length > 60) {
    // Tags 60..63: the length − 1 follows in 1..4 little-endian bytes.
    const bytes = length - 60
    if (data.length < start + bytes) return undefined
    length = data.readUIntLE(start, bytes) + 1
    start += bytes
  }
  return length === declared && data.length === start + length ? data.subarray(start) : undefined
}

/** snappy's worst case: the largest block a payload of `n` bytes can compress to. */
export function snappyMaxCompressedLength(n: number): number {
  return 32 + n + Math.floor(n / 6)
}

/** Payloads up to this size are sent as one snappy literal (see {@link snappyCompress}). */
const LITERAL_ONLY = 256
/** Payloads above this size have a prefix of PROBE bytes compressed first (see {@link snappyCompress}). */
const PROBE_ABOVE = 8192
const PROBE = 4096
/** A probe that compresses to more than this share of its size counts as incompressible. */
const INCOMPRESSIBLE = 0.9

/** The head of a snappy block holding `n` bytes as one literal: the block's length, then the literal's tag. */
function literalHead(n: number): Buffer {
  let varint = 1
  while (n >= 2 ** (7 * varint)) varint++
  const lengthBytes = n <= 60 ? 0 : n <= 0x100 ? 1 : n <= 0x10000 ? 2 : n <= 0x1000000 ? 3 : 4
  const head = Buffer.allocUnsafe(varint + 1 + lengthBytes)
  for (let i = 0, rest = n; i < varint; i++, rest = Math.floor(rest / 128)) head[i] = (rest % 128) | (i < varint - 1 ? 0x80 : 0)
  if (lengthBytes === 0) head[varint] = (n - 1) << 2
  else {
    head[varint] = (59 + lengthBytes) << 2
    head.writeUIntLE(n - 1, varint + 1, lengthBytes)
  }
  return head
}

/** The snappy block of an empty payload: its length, 0. */
const EMPTY_BLOCK = Buffer.from([0])
/** Literal heads of the sizes sent as a literal without a probe, made once (index = size). */
const SMALL_HEADS = Array.from({ length: LITERAL_ONLY + 1 }, (_, n) => (n === 0 ? EMPTY_BLOCK : literalHead(n)))

/**
 * Compresses one message payload (snappy block format, no framing) into the pieces of the
 * block, in order. Two kinds of payload are written as a single literal instead — valid
 * snappy that any decoder reads — whose pieces are its few bytes of head and `data` itself,
 * uncopied: small payloads, where there is little to gain and the native call costs more
 * than the copy, and large ones whose first 4 KiB do not compress (random, encrypted or
 * already compressed data), where compressing would cost far more time than the few bytes
 * it saves.
 */
export function snappyCompress(data: Buffer): Buffer[] {
  const n = data.length
  if (n === 0) return [EMPTY_BLOCK]
  if (n <= LITERAL_ONLY) return [SMALL_HEADS[n]!, data]
  if (n > PROBE_ABOVE && snappy.compressSync(data.subarray(0, PROBE)).length > PROBE * INCOMPRESSIBLE) return [literalHead(n), data]
  return [snappy.compressSync(data)]
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
