/**
 * RLPx framing: header (3-byte size, header-data, padding) and body encrypted with the
 * direction's running AES-256-CTR stream, each followed by a 16-byte MAC from the
 * direction's running keccak sponge seeded through AES-256 of one block.
 *
 * The per-frame work runs in the WebAssembly module of lib/crypto: the sponges live there,
 * the MAC seeds are encrypted there (constant-time AES, see wasm/rlpx-crypto.ts), and a
 * small frame is built, encrypted and MAC'd in its scratch memory, then copied out once.
 * The CTR keystream comes from OpenSSL (`node:crypto`, AES-NI where the CPU has it)
 * KEYSTREAM bytes at a time, so one cipher call serves several small frames; large frames
 * take the rest of the buffered keystream and then go through the cipher directly.
 * @module
 */
import type { Cipher } from 'node:crypto'
import { aes256CtrStream, Keccak256 } from '../crypto/index.js'
import { absorbInto } from '../crypto/keccak.js'
import { AES_KEY_SIZE, allocFor, heap, SCRATCH, wasm } from '../crypto/wasm.js'
import { FrameMacError, MessageTooLargeError } from '../errors.js'
import type { SessionSecrets } from './handshake.js'

/** Largest frame-data the 3-byte size field can carry (2^24 − 1). */
export const MAX_FRAME_SIZE = 0xffffff
const ZERO_PAD = Buffer.alloc(16)
/** Keystream generated per cipher call: eight frames of a 100-byte message. */
const KEYSTREAM = 1024
const ZEROS = Buffer.alloc(KEYSTREAM)
/** Frames whose padded frame-data is at most this go through the scratch memory whole. */
const SMALL_BODY = KEYSTREAM - 16
/**
 * Large frame-data is en- and decrypted in pieces of this size: buffers this small come
 * from malloc's arenas, while a fresh megabyte is mapped and page-faulted on every use,
 * and each piece is MAC'd while it is still in cache.
 */
const SLICE = 64 * 1024

function roundUp16(n: number): number {
  return (n + 15) & ~15
}

/** One direction's AES-256-CTR stream, with keystream generated ahead into the module's memory. */
class Keystream {
  readonly #cipher: Cipher
  readonly #buffer = allocFor(this, KEYSTREAM)
  /** Bytes of the buffer already used; the cipher stands at the buffer's end. */
  #used = KEYSTREAM

  constructor(key: Uint8Array) {
    this.#cipher = aes256CtrStream(key)
  }

