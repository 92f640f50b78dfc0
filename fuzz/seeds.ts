/**
 * Valid inputs the fuzzer starts from: the published vectors (../shared/devp2p-vectors.json)
 * and the encodings our own encoders produce. They are built deterministically — a run's
 * inputs, and so a replay by seed and path, must not depend on the process.
 * @module
 */
import { createRequire, syncBuiltinESMExports } from 'node:module'
import { RLP } from '@ethereumjs/rlp'
import { keccak256, publicKeyOf } from '../lib/crypto/index.js'
import { encodeHello, P2P_VERSION } from '../lib/hello.js'
import { DiscReason } from '../lib/disconnect.js'
import { nodeId } from '../lib/enode.js'
import { seededRandom } from '../lib/random.js'
import { eciesDecrypt } from '../lib/rlpx/ecies.js'
import { Handshake } from '../lib/rlpx/handshake.js'
import { snappyCompress } from '../lib/rlpx/snappy.js'
import { FloodEngine } from '../protocols/floodnet/index.js'
import { encodeJoin } from '../protocols/floodnet/join.js'
import { encodeBroadcast, encodeGoodbye, encodePresence, encodeReceipt, encodeDirect } from '../protocols/chat/index.js'
import { hex, vectors } from '../test/support/vectors.js'

const require = createRequire(import.meta.url)
const crypto: typeof import('node:crypto') = require('node:crypto')

/**
 * Runs `fn` with `crypto.randomBytes` and `crypto.randomInt` drawn from a seeded generator.
 * Our encoders take padding, ephemeral keys, ivs and request ids from them; seeds built
 * with real randomness would make the same fuzz seed give other inputs in another process.
 * `syncBuiltinESMExports` carries the swap into the modules' ESM imports of node:crypto.
 */
function deterministic<T>(seed: number, fn: () => T): T {
  const random = seededRandom(seed)
  const { randomBytes, randomInt } = crypto
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)))
  const int = (min: number, max?: number): number => (max === undefined ? Math.floor(random() * min) : min + Math.floor(random() * (max - min)))
  crypto.randomBytes = bytes as typeof randomBytes
  crypto.randomInt = int as typeof randomInt
  syncBuiltinESMExports()
  try {
    return fn()
  } finally {
    crypto.randomBytes = randomBytes
    crypto.randomInt = randomInt
    syncBuiltinESMExports()
  }
}

const hs = vectors.rlpx_handshake
/** The vectors' node A (initiator) and B (recipient): static and ephemeral keys, nonces. */
export const keys = {
  a: hex(hs.static_key_a),
  b: hex(hs.static_key_b),
  ephemeralA: hex(hs.ephemeral_key_a),
  ephemeralB: hex(hs.ephemeral_key_b),
  nonceA: hex(hs.nonce_a),
  nonceB: hex(hs.nonce_b),
  publicA: publicKeyOf(hex(hs.static_key_a)),
  publicB: publicKeyOf(hex(hs.static_key_b)),
}

const packet = (label: string): Buffer => hex(hs.messages.find((m: { label: string }) => m.label === label).hex)

/** Our own auth and ack, in both formats, between the vector keys. */
const ownHandshake = deterministic(1, () =>
  (['plain', 'eip8'] as const).map((format) => {
    const a = new Handshake({ privateKey: keys.a, remotePublicKey: keys.publicB, ephemeralKey: keys.ephemeralA, nonce: keys.nonceA })
    const b = new Handshake({ privateKey: keys.b, ephemeralKey: keys.ephemeralB, nonce: keys.nonceB })
    const auth = a.createAuth(format)
    b.readAuth(auth)
    return { auth, ack: b.createAck() }
  }),
)

/** Auth packets B can read: the vectors' (old format and EIP-8) and ours. */
export const authPackets: Buffer[] = [packet('Auth1'), packet('Auth2'), ...ownHandshake.map((h) => h.auth)]
/** Ack packets A can read. */
export const ackPackets: Buffer[] = [packet('Ack1'), packet('Ack2'), ...ownHandshake.map((h) => h.ack)]

/** The ECIES plaintext of a handshake packet (an EIP-8 packet's MAC covers its size prefix). */
export function handshakePlaintext(privateKey: Uint8Array, data: Buffer): Buffer {
  return data[0] === 4 ? eciesDecrypt(privateKey, data) : eciesDecrypt(privateKey, data.subarray(2), data.subarray(0, 2))
}

/** A frame encrypted with the vector's secrets under MAC sponges that always digest to 0x01s. */
export const vectorFrame = hex(vectors.rlpx_frame.frame_hex)

/** Hello payloads: the EIP-8 vector (version 55, extra elements) and ours. */
export const helloSeeds: Uint8Array[] = [
  hex(vectors.devp2p_hello.hex),
  encodeHello({
    version: P2P_VERSION,
    clientId: 'devp2p-ts/0.1.0',
    caps: [
      { name: 'chat', version: 1 },
      { name: 'eth', version: 68 },
      { name: 'floodnet', version: 1 },
    ],
    listenPort: 30303,
    nodeId: keys.publicA,
  }),
  encodeHello({ version: P2P_VERSION, clientId: '', caps: [], listenPort: 0, nodeId: keys.publicB }),
]

