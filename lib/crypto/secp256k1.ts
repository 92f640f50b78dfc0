/**
 * secp256k1 as devp2p uses it: 64-byte public keys (X‖Y, no 0x04 prefix), x-only ECDH and
 * 65-byte recoverable signatures (r‖s‖v, v ∈ {0, 1}) over a caller-supplied 32-byte hash.
 *
 * Backed by the `secp256k1` package: its native binding when it loads, its bundled
 * elliptic fallback otherwise.
 * @module
 */
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import type * as Secp256k1 from 'secp256k1'

const require = createRequire(import.meta.url)
const secp: typeof Secp256k1 = require('secp256k1')

function abytes(value: unknown, length: number, name: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`"${name}" must be a Uint8Array`)
  if (value.length !== length) {
    throw new RangeError(`"${name}" must be ${length} bytes, got ${value.length}`)
  }
}

/** Prepends the SEC1 uncompressed marker the binding expects. */
function withPrefix(pub: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(65)
  out[0] = 4
  out.set(pub, 1)
  return out
}

/** Returns a fresh random 32-byte secp256k1 private key. */
export function generatePrivateKey(): Buffer {
  for (;;) {
    const key = randomBytes(32)
    if (secp.privateKeyVerify(key)) return key
  }
}

/** True when `key` is a valid 32-byte secp256k1 private key (non-zero, below the order). */
export function isValidPrivateKey(key: Uint8Array): boolean {
  return key instanceof Uint8Array && key.length === 32 && secp.privateKeyVerify(key)
}

/** True when `pub` is 64 bytes encoding a point on the curve. */
export function isValidPublicKey(pub: Uint8Array): boolean {
  return pub instanceof Uint8Array && pub.length === 64 && secp.publicKeyVerify(withPrefix(pub))
}

/**
 * The 64-byte public key of `privateKey`.
 * @throws {RangeError} when the key is not a valid private key
 */
export function publicKeyOf(privateKey: Uint8Array): Buffer {
  abytes(privateKey, 32, 'privateKey')
  if (!secp.privateKeyVerify(privateKey)) throw new RangeError('"privateKey" is not a valid secp256k1 key')
  const full = secp.publicKeyCreate(privateKey, false)
  return Buffer.from(full.buffer, full.byteOffset + 1, 64)
}

const xOnly = (x: Uint8Array): Uint8Array => x

/**
 * ECDH: the 32-byte x-coordinate of `privateKey · publicKey`.
 * @throws {RangeError} when either key is invalid (an off-curve point included)
 */
export function ecdh(publicKey: Uint8Array, privateKey: Uint8Array): Buffer {
  abytes(publicKey, 64, 'publicKey')
  abytes(privateKey, 32, 'privateKey')
  const out = Buffer.allocUnsafe(32)
  try {
    secp.ecdh(withPrefix(publicKey), privateKey, { hashfn: xOnly }, out)
  } catch {
    throw new RangeError('ECDH failed: the public key is not a point on secp256k1')
  }
  return out
}

/** Signs a 32-byte hash; returns r‖s‖v (65 bytes). */
export function sign(hash: Uint8Array, privateKey: Uint8Array): Buffer {
  abytes(hash, 32, 'hash')
  abytes(privateKey, 32, 'privateKey')
  const { signature, recid } = secp.ecdsaSign(hash, privateKey)
  const out = Buffer.allocUnsafe(65)
  out.set(signature, 0)
  out[64] = recid
  return out
}

/**
 * Recovers the 64-byte public key that produced `signature` over `hash`.
 * @throws {RangeError} when the signature is malformed or recovers no key
 */
export function recover(hash: Uint8Array, signature: Uint8Array): Buffer {
  abytes(hash, 32, 'hash')
  abytes(signature, 65, 'signature')
  const recid = signature[64]!
  if (recid > 3) throw new RangeError(`signature recovery id must be 0..3, got ${recid}`)
  let full: Uint8Array
  try {
    full = secp.ecdsaRecover(signature.subarray(0, 64), recid, hash, false)
  } catch {
    throw new RangeError('signature does not recover a public key')
  }
  return Buffer.from(full.buffer, full.byteOffset + 1, 64)
}

/**
 * True when the 64-byte signature r‖s over `hash` verifies against `publicKey` (64 bytes, or
 * 33 compressed). High-s signatures are refused, as go-ethereum's `VerifySignature` refuses them.
 */
export function verify(hash: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  abytes(hash, 32, 'hash')
  abytes(signature, 64, 'signature')
  if (!(publicKey instanceof Uint8Array) || (publicKey.length !== 64 && publicKey.length !== 33)) return false
  try {
    return secp.ecdsaVerify(signature, hash, publicKey.length === 64 ? withPrefix(publicKey) : publicKey)
  } catch {
    return false
  }
}

/**
 * The 33-byte SEC1 compressed form of a 64-byte public key (ENR's `secp256k1` entry).
 * @throws {RangeError} when the key is not a point on the curve
 */
export function compressPublicKey(publicKey: Uint8Array): Buffer {
  abytes(publicKey, 64, 'publicKey')
  try {
    return Buffer.from(secp.publicKeyConvert(withPrefix(publicKey), true))
  } catch {
    throw new RangeError('public key is not a point on secp256k1')
  }
}

/**
 * The 64-byte form (X‖Y) of a 33-byte SEC1 compressed public key.
 * @throws {RangeError} when the bytes do not encode a point on the curve
 */
export function decompressPublicKey(compressed: Uint8Array): Buffer {
  abytes(compressed, 33, 'compressed')
  let full: Uint8Array
  try {
    full = secp.publicKeyConvert(compressed, false)
  } catch {
    throw new RangeError('compressed public key is not a point on secp256k1')
  }
  return Buffer.from(full.buffer, full.byteOffset + 1, 64)
}
