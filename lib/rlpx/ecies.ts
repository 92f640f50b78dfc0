/**
 * ECIES exactly as RLPx uses it: secp256k1 ECDH, concat-KDF(SHA-256), AES-128-CTR and
 * HMAC-SHA-256 over iv‖ciphertext‖sharedMacData. Output is R(65)‖iv(16)‖c‖tag(32).
 * @module
 */
import { randomBytes } from 'node:crypto'
import {
  aes128Ctr,
  bytesEqual,
  concatKdf,
  ecdh,
  generatePrivateKey,
  hmacSha256,
  isValidPublicKey,
  publicKeyOf,
  sha256,
} from '../crypto/index.js'
import { EciesError } from '../errors.js'

/** Bytes ECIES adds to a plaintext: 65 (R) + 16 (iv) + 32 (tag). */
export const ECIES_OVERHEAD = 113

const EMPTY = Buffer.alloc(0)

function deriveKeys(shared: Buffer): { encKey: Buffer; macKey: Buffer } {
  const k = concatKdf(shared, 32)
  return { encKey: k.subarray(0, 16), macKey: sha256(k.subarray(16, 32)) }
}

/**
 * Encrypts `plaintext` to the 64-byte `remotePublicKey`. `sharedMacData` is MAC'd but not
 * sent (EIP-8 passes the 2-byte size prefix here). The ephemeral key and iv are random
 * unless given (for known-answer tests).
 */
export function eciesEncrypt(
  remotePublicKey: Uint8Array,
  plaintext: Uint8Array,
  sharedMacData: Uint8Array = EMPTY,
  ephemeralKey: Uint8Array = generatePrivateKey(),
  iv: Uint8Array = randomBytes(16),
): Buffer {
  const shared = ecdh(remotePublicKey, ephemeralKey)
  const { encKey, macKey } = deriveKeys(shared)
  const ciphertext = aes128Ctr(encKey, iv, plaintext)
  const tag = hmacSha256(macKey, iv, ciphertext, sharedMacData)
  const out = Buffer.concat([Buffer.from([4]), publicKeyOf(ephemeralKey), iv, ciphertext, tag])
  shared.fill(0)
  encKey.fill(0)
  macKey.fill(0)
  return out
}

/**
 * Decrypts an ECIES packet addressed to `privateKey`.
 * @throws {EciesError} when the packet is too short, its ephemeral key is not a point on
 *   the curve, or the tag does not match (wrong key, tampering, wrong shared MAC data)
 */
export function eciesDecrypt(privateKey: Uint8Array, packet: Uint8Array, sharedMacData: Uint8Array = EMPTY): Buffer {
  if (packet.length < ECIES_OVERHEAD) {
    throw new EciesError(`ECIES packet of ${packet.length} bytes is shorter than the ${ECIES_OVERHEAD}-byte overhead`)
  }
  if (packet[0] !== 4) throw new EciesError(`ECIES ephemeral key has prefix 0x${packet[0]!.toString(16)}, want 0x04`)
  const ephemeral = packet.subarray(1, 65)
  if (!isValidPublicKey(ephemeral)) throw new EciesError('ECIES ephemeral key is not a point on secp256k1')
  const iv = packet.subarray(65, 81)
  const ciphertext = packet.subarray(81, packet.length - 32)
  const tag = packet.subarray(packet.length - 32)
  const shared = ecdh(ephemeral, privateKey)
  const { encKey, macKey } = deriveKeys(shared)
  shared.fill(0)
  const ok = bytesEqual(hmacSha256(macKey, iv, ciphertext, sharedMacData), tag)
  macKey.fill(0)
  if (!ok) {
    encKey.fill(0)
    throw new EciesError('ECIES tag mismatch: the packet was not encrypted to this node or was altered')
  }
  const plain = aes128Ctr(encKey, iv, ciphertext)
  encKey.fill(0)
  return plain
}