/** Disconnect payloads: the geth vectors and every reason in list form. */
export const disconnectSeeds: Uint8Array[] = [
  ...vectors.disconnect_payloads.vectors.map((v: { payload_hex: string }) => hex(v.payload_hex)),
  ...Object.values(DiscReason)
    .filter((r): r is number => typeof r === 'number')
    .map((reason) => RLP.encode([reason])),
]

/** JOIN_REQs for IPv4, IPv6 and name hosts and a requester that does not listen, at several hop counts. */
export const joinSeeds: Uint8Array[] = deterministic(2, () =>
  [
    { host: '127.0.0.1', tcpPort: 30303, hopsLeft: 5 },
    { host: '2001:db8::1', tcpPort: 1, hopsLeft: 1 },
    { host: 'node.example.org', tcpPort: 65535, hopsLeft: 0 },
    { host: undefined, tcpPort: undefined, hopsLeft: 3 },
  ].map(({ host, tcpPort, hopsLeft }, i) =>
    encodeJoin({ token: `0${i}`.repeat(8), requester: { publicKey: keys.publicA, id: nodeId(keys.publicA), host, tcpPort }, hopsLeft }),
  ),
)

/** Timestamp of the chat seeds (any fixed value: decoding does not look at the clock). */
const CHAT_TIME = 1_700_000_000_000

/** Signed broadcasts, presence and goodbye from A. */
export const broadcastSeeds: Uint8Array[] = [
  encodeBroadcast(keys.a, 'alice', 'hello, world', CHAT_TIME),
  encodeBroadcast(keys.a, 'a', '', 0),
  encodeBroadcast(keys.a, 'ä'.repeat(16), 'x'.repeat(2048), CHAT_TIME),
  encodePresence(keys.a, { nick: 'alice', host: '127.0.0.1', port: 30303, interval: 300_000, since: CHAT_TIME }, CHAT_TIME),
  encodeGoodbye(keys.a, CHAT_TIME),
]

/** Direct messages and a receipt from A sealed to B. */
export const directSeeds: Uint8Array[] = deterministic(3, () => [
  encodeDirect(keys.a, keys.publicB, 'alice', 'hi bob', CHAT_TIME),
  encodeDirect(keys.a, keys.publicB, 'a', '', 0),
  encodeDirect(keys.a, keys.publicB, 'a'.repeat(32), 'y'.repeat(2048), CHAT_TIME),
  encodeReceipt(keys.a, keys.publicB, '00'.repeat(16), CHAT_TIME),
])

/** Flood messages as our engine writes them, carrying chat, join and plain payloads. */
export const floodSeeds: Uint8Array[] = (() => {
  const wires: Uint8Array[] = []
  const engine = new FloodEngine({ selfId: nodeId(keys.publicA), messageId: (payload) => keccak256(payload).subarray(0, 16) })
  engine.addNeighbour(nodeId(keys.publicB), async (wire) => {
    wires.push(wire)
  })
  for (const payload of [new Uint8Array(0), Buffer.from('floodnet'), new Uint8Array(1000).fill(0xaa), ...broadcastSeeds, ...directSeeds]) {
    engine.publish(payload)
  }
  return wires
})()

/** Snappy blocks: single literals (our small-payload form) and native blocks with copies. */
export const snappySeeds: Uint8Array[] = (() => {
  const random = seededRandom(4)
  const noise = Buffer.from(Array.from({ length: 5000 }, () => Math.floor(random() * 256)))
  return [
    Buffer.alloc(0),
    Buffer.from('a'),
    Buffer.from('snappy after hello'),
    Buffer.alloc(100, 0x41),
    Buffer.from(helloSeeds[0]!),
    Buffer.from('abcdefgh'.repeat(40)),
    noise,
    Buffer.alloc(70_000, 0x61),
  ].map((payload) => Buffer.concat(snappyCompress(payload)))
})()

const isEip8 = (packet: Buffer): boolean => packet[0] !== 4
/** The RLP item `bytes` start with, without what follows it (EIP-8 padding, discv4's extra data). */
export const firstItem = (bytes: Uint8Array): Uint8Array => bytes.subarray(0, bytes.length - RLP.decode(bytes, true).remainder.length)

/** RLP from every corner: the seeds above, decrypted handshake bodies, the ENR, discv4 packets. */
export const rlpSeeds: Uint8Array[] = [
  ...helloSeeds,
  ...disconnectSeeds.filter((s) => s.length > 0),
  ...joinSeeds,
  ...floodSeeds,
  ...broadcastSeeds,
  hex(vectors.enr.rlp_hex),
  hex(vectors.rlpx_frame.decrypted_frame_content_hex).subarray(1),
  ...vectors.discv4.packets.map((p: { hex: string }) => firstItem(hex(p.hex).subarray(98))),
  ...authPackets.filter(isEip8).map((p) => firstItem(handshakePlaintext(keys.b, p))),
  ...ackPackets.filter(isEip8).map((p) => firstItem(handshakePlaintext(keys.a, p))),
]
