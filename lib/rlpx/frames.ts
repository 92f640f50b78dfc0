/**
 * RLPx framing: header (3-byte size, header-data, padding) and body encrypted with the
 * direction's running AES-256-CTR stream, each followed by a 16-byte MAC from the
 * direction's running keccak sponge seeded through AES-256-ECB.
 * @module
 */
import type { Cipher, Decipher } from 'node:crypto'
import { createDecipheriv } from 'node:crypto'
import { aes256CtrStream, aes256EcbBlock, bytesEqual, type Keccak256 } from '../crypto/index.js'
import { FrameMacError, MessageTooLargeError } from '../errors.js'
import type { SessionSecrets } from './handshake.js'

/** Largest frame-data the 3-byte size field can carry (2^24 − 1). */
export const MAX_FRAME_SIZE = 0xffffff
/** header-data = RLP [capability-id = 0, context-id = 0]; receivers ignore it. */
const HEADER_DATA = [0xc2, 0x80, 0x80]
const ZERO_PAD = Buffer.alloc(16)
/** Frames with at most this much frame-data are encrypted with one cipher call (see `#encodeSmall`). */
const ONE_CALL_FRAME = 4096

function roundUp16(n: number): number {
  return (n + 15) & ~15
}

/**
 * Both directions seed their MACs with the same mac-secret, so the reader and writer of one
 * session share one ECB cipher: one native cipher object less per session.
 */
const macCiphers = new WeakMap<SessionSecrets, (block: Uint8Array) => Buffer>()
function macCipher(secrets: SessionSecrets): (block: Uint8Array) => Buffer {
  let encrypt = macCiphers.get(secrets)
  if (!encrypt) macCiphers.set(secrets, (encrypt = aes256EcbBlock(secrets.macSecret)))
  return encrypt
}

/** One direction's MAC: a running sponge plus the ECB block cipher that seeds it. */
class FrameMac {
  #sponge: Keccak256
  #encrypt: (block: Uint8Array) => Buffer
  /**
   * A copy of the last frame-mac, which is also the next header's peek: nothing is absorbed
   * between the two, so the sponge would be digested twice in the same state. Saves one of
   * the four digests per frame. Valid while `#peekValid`.
   */
  #peek = Buffer.alloc(16)
  #peekValid = false

  constructor(sponge: Keccak256, secrets: SessionSecrets) {
    this.#sponge = sponge
    this.#encrypt = macCipher(secrets)
  }

  /** header-mac: seed = E(peek[:16]) ^ header-ciphertext. */
  header(headerCiphertext: Uint8Array): Buffer {
    const peek = this.#peekValid ? this.#peek : this.#sponge.digest(16)
    this.#peekValid = false
    return this.#seedAndPeek(this.#encrypt(peek), headerCiphertext)
  }

  /** frame-mac: absorb the padded ciphertext, then seed = E(h) ^ h with h = peek[:16]. */
  body(ciphertext: Uint8Array[]): Buffer {
    for (const part of ciphertext) this.#sponge.update(part)
    const h = this.#sponge.digest(16)
    const mac = this.#seedAndPeek(this.#encrypt(h), h)
    this.#peek.set(mac)
    this.#peekValid = true
    return mac
  }

  #seedAndPeek(encrypted: Buffer, mask: Uint8Array): Buffer {
    for (let i = 0; i < 16; i++) encrypted[i]! ^= mask[i]!
    this.#sponge.update(encrypted)
    return this.#sponge.digest(16)
  }
}

/** Encodes outgoing frames; the cipher and MAC states make the call order the wire order. */
export class FrameWriter {
  #cipher: Cipher
  #mac: FrameMac

  constructor(secrets: SessionSecrets) {
    this.#cipher = aes256CtrStream(secrets.aesSecret)
    this.#mac = new FrameMac(secrets.egressMac, secrets)
  }

