import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RLP } from '@ethereumjs/rlp'
import { generatePrivateKey, keccak256, publicKeyOf, sign } from '../lib/crypto/index.js'
import { DiscPacketError } from '../lib/discover/errors.js'
import {
  decodePacket,
  encodePacket,
  expirationFrom,
  isExpired,
  MAX_NEIGHBORS,
  MAX_PACKET_SIZE,
  PacketType,
  type Endpoint,
  type OutPacket,
  type Neighbors,
  type Ping,
  type Pong,
  type WireNode,
} from '../lib/discover/wire.js'
import type { RlpItem } from '../lib/message.js'
import { hex, vectors } from './support/vectors.js'

const d4 = vectors.discv4
const SIGNER = publicKeyOf(hex(d4.signing_key))
const packet = (label: string): { hex: string; packet_type: number; expected_geth_current?: any; expected_geth_pre_2021?: any } =>
  d4.packets.find((p: { label: string }) => p.label === label)
const restHex = (rest: RlpItem[]): string[] => rest.map((r) => Buffer.from(RLP.encode(r)).toString('hex'))
const ep = (e: Endpoint): { IP: string | undefined; UDP: number; TCP: number } => ({ IP: e.ip, UDP: e.udp, TCP: e.tcp })

test('every published discv4 vector decodes, signed by the EIP-8 key, with its type and length', () => {
  assert.is(d4.packets.length, 6)
  for (const p of d4.packets) {
    const bytes = hex(p.hex)
    assert.is(bytes.length, p.length_bytes)
    const d = decodePacket(bytes)
    assert.is(d.packet.type, p.packet_type, p.label)
    assert.equal(d.publicKey, SIGNER, p.label)
    assert.is(d.id, keccak256(SIGNER).toString('hex'))
    assert.equal(d.hash, bytes.subarray(0, 32))
  }
})

test('ping (geth plain vector) decodes to geth’s fields', () => {
  const v = packet('ping_v4_plain')
  const p = decodePacket(hex(v.hex)).packet as Ping
  const want = v.expected_geth_current
  assert.is(p.version, BigInt(want.Version))
  assert.equal(ep(p.from), want.From)
  assert.equal(ep(p.to), want.To)
  assert.is(p.expiration, want.Expiration)
  assert.is(p.enrSeq, undefined)
  assert.equal(p.rest, [])
})

test('ping with extra elements: the 5th is the EIP-868 seq, the rest is kept (as geth today)', () => {
  const v = packet('ping_v4_extra_elements')
  const p = decodePacket(hex(v.hex)).packet as Ping
  const want = v.expected_geth_current
  assert.equal(ep(p.from), want.From)
  assert.equal(ep(p.to), want.To)
  assert.is(p.expiration, want.Expiration)
  assert.is(p.enrSeq, BigInt(want.ENRSeq))
  assert.equal(restHex(p.rest), want.Rest_rlp)
})

test('ping v555 whose 5th element is a list: geth refuses it; we read "no seq" and keep the list (pre-2021 geth result)', () => {
  const v = packet('ping_v555_extra_elements_and_trailing_data')
  const p = decodePacket(hex(v.hex)).packet as Ping
  const want = v.expected_geth_pre_2021
  assert.is(p.version, 555n)
  assert.equal(ep(p.from), want.From)
  assert.equal(ep(p.to), want.To)
  assert.is(p.expiration, want.Expiration)
  assert.is(p.enrSeq, undefined)
  assert.equal(restHex(p.rest), want.Rest_rlp)
})

test('pong whose 4th element is a list: decoded as geth did before 2021', () => {
  const v = packet('pong_extra_elements_and_trailing_data')
  const p = decodePacket(hex(v.hex)).packet as Pong
  const want = v.expected_geth_pre_2021
  assert.equal(ep(p.to), want.To)
  assert.is(p.replyTok.toString('hex'), want.ReplyTok)
  assert.is(p.expiration, want.Expiration)
  assert.is(p.enrSeq, undefined)
  assert.equal(restHex(p.rest), want.Rest_rlp)
})

