/**
 * The simulated network: hosts with IP addresses, listeners, and dials that open
 * {@link MemoryStream} pairs with the link model's delays, all on one virtual clock. Each
 * host gets its own view of the clock, so that when the host crashes its timers stop
 * firing with it, and a {@link TransportFactory} that a real `Server` takes as its
 * `transport` option: `plain` (keys swapped in the clear, messages as objects) or `rlpx`
 * (the real RLPx handshake and frames over the in-memory stream). Discovery's datagrams
 * travel the same network, after the same pair latencies.
 * @module
 */
import type { Clock, Timer, VirtualClock } from '../lib/clock.js'
import { publicKeyOf } from '../lib/crypto/index.js'
import type { UdpAddress, UdpTransport } from '../lib/discover/transport.js'
import { DialError, DialTimeoutError } from '../lib/errors.js'
import { seededRandom, type Random } from '../lib/random.js'
import { RLPxConnection, type ByteStream } from '../lib/rlpx/connection.js'
import type { Connection, Listener, Transport, TransportContext, TransportFactory } from '../lib/transport.js'
import { Direction, mix, pairLatency, type LinkModel } from './link.js'
import { PlainChunk, PlainConnection } from './plain-connection.js'
import { MemoryStream, streamPair, type Chunk } from './stream.js'

/** Which connection the transport makes: without crypto (for scale) or the real RLPx. */
export type ConnectionKind = 'plain' | 'rlpx'

/** Counters over the whole network. */
export interface NetworkStats {
  dials: number
  /** Dials that reached an address nobody listens on (a crashed node's). */
  refused: number
  /** Connections a listener accepted. */
  accepted: number
}

/** One simulated machine. */
export interface Host {
  readonly index: number
  readonly ip: string
  /** The virtual clock as seen from this host: its timers die with it. */
  readonly clock: Clock
  /** This host's own seeded randomness, so its draws do not depend on other hosts' order. */
  readonly random: Random
  readonly alive: boolean
}

class SimHost implements Host {
  alive = true
  readonly clock: Clock
  readonly random: Random
  readonly streams = new Set<MemoryStream<Chunk>>()
  /** Per port, what takes a new inbound stream: the listening server's transport wraps it and accepts it. */
  readonly listeners = new Map<number, (stream: MemoryStream<Chunk>) => void>()
  /** Connections dialled to each host so far: numbers each connection's own delays. */
  readonly dialled = new Map<number, number>()

  constructor(
    readonly index: number,
    readonly ip: string,
    shared: VirtualClock,
    seed: number,
  ) {
    this.random = seededRandom(mix(seed, 0x4057, index))
    this.clock = {
      now: () => shared.now(),
      setTimeout: (fn: () => void, ms: number): Timer =>
        shared.setTimeout(() => {
          if (this.alive) fn()
        }, ms),
      clearTimeout: (timer) => shared.clearTimeout(timer),
    }
  }
}

/** IPv4 of host `index`: 10.0.0.1 onwards (a LAN, so servers apply no per-address throttle). */
export function hostIp(index: number): string {
  const n = index + 1
  return `10.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`
}

/** See the module comment. */
export class SimNetwork {
  readonly clock: VirtualClock
  readonly model: LinkModel
  readonly kind: ConnectionKind
  readonly stats: NetworkStats = { dials: 0, refused: 0, accepted: 0 }
  /** Datagrams sent (discovery's), and their bytes. */
  readonly datagrams = { packets: 0, bytes: 0 }
  #seed: number
  #hosts: SimHost[] = []
  #byIp = new Map<string, SimHost>()
  /** Bound datagram sockets by `ip|port`. */
  #udp = new Map<string, SimDatagrams>()

  constructor(init: { clock: VirtualClock; seed: number; model: LinkModel; kind: ConnectionKind }) {
    this.clock = init.clock
    this.#seed = init.seed
    this.model = init.model
    this.kind = init.kind
  }

  /** Host `index`, created on first use. */
  host(index: number): Host {
    let host = this.#hosts[index]
    if (!host) {
      host = new SimHost(index, hostIp(index), this.clock, this.#seed)
      this.#hosts[index] = host
      this.#byIp.set(host.ip, host)
    }
    return host
  }

  /** The transport a server on host `index` uses. */
  transport(index: number): TransportFactory {
    const host = this.host(index) as SimHost
    return (context) => this.#transport(host, context)
  }

  /**
   * The host dies at once: its timers stop, its listeners go (dials to it are refused, as
   * by the kernel of a killed process), and the other end of each of its connections reads
   * a FIN after the link's delay.
   */
  crash(index: number): void {
    const host = this.#hosts[index]
    if (!host || !host.alive) return
    host.alive = false
    host.listeners.clear()
    for (const stream of [...host.streams]) stream.crash()
  }

  #transport(host: SimHost, context: TransportContext): Transport {
    const { privateKey, maxMessageSize, writeTimeout, clock } = context
    const publicKey = publicKeyOf(privateKey)
    const kind = this.kind
    const wrap = (stream: MemoryStream<Chunk>, remotePublicKey?: Buffer): Connection =>
      kind === 'plain'
        ? new PlainConnection({ socket: stream as unknown as MemoryStream<PlainChunk>, publicKey, remotePublicKey, maxMessageSize, clock })
        : new RLPxConnection({ socket: stream as unknown as ByteStream, privateKey, remotePublicKey, handshakeTimeout: 0, maxMessageSize, writeTimeout, clock })
    return {
      listen: async (_host, port, accept): Promise<Listener> => {
        host.listeners.set(port, (stream) => accept(wrap(stream)))
        return {
          port,
          close: async () => {
            host.listeners.delete(port)
          },
        }
      },
      dial: (ip, port, remoteKey, options) => this.#dial(host, ip, port, options, (stream) => wrap(stream, remoteKey)),
      bindUdp: async (_host, port) => this.#bindUdp(host, port),
    }
  }

