/**
 * The RLPx encryption handshake as a socket-free state machine: the initiator writes auth
 * and reads ack, the recipient reads auth and writes ack, and both then derive the session
 * secrets. Sends EIP-8 packets; reads EIP-8 and the old fixed-size format, and answers an
 * old-format auth in the old format.
 * @module
 */
import { randomBytes, randomInt } from 'node:crypto'
import { RLP } from '@ethereumjs/rlp'
import {
  ecdh,
  generatePrivateKey,
  isValidPublicKey,
  Keccak256,
  keccak256,
  publicKeyOf,
  recover,
  sign,
  xor,
} from '../crypto/index.js'
import {
  EciesError,
  HandshakeFormatError,
  HandshakePacketSizeError,
  HandshakeSignatureError,
} from '../errors.js'
import { ECIES_OVERHEAD, eciesDecrypt, eciesEncrypt } from './ecies.js'
import { uint, type RlpItem } from '../message.js'
import { decodeRlp } from '../rlp.js'

/** Largest EIP-8 size prefix accepted, as go-ethereum does. */
export const MAX_HANDSHAKE_PACKET = 2048
/** Size of a pre-EIP-8 auth packet on the wire (194-byte plaintext + ECIES overhead). */
export const PLAIN_AUTH_SIZE = 307
/** Size of a pre-EIP-8 ack packet on the wire (97-byte plaintext + ECIES overhead). */
export const PLAIN_ACK_SIZE = 210
const HANDSHAKE_VERSION = 4

/** Which wire format a handshake packet used. */
export type HandshakeFormat = 'eip8' | 'plain'

/** The session secrets both sides derive; `egressMac`/`ingressMac` are running sponges. */
export interface SessionSecrets {
  remotePublicKey: Buffer
  aesSecret: Buffer
  macSecret: Buffer
  egressMac: Keccak256
  ingressMac: Keccak256
}

/** Inputs of the secret derivation, named as in rlpx.md. */
export interface SecretInputs {
  initiator: boolean
  ephemeralKey: Uint8Array
  remoteEphemeralPublicKey: Uint8Array
  initiatorNonce: Uint8Array
  recipientNonce: Uint8Array
  /** The auth packet exactly as on the wire, size prefix included. */
  authPacket: Uint8Array
  /** The ack packet exactly as on the wire, size prefix included. */
  ackPacket: Uint8Array
  remotePublicKey: Uint8Array
}

/** Derives aes-secret, mac-secret and both MAC states from a finished handshake. */
export function deriveSecrets(p: SecretInputs): SessionSecrets {
  const ephemeralShared = ecdh(p.remoteEphemeralPublicKey, p.ephemeralKey)
  const sharedSecret = keccak256(ephemeralShared, keccak256(p.recipientNonce, p.initiatorNonce))
  const aesSecret = keccak256(ephemeralShared, sharedSecret)
  const macSecret = keccak256(ephemeralShared, aesSecret)
  ephemeralShared.fill(0)
  sharedSecret.fill(0)
  const authMac = new Keccak256().update(xor(macSecret, p.recipientNonce)).update(p.authPacket)
  const ackMac = new Keccak256().update(xor(macSecret, p.initiatorNonce)).update(p.ackPacket)
  return {
    remotePublicKey: Buffer.from(p.remotePublicKey),
    aesSecret,
    macSecret,
    egressMac: p.initiator ? authMac : ackMac,
    ingressMac: p.initiator ? ackMac : authMac,
  }
}

/** Options of a {@link Handshake}; the ephemeral key and nonce are for known-answer tests. */
export interface HandshakeInit {
  privateKey: Uint8Array
  /** The recipient's 64-byte key; given only on the initiator side. */
  remotePublicKey?: Uint8Array
  ephemeralKey?: Uint8Array
  nonce?: Uint8Array
}

function asBytes(value: unknown, length: number, field: string): Buffer {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new HandshakeFormatError(`handshake field "${field}" must be ${length} bytes`)
  }
  return Buffer.from(value.buffer, value.byteOffset, value.length)
}

function decodeList(plaintext: Buffer, what: string): unknown[] {
  let decoded: unknown
  try {
    // EIP-8: decode the first RLP item only; padding and future data follow it.
    decoded = decodeRlp(plaintext, { trailing: true })
  } catch (err) {
    throw new HandshakeFormatError(`${what} body is not valid RLP: ${(err as Error).message}`)
  }
  if (!Array.isArray(decoded)) throw new HandshakeFormatError(`${what} body must be an RLP list`)
  return decoded
}

/** The version element; EIP-8 says a receiver accepts any value, so only its shape is checked. */
function decodeVersion(value: unknown): number {
  try {
    return uint(value as RlpItem, 'handshake version')
  } catch (err) {
    throw new HandshakeFormatError((err as Error).message)
  }
}