test('findnode with extra elements and trailing data', () => {
  const v = packet('findnode_extra_elements_and_trailing_data')
  const p = decodePacket(hex(v.hex)).packet
  assert.is(p.type, PacketType.FindNode)
  if (p.type !== PacketType.FindNode) return
  assert.is(p.target.toString('hex'), v.expected_geth_current.Target)
  assert.is(p.expiration, v.expected_geth_current.Expiration)
  assert.equal(restHex(p.rest), v.expected_geth_current.Rest_rlp)
})

test('neighbours with IPv4 and IPv6 nodes, extra elements and trailing data', () => {
  const v = packet('neighbours_extra_elements_and_trailing_data')
  const p = decodePacket(hex(v.hex)).packet as Neighbors
  const want = v.expected_geth_current
  assert.equal(
    p.nodes.map((n) => ({ ID: n.publicKey.toString('hex'), IP: n.ip, UDP: n.udp, TCP: n.tcp })),
    want.Nodes,
  )
  assert.is(p.expiration, want.Expiration)
  assert.equal(restHex(p.rest), want.Rest_rlp)
})

const key = generatePrivateKey()
const pub = publicKeyOf(key)

test('every packet type round-trips through encode and decode', () => {
  const to: Endpoint = { ip: '10.0.0.1', udp: 30303, tcp: 0 }
  const from: Endpoint = { ip: '2001:db8::5', udp: 1, tcp: 65535 }
  const node: WireNode = { ip: '1.2.3.4', udp: 40000, tcp: 40001, publicKey: pub }
  const record = RLP.decode(hex(vectors.enr.rlp_hex)) as RlpItem[]
  const cases: OutPacket[] = [
    { type: PacketType.Ping, version: 4n, from, to, expiration: 1_800_000_000, enrSeq: 5n },
    { type: PacketType.Pong, to, replyTok: Buffer.alloc(32, 7), expiration: 1_800_000_000 },
    { type: PacketType.FindNode, target: pub, expiration: 1_800_000_000 },
    { type: PacketType.Neighbors, nodes: [node], expiration: 1_800_000_000 },
    { type: PacketType.ENRRequest, expiration: 1_800_000_000 },
    { type: PacketType.ENRResponse, replyTok: Buffer.alloc(32, 9), record },
  ]
  for (const c of cases) {
    const { bytes, hash } = encodePacket(c, key)
    const d = decodePacket(bytes)
    assert.equal(d.hash, hash)
    assert.equal(d.publicKey, pub)
    assert.equal({ ...d.packet, rest: undefined }, { ...c, rest: undefined })
  }
})

test('ports are written as minimal integers (one byte below 256, empty for 0)', () => {
  const { bytes } = encodePacket({ type: PacketType.Pong, to: { ip: '1.2.3.4', udp: 255, tcp: 0 }, replyTok: Buffer.alloc(32), expiration: 1 }, key)
  const body = RLP.decode(bytes.subarray(98)) as Uint8Array[][]
  assert.equal(body[0]!.map((b) => Buffer.from(b).toString('hex')), ['01020304', 'ff', ''])
})