  #bindUdp(host: SimHost, port: number): UdpTransport {
    const key = `${host.ip}|${port}`
    if (this.#udp.has(key)) throw Object.assign(new Error(`address in use: ${host.ip}:${port} (UDP)`), { code: 'EADDRINUSE' })
    const socket = new SimDatagrams(host, { address: host.ip, port }, (data, to) => this.#sendDatagram(host, socket, data, to), () => this.#udp.delete(key))
    this.#udp.set(key, socket)
    return socket
  }

  /** A datagram arrives after the pair's latency, unless its target is down or unbound; none is lost on the way. */
  #sendDatagram(from: SimHost, socket: SimDatagrams, data: Uint8Array, to: UdpAddress): void {
    this.datagrams.packets++
    this.datagrams.bytes += data.length
    const target = this.#byIp.get(to.address)
    if (!target) return
    const copy = Buffer.from(data)
    this.clock.setTimeout(() => {
      if (target.alive) this.#udp.get(`${to.address}|${to.port}`)?.receive(copy, socket.local)
    }, pairLatency(this.model, this.#seed, from.index, target.index))
  }

  /**
   * A TCP connect: the SYN reaches the target after the pair's latency, which accepts (or
   * refuses) it; the dialler learns the outcome one latency later.
   */
  #dial(
    from: SimHost,
    ip: string,
    port: number,
    { timeout, signal }: { timeout: number; signal: AbortSignal },
    outbound: (stream: MemoryStream<Chunk>) => Connection,
  ): Promise<Connection> {
    this.stats.dials++
    const address = `${ip}:${port}`
    const target = this.#byIp.get(ip)
    return new Promise<Connection>((resolve, reject) => {
      let settled = false
      const done = (err: Error | undefined, conn?: Connection): void => {
        if (settled) return
        settled = true
        from.clock.clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        if (err) reject(err)
        else resolve(conn!)
      }
      const onAbort = (): void => done(signal.reason instanceof Error ? signal.reason : new DialError(address, 'aborted'))
      const timer = from.clock.setTimeout(() => done(new DialTimeoutError(address, timeout)), timeout)
      if (signal.aborted) return onAbort()
      signal.addEventListener('abort', onAbort)
      // An address no host has: nothing answers, the dial times out.
      if (!target) return
      const latency = pairLatency(this.model, this.#seed, from.index, target.index)
      this.clock.setTimeout(() => {
        if (settled || !from.alive) return
        const accept = target.alive ? target.listeners.get(port) : undefined
        if (!accept) {
          this.stats.refused++
          from.clock.setTimeout(() => done(new DialError(address, 'connection refused')), latency)
          return
        }
        const [mine, theirs] = this.#connect(from, target, port)
        this.stats.accepted++
        accept(theirs)
        from.clock.setTimeout(() => {
          if (settled) mine.destroy()
          else done(undefined, outbound(mine))
        }, latency)
      }, latency)
    })
  }

  #connect(from: SimHost, to: SimHost, port: number): [MemoryStream<Chunk>, MemoryStream<Chunk>] {
    const n = from.dialled.get(to.index) ?? 0
    from.dialled.set(to.index, n + 1)
    const base = pairLatency(this.model, this.#seed, from.index, to.index)
    const merge = this.kind === 'plain' ? (chunks: Chunk[]) => PlainChunk.merge(chunks as PlainChunk[]) : (chunks: Chunk[]) => Buffer.concat(chunks as Buffer[])
    const pair: [MemoryStream<Chunk>, MemoryStream<Chunk>] = streamPair<Chunk>({
      clock: this.clock,
      merge,
      ab: new Direction(this.model, base, mix(this.#seed, from.index, to.index, n, 0)),
      ba: new Direction(this.model, base, mix(this.#seed, from.index, to.index, n, 1)),
      addressOfB: [to.ip, port],
      // The dialler's ephemeral port: distinct per connection between the pair.
      addressOfA: [from.ip, 32768 + (n % 28232)],
      onGone: [() => from.streams.delete(pair[0]), () => to.streams.delete(pair[1])],
    })
    from.streams.add(pair[0])
    to.streams.add(pair[1])
    return pair
  }
}

/** A datagram socket on a simulated host; sends go through the network, and stop when the host dies. */
class SimDatagrams implements UdpTransport {
  #handler: ((data: Buffer, from: UdpAddress) => void) | undefined
  #closed = false

  constructor(
    readonly host: SimHost,
    readonly local: UdpAddress,
    readonly sendVia: (data: Uint8Array, to: UdpAddress) => void,
    readonly onClose: () => void,
  ) {}

  send(data: Uint8Array, to: UdpAddress): void {
    if (!this.#closed && this.host.alive) this.sendVia(data, to)
  }

  onMessage(handler: (data: Buffer, from: UdpAddress) => void): void {
    this.#handler = handler
  }

  receive(data: Buffer, from: UdpAddress): void {
    if (!this.#closed) this.#handler?.(data, from)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.onClose()
  }
}