/** EIP-8 framing: size prefix ‖ ECIES(plaintext, sharedMacData = prefix), with random padding. */
function sealEip8(remotePublicKey: Uint8Array, body: Uint8Array): Buffer {
  const padding = randomBytes(randomInt(100, 200))
  const plaintext = Buffer.concat([body, padding])
  const prefix = Buffer.allocUnsafe(2)
  prefix.writeUInt16BE(plaintext.length + ECIES_OVERHEAD)
  return Buffer.concat([prefix, eciesEncrypt(remotePublicKey, plaintext, prefix)])
}

/**
 * One side of one handshake. The initiator calls {@link createAuth} then {@link readAck};
 * the recipient calls {@link readAuth} then {@link createAck}; both then call
 * {@link secrets}. The `read*` methods take the bytes received so far and return how many
 * they consumed, or 0 when the packet is not complete yet.
 */
export class Handshake {
  readonly initiator: boolean
  /** Wire format of the auth packet, once sent or read. */
  format: HandshakeFormat = 'eip8'
  #privateKey: Uint8Array
  #ephemeralKey: Uint8Array
  #nonce: Buffer
  #remotePublicKey: Buffer | undefined
  #remoteNonce: Buffer | undefined
  #remoteEphemeral: Buffer | undefined
  #authPacket: Buffer | undefined
  #ackPacket: Buffer | undefined
  #plainRuledOut = false

  constructor(init: HandshakeInit) {
    this.initiator = init.remotePublicKey !== undefined
    this.#privateKey = init.privateKey
    this.#ephemeralKey = init.ephemeralKey ?? generatePrivateKey()
    this.#nonce = init.nonce ? Buffer.from(init.nonce) : randomBytes(32)
    if (init.remotePublicKey) this.#remotePublicKey = Buffer.from(init.remotePublicKey)
  }

  /** The remote's nonce, once its packet has been read. */
  get remoteNonce(): Buffer | undefined {
    return this.#remoteNonce
  }

  /** The remote's ephemeral public key, once its packet has been read. */
  get remoteEphemeralPublicKey(): Buffer | undefined {
    return this.#remoteEphemeral
  }

  /** The version the remote's packet announced (4 for the old format). */
  remoteVersion: number | undefined

  /** The auth signature that was sent or read. */
  authSignature: Buffer | undefined

  /** The remote static public key: known up front when dialling, learnt from auth otherwise. */
  get remotePublicKey(): Buffer | undefined {
    return this.#remotePublicKey
  }

