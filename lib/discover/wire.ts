/**
 * The discv4 wire format (go-ethereum `p2p/discover/v4wire`): a datagram is
 * `hash(32) ‖ signature(65) ‖ type(1) ‖ RLP(body)`, the signature over keccak256(type ‖ body)
 * names the sender, the hash over everything after it identifies the packet (replies echo it).
 *
 * Decoding follows EIP-8: extra list elements and bytes after the body are ignored, the
 * version of a Ping is not checked. One deliberate leniency: EIP-868 made the element after a
 * Ping's expiration (a Pong's) an optional ENR seq, and geth refuses a packet whose element
 * there is a list; we read such an element as "no seq" and keep it in `rest`, so the two EIP-8
 * vectors geth dropped in 2021 decode (they come from clients that predate EIP-868).
 * @module
 */
import { RLP, type Input } from '@ethereumjs/rlp'
import { keccak256, recover, sign } from '../crypto/index.js'
import { bigUint, type RlpItem } from '../message.js'
import { DiscPacketError } from './errors.js'
import { bytesToIp, ipToBytes } from './ip.js'

/** The largest datagram discv4 sends or accepts (geth's `maxPacketSize`). */
export const MAX_PACKET_SIZE = 1280
/** Nodes per Neighbours packet: the most worst-case (IPv6) entries that fit 1280 bytes. */
export const MAX_NEIGHBORS = 12
/** Seconds a packet we send stays valid (geth stamps now + 20 s). */
export const EXPIRATION_SECONDS = 20

const HASH_SIZE = 32
const SIG_SIZE = 65
const HEAD_SIZE = HASH_SIZE + SIG_SIZE

/** discv4 packet type bytes. */
export const PacketType = {
  Ping: 1,
  Pong: 2,
  FindNode: 3,
  Neighbors: 4,
  ENRRequest: 5,
  ENRResponse: 6,
} as const

const NAMES: Record<number, string> = { 1: 'PING', 2: 'PONG', 3: 'FINDNODE', 4: 'NEIGHBORS', 5: 'ENRREQUEST', 6: 'ENRRESPONSE' }

/** A network endpoint as packets carry it. `ip` is undefined when the bytes are not 4 or 16 long. */
export interface Endpoint {
  ip: string | undefined
  udp: number
  tcp: number
}

/** One entry of a Neighbours packet. */
export interface WireNode extends Endpoint {
  /** The node's 64-byte public key. */
  publicKey: Buffer
}

/** Ping: "are you there", with where we are and where we think you are. */
export interface Ping {
  type: typeof PacketType.Ping
  version: bigint
  from: Endpoint
  to: Endpoint
  /** Absolute Unix time (s) after which the packet is void. */
  expiration: number
  /** The sender's ENR seq (EIP-868), when given as an integer. */
  enrSeq?: bigint
  /** Elements after the known ones (EIP-8). */
  rest: RlpItem[]
}

/** Pong: the answer to a Ping, echoing its hash, telling the pinger where it was seen. */
export interface Pong {
  type: typeof PacketType.Pong
  to: Endpoint
  replyTok: Buffer
  expiration: number
  enrSeq?: bigint
  rest: RlpItem[]
}

/** FindNode: "which nodes do you know closest to keccak256(target)". */
export interface FindNode {
  type: typeof PacketType.FindNode
  target: Buffer
  expiration: number
  rest: RlpItem[]
}

/** Neighbours: up to {@link MAX_NEIGHBORS} nodes answering a FindNode. */
export interface Neighbors {
  type: typeof PacketType.Neighbors
  nodes: WireNode[]
  expiration: number
  rest: RlpItem[]
}

/** ENRRequest: "send me your node record" (EIP-868). */
export interface ENRRequest {
  type: typeof PacketType.ENRRequest
  expiration: number
  rest: RlpItem[]
}

/** ENRResponse: the record, and the hash of the request it answers. The record is verified by whoever asked. */
export interface ENRResponse {
  type: typeof PacketType.ENRResponse
  replyTok: Buffer
  /** The record as an RLP list, not yet verified (only a matching reply is worth a signature check). */
  record: RlpItem[]
  rest: RlpItem[]
}

/** Any discv4 packet. */
export type Packet = Ping | Pong | FindNode | Neighbors | ENRRequest | ENRResponse

/** What {@link encodePacket} takes: a packet without `rest`. */
export type OutPacket =
  | Omit<Ping, 'rest'>
  | Omit<Pong, 'rest'>
  | Omit<FindNode, 'rest'>
  | Omit<Neighbors, 'rest'>
  | Omit<ENRRequest, 'rest'>
  | Omit<ENRResponse, 'rest'>