  /**
   * Frames the concatenation of `parts` (msg-id then payload). Returns the wire chunks in
   * order, ready for a vectored write; the frame data is never copied into one buffer.
   * @throws {MessageTooLargeError} when the frame data exceeds 2^24 − 1 bytes
   */
  encode(parts: readonly Uint8Array[]): Buffer[] {
    let size = 0
    for (const part of parts) size += part.length
    if (size > MAX_FRAME_SIZE) {
      throw new MessageTooLargeError(`frame data of ${size} bytes exceeds the RLPx limit of ${MAX_FRAME_SIZE}`)
    }
    if (size <= ONE_CALL_FRAME) return this.#encodeSmall(parts, size)
    const header = Buffer.alloc(16)
    header.writeUIntBE(size, 0, 3)
    header.set(HEADER_DATA, 3)
    const headerCiphertext = this.#cipher.update(header)
    const headerMac = this.#mac.header(headerCiphertext)
    const out: Buffer[] = [Buffer.concat([headerCiphertext, headerMac], 32)]
    const body: Buffer[] = []
    for (const part of parts) if (part.length > 0) body.push(this.#cipher.update(part))
    const pad = roundUp16(size) - size
    if (pad > 0) body.push(this.#cipher.update(ZERO_PAD.subarray(0, pad)))
    out.push(...body, this.#mac.body(body))
    return out
  }

  /**
   * A small frame in one buffer: header, data and padding are copied together and
   * encrypted by one cipher call instead of one per part, since for small messages the
   * per-call cost of `Cipher.update`, not the AES work, dominates.
   */
  #encodeSmall(parts: readonly Uint8Array[], size: number): Buffer[] {
    const padded = roundUp16(size)
    const plain = Buffer.allocUnsafe(16 + padded)
    plain.writeUIntBE(size, 0, 3)
    plain.set(HEADER_DATA, 3)
    plain.fill(0, 3 + HEADER_DATA.length, 16)
    let offset = 16
    for (const part of parts) {
      plain.set(part, offset)
      offset += part.length
    }
    plain.fill(0, offset)
    const ciphertext = this.#cipher.update(plain)
    const headerCiphertext = ciphertext.subarray(0, 16)
    const bodyCiphertext = ciphertext.subarray(16)
    const headerMac = this.#mac.header(headerCiphertext)
    const frameMac = this.#mac.body([bodyCiphertext])
    return [Buffer.concat([headerCiphertext, headerMac, bodyCiphertext, frameMac], 32 + padded + 16)]
  }
}

/**
 * Decodes incoming frames from arbitrarily split chunks. Frame sizes are checked against
 * `maxFrameSize` from the header, before the body is buffered.
 */
export class FrameReader {
  #decipher: Decipher
  #mac: FrameMac
  #maxFrameSize: number
  #chunks: Buffer[] = []
  #buffered = 0
  #bodySize = -1

  constructor(secrets: SessionSecrets, maxFrameSize = MAX_FRAME_SIZE) {
    this.#decipher = createDecipheriv('aes-256-ctr', secrets.aesSecret, Buffer.alloc(16))
    this.#mac = new FrameMac(secrets.ingressMac, secrets)
    this.#maxFrameSize = maxFrameSize
  }

  /** Largest frame-data accepted; checked on each header before its body is buffered. */
  get maxFrameSize(): number {
    return this.#maxFrameSize
  }

  set maxFrameSize(size: number) {
    this.#maxFrameSize = size
  }

  /** Bytes received but not yet returned as frames. */
  get buffered(): number {
    return this.#buffered
  }

  /** Appends received bytes. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
  }

  /**
   * The next complete frame's data (msg-id and payload, padding removed), or `undefined`
   * when more bytes are needed.
   * @throws {FrameMacError} on a header or body MAC mismatch
   * @throws {MessageTooLargeError} when the header announces more than `maxFrameSize`
   */
  next(): Buffer | undefined {
    if (this.#bodySize < 0) {
      if (this.#buffered < 32) return undefined
      const head = this.#take(32)
      const headerCiphertext = head.subarray(0, 16)
      if (!bytesEqual(this.#mac.header(headerCiphertext), head.subarray(16, 32))) throw new FrameMacError('header')
      const header = this.#decipher.update(headerCiphertext)
      const size = header.readUIntBE(0, 3)
      if (size > this.#maxFrameSize) {
        throw new MessageTooLargeError(`peer announced a ${size}-byte frame, above the ${this.#maxFrameSize}-byte limit`)
      }
      this.#bodySize = size
    }
    const padded = roundUp16(this.#bodySize)
    if (this.#buffered < padded + 16) return undefined
    const ciphertext = this.#take(padded)
    const mac = this.#take(16)
    if (!bytesEqual(this.#mac.body([ciphertext]), mac)) throw new FrameMacError('body')
    const size = this.#bodySize
    this.#bodySize = -1
    return this.#decipher.update(ciphertext).subarray(0, size)
  }

  /** Removes `n` bytes from the front; copies only when they span several chunks. */
  #take(n: number): Buffer {
    this.#buffered -= n
    const first = this.#chunks[0]!
    if (first.length > n) {
      this.#chunks[0] = first.subarray(n)
      return first.subarray(0, n)
    }
    if (first.length === n) {
      this.#chunks.shift()
      return first
    }
    const out = Buffer.allocUnsafe(n)
    let filled = 0
    while (filled < n) {
      const chunk = this.#chunks[0]!
      const want = n - filled
      if (chunk.length <= want) {
        out.set(chunk, filled)
        filled += chunk.length
        this.#chunks.shift()
      } else {
        out.set(chunk.subarray(0, want), filled)
        this.#chunks[0] = chunk.subarray(want)
        filled = n
      }
    }
    return out
  }
}
