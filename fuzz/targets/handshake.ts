/**
 * The RLPx handshake packets: auth read by the recipient, ack read by the initiator, in both
 * the EIP-8 and the old fixed-size format, from the vector keys. Besides raw mutations of
 * the packets (which ECIES's tag refuses at once), mutated plaintexts are sealed afresh to
 * the reader's key, so the RLP, signature and key checks behind the tag are fuzzed too.
 * Each input is delivered in two reads, split anywhere, as a socket may deliver it.
 * @module
 */
import fc from 'fast-check'
import { eciesEncrypt, ECIES_OVERHEAD } from '../../lib/rlpx/ecies.js'
import { Handshake, MAX_HANDSHAKE_PACKET } from '../../lib/rlpx/handshake.js'
import type { Target } from '../harness.js'
import { mutate, networkBytes } from '../inputs.js'
import { ackPackets, authPackets, firstItem, handshakePlaintext, keys } from '../seeds.js'

/** Handshake bytes as received, and where the first read ends. */
export interface HandshakeInput {
  data: Uint8Array
  split: number
}

const isEip8 = (packet: Buffer): boolean => packet[0] !== 4
const iv = fc.uint8Array({ minLength: 16, maxLength: 16 })

function handshakeInputs(packets: Buffer[], reader: { privateKey: Buffer; publicKey: Buffer }, ephemeralKey: Buffer): fc.Arbitrary<HandshakeInput> {
  const plain = packets.filter((p) => !isEip8(p)).map((p) => handshakePlaintext(reader.privateKey, p))
  const eip8Bodies = packets.filter(isEip8).map((p) => firstItem(handshakePlaintext(reader.privateKey, p)))
  const sealedPlain = fc
    .record({ text: mutate(fc.constantFrom(...plain), plain, { min: 0, max: 3 }), iv })
    .map(({ text, iv }) => eciesEncrypt(reader.publicKey, text, new Uint8Array(0), ephemeralKey, iv))
  const sealedEip8 = fc
    .record({
      body: networkBytes(eip8Bodies, MAX_HANDSHAKE_PACKET - ECIES_OVERHEAD),
      padding: fc.uint8Array({ maxLength: 200 }),
      sizeLie: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -300, max: 300 }) }),
      iv,
    })
    .map(({ body, padding, sizeLie, iv }) => {
      const plaintext = Buffer.concat([body, padding])
      const prefix = Buffer.alloc(2)
      prefix.writeUInt16BE(Math.min(0xffff, Math.max(0, plaintext.length + ECIES_OVERHEAD + sizeLie)))
      return Buffer.concat([prefix, eciesEncrypt(reader.publicKey, plaintext, prefix, ephemeralKey, iv)])
    })
  const data = fc.oneof(
    { weight: 3, arbitrary: sealedEip8 },
    { weight: 2, arbitrary: sealedPlain },
    { weight: 2, arbitrary: mutate(fc.constantFrom(...packets), packets) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 700 }) },
  )
  return fc.record({ data, split: fc.nat(4096) })
}

/** The two reads: the bytes up to the split (if they hold no whole packet, they wait), then all. */
function readInTwo(read: (data: Buffer) => number, { data, split }: HandshakeInput): void {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.length)
  const at = split % (bytes.length + 1)
  if (at < bytes.length && read(bytes.subarray(0, at)) !== 0) return
  read(bytes)
}

const validInputs = (packets: Buffer[]): HandshakeInput[] =>
  packets.flatMap((data) => [
    { data, split: data.length },
    { data, split: 100 },
  ])

export const auth: Target<HandshakeInput> = {
  name: 'auth',
  decoder: 'Handshake.readAuth (EIP-8 and old format)',
  arbitrary: handshakeInputs(authPackets, { privateKey: keys.b, publicKey: keys.publicB }, keys.ephemeralA),
  run(input) {
    const recipient = new Handshake({ privateKey: keys.b, ephemeralKey: Buffer.from(keys.ephemeralB), nonce: keys.nonceB })
    readInTwo((data) => recipient.readAuth(data), input)
  },
  bytes: (input) => input.data,
  valid: validInputs(authPackets),
}

export const ack: Target<HandshakeInput> = {
  name: 'ack',
  decoder: 'Handshake.readAck (EIP-8 and old format)',
  arbitrary: handshakeInputs(ackPackets, { privateKey: keys.a, publicKey: keys.publicA }, keys.ephemeralB),
  run(input) {
    const initiator = new Handshake({ privateKey: keys.a, remotePublicKey: keys.publicB, ephemeralKey: Buffer.from(keys.ephemeralA), nonce: keys.nonceA })
    readInTwo((data) => initiator.readAck(data), input)
  },
  bytes: (input) => input.data,
  valid: validInputs(ackPackets),
}