  /** Address of the next `n` (≤ KEYSTREAM) keystream bytes, which count as used. */
  take(n: number): number {
    if (KEYSTREAM - this.#used < n) {
      const left = KEYSTREAM - this.#used
      heap.copyWithin(this.#buffer, this.#buffer + this.#used, this.#buffer + KEYSTREAM)
      heap.set(this.#cipher.update(ZEROS.subarray(left)), this.#buffer + left)
      this.#used = 0
    }
    const at = this.#buffer + this.#used
    this.#used += n
    return at
  }

  /**
   * `data` en- or decrypted, in pieces of at most SLICE bytes: the buffered keystream
   * first, then through the cipher.
   */
  xor(data: Uint8Array): Buffer[] {
    const out: Buffer[] = []
    const head = Math.min(KEYSTREAM - this.#used, data.length)
    if (head > 0) {
      const ks = this.take(head)
      const bytes = Buffer.allocUnsafe(head)
      for (let i = 0; i < head; i++) bytes[i] = data[i]! ^ heap[ks + i]!
      out.push(bytes)
    }
    for (let offset = head; offset < data.length; offset += SLICE) out.push(this.#cipher.update(data.subarray(offset, offset + SLICE)))
    return out
  }
}

/**
 * The MAC seed cipher's round keys. Both directions seed their MACs with the same
 * mac-secret, so the reader and writer of one session share them.
 */
class MacKey {
  readonly roundKeys = allocFor(this, AES_KEY_SIZE)

  constructor(macSecret: Uint8Array) {
    heap.set(macSecret, SCRATCH)
    wasm.aesExpandKey(SCRATCH, this.roundKeys)
    heap.fill(0, SCRATCH, SCRATCH + 32)
  }
}

const macKeys = new WeakMap<SessionSecrets, MacKey>()
function macKey(secrets: SessionSecrets): MacKey {
  let key = macKeys.get(secrets)
  if (!key) macKeys.set(secrets, (key = new MacKey(secrets.macSecret)))
  return key
}

/**
 * One direction's MAC over its sponge, seeded with the session's MAC key; every address is
 * in the module's memory. For a small frame, which lies whole in the module's memory, the
 * MAC steps come fused with the keystream XOR (`seal`, `openHeader`, `openBody`); a large
 * one goes step by step (`header`, `absorbBytes`, `finish`).
 */
abstract class FrameMac {
  constructor(
    protected readonly sponge: Keccak256,
    protected readonly key: MacKey,
  ) {}

  /** Writes the header-mac of the 16 header-ciphertext bytes at `header` to `out`. */
  abstract header(header: number, out: number): void
  /** Absorbs frame ciphertext at `data`. */
  abstract absorb(data: number, length: number): void
  /** Absorbs frame ciphertext that is not in the module's memory. */
  abstract absorbBytes(data: Uint8Array): void
  /** Writes the frame-mac of the ciphertext absorbed since the header to `out`. */
  abstract finish(out: number): void

  /**
   * Seals the frame at `frame` (see wasm/rlpx-crypto.ts for the layout) whose `size` bytes
   * of frame-data are at `frame` + 32: header, padding, encryption with the keystream at
   * `ks`, both MACs.
   */
  seal(ks: number, frame: number, size: number): void {
    const padded = roundUp16(size)
    wasm.frameHeader(frame, size)
    heap.fill(0, frame + 32 + size, frame + 32 + padded)
    wasm.xorKeystream(ks, frame, 16)
    wasm.xorKeystream(ks + 16, frame + 32, padded)
    this.header(frame, frame + 16)
    this.absorb(frame + 32, padded)
    this.finish(frame + 32 + padded)
  }

  /** The frame-data size in the 32 received bytes at `frame`, decrypted, or −1 when the header-mac is wrong. */
  openHeader(ks: number, frame: number): number {
    this.header(frame, frame + 32)
    if (wasm.equal16(frame + 16, frame + 32) !== 1) return -1
    wasm.xorKeystream(ks, frame, 16)
    return (heap[frame]! << 16) | (heap[frame + 1]! << 8) | heap[frame + 2]!
  }

  /** Checks the frame-mac after `padded` bytes at `body` and decrypts them; false when it is wrong. */
  openBody(ks: number, body: number, padded: number): boolean {
    this.absorb(body, padded)
    this.finish(body + padded + 16)
    if (wasm.equal16(body + padded, body + padded + 16) !== 1) return false
    wasm.xorKeystream(ks, body, padded)
    return true
  }
}

/** The MAC over one of our sponges: every step runs in the module, a small frame in one call. */
class WasmMac extends FrameMac {
  header(header: number, out: number): void {
    wasm.macHeader(this.sponge.sponge, this.key.roundKeys, header, out)
  }

  absorb(data: number, length: number): void {
    wasm.keccakAbsorb(this.sponge.sponge, data, length)
  }

  absorbBytes(data: Uint8Array): void {
    absorbInto(this.sponge.sponge, data)
  }

  finish(out: number): void {
    wasm.macBodyFinish(this.sponge.sponge, this.key.roundKeys, out)
  }

  override seal(ks: number, frame: number, size: number): void {
    wasm.sealFrame(this.sponge.sponge, this.key.roundKeys, ks, frame, size)
  }

  override openHeader(ks: number, frame: number): number {
    return wasm.openHeader(this.sponge.sponge, this.key.roundKeys, ks, frame)
  }

  override openBody(ks: number, body: number, padded: number): boolean {
    return wasm.openBody(this.sponge.sponge, this.key.roundKeys, ks, body, padded) === 1
  }
}

/**
 * The MAC over any other object with Keccak256's `update` and `digest` (the known-answer
 * test of rlpx.md drives the codec with such a stub), step by step through its methods.
 */
class SpongeMac extends FrameMac {
  header(header: number, out: number): void {
    this.#seed(this.sponge.digest(16), heap.slice(header, header + 16), out)
  }

  absorb(data: number, length: number): void {
    this.sponge.update(heap.slice(data, data + length))
  }

  absorbBytes(data: Uint8Array): void {
    this.sponge.update(data)
  }

  finish(out: number): void {
    const h = this.sponge.digest(16)
    this.#seed(h, h, out)
  }

  /** Absorbs AES(block) ⊕ mask and writes the sponge's next 16-byte peek to `out`. */
  #seed(block: Uint8Array, mask: Uint8Array, out: number): void {
    heap.set(block, out)
    wasm.aesEncrypt(this.key.roundKeys, out, out)
    for (let i = 0; i < 16; i++) heap[out + i]! ^= mask[i]!
    this.sponge.update(heap.slice(out, out + 16))
    heap.set(this.sponge.digest(16), out)
  }
}

function frameMac(sponge: Keccak256, secrets: SessionSecrets): FrameMac {
  const key = macKey(secrets)
  return sponge instanceof Keccak256 ? new WasmMac(sponge, key) : new SpongeMac(sponge, key)
}

/** Encodes outgoing frames; the cipher and MAC states make the call order the wire order. */
export class FrameWriter {
  readonly #keystream: Keystream
  readonly #mac: FrameMac

  constructor(secrets: SessionSecrets) {
    this.#keystream = new Keystream(secrets.aesSecret)
    this.#mac = frameMac(secrets.egressMac, secrets)
  }

  /**
   * Frames the concatenation of `parts` (msg-id then payload). Returns the wire chunks in
   * order, ready for a vectored write: one buffer for a small frame; for a large one the
   * frame data is never copied into one buffer.
   * @throws {MessageTooLargeError} when the frame data exceeds 2^24 − 1 bytes
   */
  encode(parts: readonly Uint8Array[]): Buffer[] {
    let size = 0
    for (const part of parts) size += part.length
    if (size > MAX_FRAME_SIZE) {
      throw new MessageTooLargeError(`frame data of ${size} bytes exceeds the RLPx limit of ${MAX_FRAME_SIZE}`)
    }
    const padded = roundUp16(size)
    return padded <= SMALL_BODY ? [this.#encodeSmall(parts, size, padded)] : this.#encodeLarge(parts, size, padded)
  }

  /** Header, header-mac, frame-data, padding and frame-mac built in the scratch memory, copied out once. */
  #encodeSmall(parts: readonly Uint8Array[], size: number, padded: number): Buffer {
    let offset = SCRATCH + 32
    for (const part of parts) {
      heap.set(part, offset)
      offset += part.length
    }
    this.#mac.seal(this.#keystream.take(16 + padded), SCRATCH, size)
    const frame = Buffer.allocUnsafe(48 + padded)
    frame.set(heap.subarray(SCRATCH, SCRATCH + 48 + padded))
    return frame
  }

  #encodeLarge(parts: readonly Uint8Array[], size: number, padded: number): Buffer[] {
    wasm.frameHeader(SCRATCH, size)
    wasm.xorKeystream(this.#keystream.take(16), SCRATCH, 16)
    this.#mac.header(SCRATCH, SCRATCH + 16)
    const out: Buffer[] = [Buffer.from(heap.subarray(SCRATCH, SCRATCH + 32))]
    const encrypt = (plain: Uint8Array): void => {
      for (const ciphertext of this.#keystream.xor(plain)) {
        this.#mac.absorbBytes(ciphertext)
        out.push(ciphertext)
      }
    }
    for (const part of parts) if (part.length > 0) encrypt(part)
    if (padded > size) encrypt(ZERO_PAD.subarray(0, padded - size))
    this.#mac.finish(SCRATCH)
    out.push(Buffer.from(heap.subarray(SCRATCH, SCRATCH + 16)))
    return out
  }
}

/**
 * Decodes incoming frames from arbitrarily split chunks. Frame sizes are checked against
 * `maxFrameSize` from the header, before the body is buffered.
 */
export class FrameReader {
  readonly #keystream: Keystream
  readonly #mac: FrameMac
  #maxFrameSize: number
  #chunks: Buffer[] = []
  #buffered = 0
  #bodySize = -1

  constructor(secrets: SessionSecrets, maxFrameSize = MAX_FRAME_SIZE) {
    this.#keystream = new Keystream(secrets.aesSecret)
    this.#mac = frameMac(secrets.ingressMac, secrets)
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
      this.#takeInto(32, SCRATCH)
      const size = this.#mac.openHeader(this.#keystream.take(16), SCRATCH)
      if (size < 0) throw new FrameMacError('header')
      if (size > this.#maxFrameSize) {
        throw new MessageTooLargeError(`peer announced a ${size}-byte frame, above the ${this.#maxFrameSize}-byte limit`)
      }
      this.#bodySize = size
    }
    const size = this.#bodySize
    const padded = roundUp16(size)
    if (this.#buffered < padded + 16) return undefined
    this.#bodySize = -1
    return padded <= SMALL_BODY ? this.#readSmall(size, padded) : this.#readLarge(size, padded)
  }

  #readSmall(size: number, padded: number): Buffer {
    this.#takeInto(padded + 16, SCRATCH)
    if (!this.#mac.openBody(this.#keystream.take(padded), SCRATCH, padded)) throw new FrameMacError('body')
    const data = Buffer.allocUnsafe(size)
    data.set(heap.subarray(SCRATCH, SCRATCH + size))
    return data
  }

  /** MAC'd and decrypted piece by piece as the body lies in the received chunks; copied into one buffer at the end. */
  #readLarge(size: number, padded: number): Buffer {
    const plain: Buffer[] = []
    this.#buffered -= padded
    for (let left = padded; left > 0; ) {
      const chunk = this.#chunks[0]!
      const piece = chunk.length <= left ? chunk : chunk.subarray(0, left)
      if (piece === chunk) this.#chunks.shift()
      else this.#chunks[0] = chunk.subarray(left)
      left -= piece.length
      this.#mac.absorbBytes(piece)
      plain.push(...this.#keystream.xor(piece))
    }
    this.#mac.finish(SCRATCH)
    this.#takeInto(16, SCRATCH + 16)
    if (wasm.equal16(SCRATCH, SCRATCH + 16) !== 1) throw new FrameMacError('body')
    return (plain.length === 1 ? plain[0]! : Buffer.concat(plain, padded)).subarray(0, size)
  }

  /** Copies the first `n` bytes into the module's memory at `at` and removes them. */
  #takeInto(n: number, at: number): void {
    this.#buffered -= n
    while (n > 0) {
      const chunk = this.#chunks[0]!
      if (chunk.length <= n) {
        heap.set(chunk, at)
        this.#chunks.shift()
        at += chunk.length
        n -= chunk.length
      } else {
        heap.set(chunk.subarray(0, n), at)
        this.#chunks[0] = chunk.subarray(n)
        n = 0
      }
    }
  }
}