  #authSignature(remotePublicKey: Uint8Array): Buffer {
    const staticShared = ecdh(remotePublicKey, this.#privateKey)
    const signature = sign(xor(staticShared, this.#nonce), this.#ephemeralKey)
    staticShared.fill(0)
    return signature
  }

  /** Initiator: builds the auth packet (EIP-8 unless `format` says otherwise). */
  createAuth(format: HandshakeFormat = 'eip8'): Buffer {
    const remote = this.#remotePublicKey!
    const signature = this.#authSignature(remote)
    this.authSignature = signature
    const ownPublic = publicKeyOf(this.#privateKey)
    this.format = format
    if (format === 'plain') {
      const ephemeralHash = keccak256(publicKeyOf(this.#ephemeralKey))
      const plaintext = Buffer.concat([signature, ephemeralHash, ownPublic, this.#nonce, Buffer.from([0])])
      this.#authPacket = eciesEncrypt(remote, plaintext)
    } else {
      this.#authPacket = sealEip8(remote, RLP.encode([signature, ownPublic, this.#nonce, HANDSHAKE_VERSION]))
    }
    return this.#authPacket
  }

  /** Recipient: consumes an auth packet from `data`; returns bytes consumed or 0 for "need more". */
  readAuth(data: Buffer): number {
    return this.#read(data, PLAIN_AUTH_SIZE, 'auth', (plain, format) => this.#parseAuth(plain, format))
  }

  /** Recipient: builds the ack, in the same format as the auth it answers. */
  createAck(): Buffer {
    const ephemeralPublic = publicKeyOf(this.#ephemeralKey)
    const remote = this.#remotePublicKey!
    if (this.format === 'plain') {
      this.#ackPacket = eciesEncrypt(remote, Buffer.concat([ephemeralPublic, this.#nonce, Buffer.from([0])]))
    } else {
      this.#ackPacket = sealEip8(remote, RLP.encode([ephemeralPublic, this.#nonce, HANDSHAKE_VERSION]))
    }
    return this.#ackPacket
  }

  /** Initiator: consumes an ack packet from `data`; returns bytes consumed or 0 for "need more". */
  readAck(data: Buffer): number {
    return this.#read(data, PLAIN_ACK_SIZE, 'ack', (plain, format) => this.#parseAck(plain, format))
  }

  /** The session secrets; valid once auth and ack have both been sent or read. */
  secrets(): SessionSecrets {
    const secrets = deriveSecrets({
      initiator: this.initiator,
      ephemeralKey: this.#ephemeralKey,
      remoteEphemeralPublicKey: this.#remoteEphemeral!,
      initiatorNonce: this.initiator ? this.#nonce : this.#remoteNonce!,
      recipientNonce: this.initiator ? this.#remoteNonce! : this.#nonce,
      authPacket: this.#authPacket!,
      ackPacket: this.#ackPacket!,
      remotePublicKey: this.#remotePublicKey!,
    })
    this.#ephemeralKey.fill(0)
    return secrets
  }

  #read(
    data: Buffer,
    plainSize: number,
    what: 'auth' | 'ack',
    parse: (plaintext: Buffer, format: HandshakeFormat) => void,
  ): number {
    // An old-format packet starts with the 0x04 of its ECIES key; an EIP-8 one whose size
    // prefix starts with 0x04 is over 1024 bytes long, so trying the old format first at
    // `plainSize` bytes never cuts an EIP-8 packet short.
    if (!this.#plainRuledOut && data.length >= plainSize && data[0] === 4) {
      let plaintext: Buffer | undefined
      try {
        plaintext = eciesDecrypt(this.#privateKey, data.subarray(0, plainSize))
      } catch (err) {
        if (!(err instanceof EciesError)) throw err
        this.#plainRuledOut = true
      }
      if (plaintext) {
        this.#keep(what, data.subarray(0, plainSize))
        parse(plaintext, 'plain')
        return plainSize
      }
    }
    if (data.length < 2) return 0
    const size = data.readUInt16BE(0)
    if (size > MAX_HANDSHAKE_PACKET) {
      throw new HandshakePacketSizeError(`${what} packet declares ${size} bytes, above the ${MAX_HANDSHAKE_PACKET}-byte limit`)
    }
    if (size <= ECIES_OVERHEAD) {
      throw new HandshakePacketSizeError(`${what} packet declares ${size} bytes, too short to hold an ECIES message`)
    }
    if (data.length < 2 + size) return 0
    const packet = data.subarray(0, 2 + size)
    const plaintext = eciesDecrypt(this.#privateKey, packet.subarray(2), packet.subarray(0, 2))
    this.#keep(what, packet)
    parse(plaintext, 'eip8')
    return packet.length
  }

  #keep(what: 'auth' | 'ack', packet: Buffer): void {
    const copy = Buffer.from(packet)
    if (what === 'auth') this.#authPacket = copy
    else this.#ackPacket = copy
  }

  #parseAuth(plaintext: Buffer, format: HandshakeFormat): void {
    let signature: Buffer, remotePublic: Buffer, nonce: Buffer
    let ephemeralHash: Buffer | undefined
    if (format === 'plain') {
      signature = plaintext.subarray(0, 65)
      ephemeralHash = plaintext.subarray(65, 97)
      remotePublic = plaintext.subarray(97, 161)
      nonce = plaintext.subarray(161, 193)
      this.remoteVersion = HANDSHAKE_VERSION
    } else {
      const [sig, pub, n, version] = decodeList(plaintext, 'auth')
      signature = asBytes(sig, 65, 'signature')
      remotePublic = asBytes(pub, 64, 'initiator-pubk')
      nonce = asBytes(n, 32, 'initiator-nonce')
      this.remoteVersion = decodeVersion(version)
    }
    if (!isValidPublicKey(remotePublic)) throw new HandshakeFormatError('auth carries an initiator key that is not on secp256k1')
    const staticShared = ecdh(remotePublic, this.#privateKey)
    let ephemeral: Buffer
    try {
      ephemeral = recover(xor(staticShared, nonce), signature)
    } catch (err) {
      throw new HandshakeSignatureError(`auth signature is invalid: ${(err as Error).message}`)
    } finally {
      staticShared.fill(0)
    }
    if (ephemeralHash && !keccak256(ephemeral).equals(ephemeralHash)) {
      throw new HandshakeSignatureError('auth signature does not match the ephemeral key hash it carries')
    }
    this.format = format
    this.authSignature = Buffer.from(signature)
    this.#remotePublicKey = Buffer.from(remotePublic)
    this.#remoteNonce = Buffer.from(nonce)
    this.#remoteEphemeral = ephemeral
  }

  #parseAck(plaintext: Buffer, format: HandshakeFormat): void {
    let ephemeral: Buffer, nonce: Buffer
    if (format === 'plain') {
      ephemeral = plaintext.subarray(0, 64)
      nonce = plaintext.subarray(64, 96)
      this.remoteVersion = HANDSHAKE_VERSION
    } else {
      const [eph, n, version] = decodeList(plaintext, 'ack')
      ephemeral = asBytes(eph, 64, 'recipient-ephemeral-pubk')
      nonce = asBytes(n, 32, 'recipient-nonce')
      this.remoteVersion = decodeVersion(version)
    }
    if (!isValidPublicKey(ephemeral)) throw new HandshakeFormatError('ack carries an ephemeral key that is not on secp256k1')
    this.#remoteEphemeral = Buffer.from(ephemeral)
    this.#remoteNonce = Buffer.from(nonce)
  }
}
