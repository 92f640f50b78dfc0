/**
 * The symmetric primitives of ECIES and RLPx from `node:crypto`: AES-CTR, SHA-256,
 * HMAC-SHA-256 and the NIST SP 800-56 concat KDF. (The frame MAC's single-block AES runs in
 * the WebAssembly module, see lib/crypto/wasm.ts.)
 * @module
 */
import { createCipheriv, createHash, createHmac, timingSafeEqual, type Cipher } from 'node:crypto'

/** One-shot AES-128-CTR (ECIES); encryption and decryption are the same operation. */
export function aes128Ctr(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Buffer {
  const cipher = createCipheriv('aes-128-ctr', key, iv)
  return Buffer.concat([cipher.update(data), cipher.final()])
}

/** A running AES-256-CTR keystream with a zero IV, as each RLPx direction keeps one. */
export function aes256CtrStream(key: Uint8Array): Cipher {
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
}

/** SHA-256 of the concatenation of `parts`. */
export function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256')
  for (const part of parts) h.update(part)
  return h.digest()
}

/** HMAC-SHA-256 keyed with `key` over the concatenation of `parts`. */
export function hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHmac('sha256', key)
  for (const part of parts) h.update(part)
  return h.digest()
}

/**
 * NIST SP 800-56 concatenation KDF with SHA-256: hashes counter‖z‖s1 for counter = 1, 2, …
 * until `length` bytes exist.
 */
export function concatKdf(z: Uint8Array, length: number, s1: Uint8Array = new Uint8Array(0)): Buffer {
  const blocks = Math.ceil(length / 32)
  const out = Buffer.allocUnsafe(blocks * 32)
  const counter = Buffer.allocUnsafe(4)
  for (let i = 0; i < blocks; i++) {
    counter.writeUInt32BE(i + 1)
    sha256(counter, z, s1).copy(out, i * 32)
  }
  return out.subarray(0, length)
}

/** Constant-time equality of two byte strings of any length. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}

/** XOR of two equal-length byte strings into a new buffer. */
export function xor(a: Uint8Array, b: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(a.length)
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!
  return out
}
