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

/** Compresses one message payload (snappy block format, no framing). */
export function snappyCompress(data: Buffer): Buffer {
  return snappy.compressSync(data)
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
  try {
    return snappy.uncompressSync(data, { asBuffer: true }) as Buffer
  } catch (err) {
    throw new MessageDecodeError(`invalid snappy data: ${(err as Error).message}`, { cause: err })
  }
}