test('12 worst-case (IPv6, port 65535) nodes fit one 1280-byte datagram; 13 do not', () => {
  const worst: WireNode = { ip: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe', udp: 65535, tcp: 65535, publicKey: pub }
  const p = (n: number) => ({ type: PacketType.Neighbors, nodes: Array(n).fill(worst), expiration: 0xffffffff } as const)
  assert.ok(encodePacket(p(MAX_NEIGHBORS), key).bytes.length <= MAX_PACKET_SIZE)
  assert.throws(() => encodePacket(p(MAX_NEIGHBORS + 1), key), RangeError)
})

function rejects(bytes: Uint8Array, phrase: string): void {
  try {
    decodePacket(bytes)
  } catch (err) {
    assert.instance(err, DiscPacketError)
    assert.is((err as DiscPacketError).code, 'ERR_DISC_PACKET')
    assert.ok((err as Error).message.includes(phrase), `"${(err as Error).message}" lacks "${phrase}"`)
    return
  }
  assert.unreachable(`decoded a packet that should fail with ${phrase}`)
}

/** Frames `type ‖ body` with a valid signature and hash, so only the body is wrong. */
function frame(type: number, body: Uint8Array, signer = key): Buffer {
  const sigdata = Buffer.concat([Buffer.from([type]), body])
  const sig = sign(keccak256(sigdata), signer)
  const hash = keccak256(Buffer.concat([sig, sigdata]))
  return Buffer.concat([hash, sig, sigdata])
}

test('hostile datagrams are refused with the reason: size, hash, signature, type, body', () => {
  const good = hex(packet('ping_v4_plain').hex)
  rejects(good.subarray(0, 97), 'too small')
  rejects(Buffer.alloc(MAX_PACKET_SIZE + 1), 'too large')
  const flipped = Buffer.from(good)
  flipped[good.length - 1]! ^= 1
  rejects(flipped, 'bad hash')
  const badSig = Buffer.from(good)
  badSig[32 + 64] = 7 // recovery id out of range
  keccak256(badSig.subarray(32)).copy(badSig, 0)
  rejects(badSig, 'bad signature')
  rejects(frame(9, RLP.encode([])), 'unknown packet type 9')
  rejects(frame(PacketType.Ping, Buffer.from([0xf8])), 'not valid RLP')
  rejects(frame(PacketType.Ping, RLP.encode(Buffer.from('x'))), 'must be an RLP list')
  rejects(frame(PacketType.Ping, RLP.encode([4, [], []])), 'need at least 4')
  rejects(frame(PacketType.Ping, RLP.encode([4, [Buffer.alloc(4), 1], [Buffer.alloc(4), 1, 1], 1])), 'from must be a list')
  rejects(frame(PacketType.Ping, RLP.encode([4, [Buffer.alloc(4), 70000, 1], [Buffer.alloc(4), 1, 1], 1])), 'fit in 16 bits')
  rejects(frame(PacketType.Ping, RLP.encode([4, [Buffer.alloc(4), Buffer.from([0, 1]), 1], [Buffer.alloc(4), 1, 1], 1])), 'leading zero')
  rejects(frame(PacketType.Ping, RLP.encode([4, [Buffer.alloc(4), 1, 1], [Buffer.alloc(4), 1, 1], Buffer.alloc(9, 1)])), 'expiration does not fit')
  rejects(frame(PacketType.FindNode, RLP.encode([Buffer.alloc(63), 1])), 'target must be 64 bytes')
  rejects(frame(PacketType.Neighbors, RLP.encode([[[Buffer.alloc(4), 1, 1, Buffer.alloc(63)]], 1])), 'key must be 64 bytes')
  rejects(frame(PacketType.Neighbors, RLP.encode([Buffer.alloc(3), 1])), 'nodes must be a list')
  rejects(frame(PacketType.ENRResponse, RLP.encode([Buffer.alloc(32), Buffer.alloc(3)])), 'record must be an RLP list')
})

test('an endpoint IP that is neither 4 nor 16 bytes decodes as "no IP" (as geth stores any length)', () => {
  const d = decodePacket(frame(PacketType.Ping, RLP.encode([4, [Buffer.alloc(5), 1, 2], [Buffer.alloc(0), 3, 4], 1])))
  const p = d.packet as Ping
  assert.is(p.from.ip, undefined)
  assert.is(p.to.ip, undefined)
  assert.is(p.from.tcp, 2)
})

test('expiration: now + 20 s is stamped; a past timestamp is expired, the current second is not', () => {
  const now = Date.UTC(2026, 0, 1, 0, 0, 0, 500)
  assert.is(expirationFrom(now), Math.floor(now / 1000) + 20)
  assert.not.ok(isExpired(expirationFrom(now), now + 19_000))
  assert.ok(isExpired(expirationFrom(now), now + 21_000))
  assert.ok(isExpired(1136239445, now))
})

test.run()