/** A decoded datagram. */
export interface Decoded {
  packet: Packet
  /** The packet hash (its first 32 bytes), echoed by replies. */
  hash: Buffer
  /** The sender's 64-byte public key, recovered from the signature. */
  publicKey: Buffer
  /** The sender's node id, hex keccak256 of `publicKey`. */
  id: string
}

/** A packet's log name, as geth writes it (`PING/v4`). */
export function packetName(type: number): string {
  return `${NAMES[type] ?? `UNKNOWN(${type})`}/v4`
}

/** The expiration to stamp on a packet sent at `nowMs`. */
export function expirationFrom(nowMs: number): number {
  return Math.floor(nowMs / 1000) + EXPIRATION_SECONDS
}

/** True when a packet stamped `expiration` is void at `nowMs` (geth: expiration before now). */
export function isExpired(expiration: number, nowMs: number): boolean {
  return expiration * 1000 < nowMs
}

/**
 * Signs and frames a packet.
 * @returns the datagram and its hash
 * @throws {RangeError} when the result would exceed {@link MAX_PACKET_SIZE} (a bug of the caller)
 */
export function encodePacket(packet: OutPacket, privateKey: Uint8Array): { bytes: Buffer; hash: Buffer } {
  const body = RLP.encode(bodyItems(packet))
  const bytes = Buffer.allocUnsafe(HEAD_SIZE + 1 + body.length)
  bytes[HEAD_SIZE] = packet.type
  bytes.set(body, HEAD_SIZE + 1)
  if (bytes.length > MAX_PACKET_SIZE) throw new RangeError(`${packetName(packet.type)} of ${bytes.length} bytes exceeds ${MAX_PACKET_SIZE}`)
  const signature = sign(keccak256(bytes.subarray(HEAD_SIZE)), privateKey)
  bytes.set(signature, HASH_SIZE)
  const hash = keccak256(bytes.subarray(HASH_SIZE))
  bytes.set(hash, 0)
  return { bytes, hash }
}

/**
 * Checks and decodes a datagram: size, hash, signature (which yields the sender), type, body.
 * @throws {DiscPacketError} saying which check failed
 */
export function decodePacket(datagram: Uint8Array): Decoded {
  if (datagram.length < HEAD_SIZE + 1) throw new DiscPacketError(`too small (${datagram.length} bytes)`)
  if (datagram.length > MAX_PACKET_SIZE) throw new DiscPacketError(`too large (${datagram.length} bytes, limit ${MAX_PACKET_SIZE})`)
  const hash = Buffer.from(datagram.subarray(0, HASH_SIZE))
  if (!keccak256(datagram.subarray(HASH_SIZE)).equals(hash)) throw new DiscPacketError('bad hash')
  let publicKey: Buffer
  try {
    publicKey = Buffer.from(recover(keccak256(datagram.subarray(HEAD_SIZE)), datagram.subarray(HASH_SIZE, HEAD_SIZE)))
  } catch (err) {
    throw new DiscPacketError(`bad signature (${(err as Error).message})`, { cause: err })
  }
  const type = datagram[HEAD_SIZE]!
  if (!(type in NAMES)) throw new DiscPacketError(`unknown packet type ${type}`)
  let decoded: unknown
  try {
    // stream mode: bytes after the first RLP value are ignored (EIP-8)
    decoded = RLP.decode(datagram.subarray(HEAD_SIZE + 1), true).data
  } catch (err) {
    throw new DiscPacketError(`${packetName(type)}: body is not valid RLP (${(err as Error).message})`, { cause: err })
  }
  if (!Array.isArray(decoded)) throw new DiscPacketError(`${packetName(type)}: body must be an RLP list`)
  const packet = decodeBody(type, decoded as RlpItem[])
  return { packet, hash, publicKey, id: keccak256(publicKey).toString('hex') }
}

// RLP writes numbers and bigints as minimal big-endian bytes, the canonical form geth requires
function bodyItems(p: OutPacket): Input[] {
  switch (p.type) {
    case PacketType.Ping:
      return withSeq([p.version, endpointItem(p.from), endpointItem(p.to), p.expiration], p.enrSeq)
    case PacketType.Pong:
      return withSeq([endpointItem(p.to), p.replyTok, p.expiration], p.enrSeq)
    case PacketType.FindNode:
      return [p.target, p.expiration]
    case PacketType.Neighbors:
      return [p.nodes.map((n) => [...endpointItem(n), n.publicKey]), p.expiration]
    case PacketType.ENRRequest:
      return [p.expiration]
    case PacketType.ENRResponse:
      return [p.replyTok, p.record]
  }
}

function withSeq(items: Input[], seq: bigint | undefined): Input[] {
  return seq === undefined ? items : [...items, seq]
}

function endpointItem(e: Endpoint): Input[] {
  return [(e.ip !== undefined && ipToBytes(e.ip)) || Buffer.alloc(0), e.udp, e.tcp]
}

