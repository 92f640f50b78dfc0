import { RLP } from '@ethereumjs/rlp'
import type { VirtualClock } from '../../lib/clock.js'
import { generatePrivateKey, keccak256, publicKeyOf } from '../../lib/crypto/index.js'
import { Discovery, type DiscoveryOptions } from '../../lib/discover/discovery.js'
import type { MemoryNetwork, UdpAddress, UdpTransport } from '../../lib/discover/transport.js'
import { decodePacket, encodePacket, expirationFrom, PacketType, type Decoded, type OutPacket } from '../../lib/discover/wire.js'
import type { RlpItem } from '../../lib/message.js'
import { seededRandom } from '../../lib/random.js'

/**
 * A hand-driven discv4 endpoint on a memory network: it sends exactly the packets a test
 * crafts and records every datagram it receives, so a test can assert what a node answered.
 */
export class RawPeer {
  readonly key = generatePrivateKey()
  readonly publicKey = publicKeyOf(this.key)
  readonly id = keccak256(this.publicKey).toString('hex')
  readonly transport: UdpTransport
  readonly inbox: Decoded[] = []
  bytesIn = 0
  bytesOut = 0

  constructor(
    net: MemoryNetwork,
    address: string,
    port = 0,
    readonly clock: VirtualClock,
  ) {
    this.transport = net.bind(address, port)
    this.transport.onMessage((data) => {
      this.bytesIn += data.length
      this.inbox.push(decodePacket(data))
    })
  }

  get address(): UdpAddress {
    return this.transport.local
  }

  /** Signs and sends a packet; returns its hash. */
  send(to: UdpAddress, packet: OutPacket): Buffer {
    const { bytes, hash } = encodePacket(packet, this.key)
    this.sendRaw(to, bytes)
    return hash
  }

  sendRaw(to: UdpAddress, bytes: Uint8Array): void {
    this.bytesOut += bytes.length
    this.transport.send(bytes, to)
  }

  ping(to: UdpAddress, extra: Partial<Extract<OutPacket, { type: 1 }>> = {}): Buffer {
    return this.send(to, {
      type: PacketType.Ping,
      version: 4n,
      from: { ip: this.address.address, udp: this.address.port, tcp: 30303 },
      to: { ip: to.address, udp: to.port, tcp: 0 },
      expiration: expirationFrom(this.clock.now()),
      ...extra,
    })
  }

  pong(to: UdpAddress, replyTok: Buffer): Buffer {
    return this.send(to, { type: PacketType.Pong, to: { ip: to.address, udp: to.port, tcp: 0 }, replyTok, expiration: expirationFrom(this.clock.now()) })
  }

  findnode(to: UdpAddress, target: Buffer = this.publicKey): Buffer {
    return this.send(to, { type: PacketType.FindNode, target, expiration: expirationFrom(this.clock.now()) })
  }

  /** Received packets of one type (and removes them from the inbox). */
  take(type: number): Decoded[] {
    const out = this.inbox.filter((d) => d.packet.type === type)
    for (const d of out) this.inbox.splice(this.inbox.indexOf(d), 1)
    return out
  }

  /** Answers every Ping in the inbox with a Pong, completing a bond. */
  answerPings(to: UdpAddress): number {
    const pings = this.take(PacketType.Ping)
    for (const p of pings) this.pong(to, p.hash)
    return pings.length
  }

  /** Completes the endpoint proof both ways: ping, answer the ping back; consumes the Pong. */
  async bond(to: UdpAddress): Promise<void> {
    this.ping(to)
    await this.clock.advance(1)
    this.take(PacketType.Pong)
    this.answerPings(to)
    await this.clock.advance(1)
  }
}

/** Advances the virtual clock in steps until `promise` settles (at most `limitMs` of virtual time). */
export async function settle<T>(clock: VirtualClock, promise: Promise<T>, stepMs = 50, limitMs = 120_000): Promise<T> {
  let done = false
  const tracked = promise.finally(() => {
    done = true
  })
  tracked.catch(() => {})
  const end = clock.now() + limitMs
  while (!done && clock.now() < end) await clock.advance(stepMs)
  return tracked
}

/** A started Discovery on a memory network with timers pushed far out unless asked otherwise. */
export async function startNode(
  net: MemoryNetwork,
  clock: VirtualClock,
  address: string,
  options: Partial<DiscoveryOptions> = {},
  seed = 1,
): Promise<Discovery> {
  const d = new Discovery({
    privateKey: generatePrivateKey(),
    clock,
    random: seededRandom(seed),
    transport: net.bind(address, 30303),
    // far beyond any test's virtual time, so only what a test does happens
    refreshInterval: 1e13,
    revalidateInterval: 1e13,
    ...options,
  })
  await d.start()
  // the first refresh on an empty table ends at once; let it
  await clock.advance(1)
  return d
}

/** The RLP items of a record, as an ENRResponse carries it. */
export const recordItems = (bytes: Uint8Array): RlpItem[] => RLP.decode(bytes) as RlpItem[]