type Fail = (what: string) => never

function decodeBody(type: number, items: RlpItem[]): Packet {
  const name = packetName(type)
  const fail: Fail = (what) => {
    throw new DiscPacketError(`${name}: ${what}`)
  }
  const need = (n: number): void => {
    if (items.length < n) fail(`${items.length} elements, need at least ${n}`)
  }
  switch (type) {
    case PacketType.Ping: {
      need(4)
      const [version, from, to, expiration, seq, ...rest] = items
      const enrSeq = optionalSeq(seq)
      return {
        type,
        version: uintOf(version, 'version', 64, fail),
        from: endpointOf(from!, 'from', fail),
        to: endpointOf(to!, 'to', fail),
        expiration: expirationOf(expiration, fail),
        ...(enrSeq !== undefined && { enrSeq }),
        rest: enrSeq === undefined && seq !== undefined ? [seq, ...rest] : rest,
      }
    }
    case PacketType.Pong: {
      need(3)
      const [to, replyTok, expiration, seq, ...rest] = items
      const enrSeq = optionalSeq(seq)
      return {
        type,
        to: endpointOf(to!, 'to', fail),
        replyTok: bytesOf(replyTok, 'reply token', fail),
        expiration: expirationOf(expiration, fail),
        ...(enrSeq !== undefined && { enrSeq }),
        rest: enrSeq === undefined && seq !== undefined ? [seq, ...rest] : rest,
      }
    }
    case PacketType.FindNode: {
      need(2)
      const [target, expiration, ...rest] = items
      const key = bytesOf(target, 'target', fail)
      if (key.length !== 64) fail(`target must be 64 bytes, got ${key.length}`)
      return { type, target: key, expiration: expirationOf(expiration, fail), rest }
    }
    case PacketType.Neighbors: {
      need(2)
      const [nodes, expiration, ...rest] = items
      if (!Array.isArray(nodes)) fail('nodes must be a list')
      return { type, nodes: (nodes as RlpItem[]).map((n, i) => wireNodeOf(n, i, fail)), expiration: expirationOf(expiration, fail), rest }
    }
    case PacketType.ENRRequest: {
      need(1)
      const [expiration, ...rest] = items
      return { type, expiration: expirationOf(expiration, fail), rest }
    }
    default: {
      need(2)
      const [replyTok, record, ...rest] = items
      if (!Array.isArray(record)) fail('record must be an RLP list')
      return { type: PacketType.ENRResponse, replyTok: bytesOf(replyTok, 'reply token', fail), record: record as RlpItem[], rest }
    }
  }
}

function bytesOf(item: RlpItem | undefined, what: string, fail: Fail): Buffer {
  if (!(item instanceof Uint8Array)) fail(`${what} must be a byte string`)
  return Buffer.from(item as Uint8Array)
}

/** A canonical unsigned integer of at most `bits` bits. */
function uintOf(item: RlpItem | undefined, what: string, bits: number, fail: Fail): bigint {
  if (item instanceof Uint8Array && item.length > bits / 8) fail(`${what} does not fit in ${bits} bits`)
  try {
    return bigUint(item, what)
  } catch (err) {
    return fail((err as Error).message)
  }
}

function expirationOf(item: RlpItem | undefined, fail: Fail): number {
  return Number(uintOf(item, 'expiration', 64, fail))
}

/** EIP-868's optional seq: an integer; anything else (absent, a list, too long) is no seq. */
function optionalSeq(item: RlpItem | undefined): bigint | undefined {
  if (!(item instanceof Uint8Array) || item.length > 8 || item[0] === 0) return undefined
  return item.length === 0 ? 0n : BigInt(`0x${Buffer.from(item).toString('hex')}`)
}

function endpointOf(item: RlpItem, what: string, fail: Fail): Endpoint {
  if (!Array.isArray(item) || item.length < 3) fail(`${what} must be a list [ip, udp, tcp]`)
  const [ip, udp, tcp] = item as RlpItem[]
  return {
    ip: bytesToIp(bytesOf(ip, `${what} ip`, fail)),
    udp: Number(uintOf(udp, `${what} udp port`, 16, fail)),
    tcp: Number(uintOf(tcp, `${what} tcp port`, 16, fail)),
  }
}

function wireNodeOf(item: RlpItem, index: number, fail: Fail): WireNode {
  if (!Array.isArray(item) || item.length < 4) fail(`node ${index} must be a list [ip, udp, tcp, key]`)
  const endpoint = endpointOf(item, `node ${index}`, fail)
  const publicKey = bytesOf((item as RlpItem[])[3], `node ${index} key`, fail)
  if (publicKey.length !== 64) fail(`node ${index} key must be 64 bytes, got ${publicKey.length}`)
  return { ...endpoint, publicKey }
}
