/**
 * The datagram socket discovery talks through, kept behind a small interface so tests and the
 * simulator can put an in-memory network ({@link MemoryNetwork}) where a real UDP socket
 * ({@link bindUdp}) would be.
 * @module
 */
import { createSocket, type Socket } from 'node:dgram'
import { isIPv6 } from 'node:net'
import type { Clock } from '../clock.js'
import { canonicalIp, isV4 } from './ip.js'

/** An IP address and port. */
export interface UdpAddress {
  /** Canonical IP text (IPv4-mapped IPv6 as IPv4). */
  address: string
  port: number
}

/** A bound datagram socket. */
export interface UdpTransport {
  /** The address the socket is bound to (a wildcard when bound to one). */
  readonly local: UdpAddress
  /** Sends one datagram; failures (unreachable, too large) are dropped, as UDP drops them. */
  send(data: Uint8Array, to: UdpAddress): void
  /** Sets the function every received datagram goes to. */
  onMessage(handler: (data: Buffer, from: UdpAddress) => void): void
  /** Closes the socket; no datagram is delivered afterwards. */
  close(): Promise<void>
}

/**
 * Binds a UDP socket with `node:dgram`. A host of `::` (or `""`) binds dual-stack, `0.0.0.0`
 * IPv4 only; addresses are handed out in canonical form either way.
 * @throws the socket's error (address in use, not available) when binding fails
 */
export async function bindUdp(host: string, port: number): Promise<UdpTransport> {
  const wildcard6 = host === '' || host === '::'
  const v6 = wildcard6 || isIPv6(host)
  const socket = createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: false })
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(port, wildcard6 ? '::' : host, () => {
      socket.off('error', reject)
      resolve()
    })
  })
  return new DgramTransport(socket, v6)
}

class DgramTransport implements UdpTransport {
  readonly local: UdpAddress
  readonly #socket: Socket
  readonly #v6: boolean
  #closed = false

  constructor(socket: Socket, v6: boolean) {
    this.#socket = socket
    this.#v6 = v6
    const a = socket.address()
    this.local = { address: canonicalIp(a.address) ?? a.address, port: a.port }
    // a send to an unreachable port comes back as an ICMP error on some platforms; UDP is lossy anyway
    socket.on('error', () => {})
  }

  send(data: Uint8Array, to: UdpAddress): void {
    if (this.#closed) return
    // a dual-stack socket reaches IPv4 hosts through their mapped address
    const address = this.#v6 && isV4(to.address) ? `::ffff:${to.address}` : to.address
    this.#socket.send(data, to.port, address, () => {})
  }

  onMessage(handler: (data: Buffer, from: UdpAddress) => void): void {
    this.#socket.removeAllListeners('message')
    this.#socket.on('message', (data, rinfo) => {
      const address = canonicalIp(rinfo.address)
      if (address !== undefined) handler(data, { address, port: rinfo.port })
    })
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve()
    this.#closed = true
    return new Promise((resolve) => this.#socket.close(() => resolve()))
  }
}

/** Options of an in-memory network. */
export interface MemoryNetworkOptions {
  /** Delivery delay; 0 delivers in a microtask, so a whole exchange settles within one event-loop turn. */
  latencyMs?: number
  /** The clock delays run on (required for a latency above 0). */
  clock?: Clock
  /** Called for every datagram sent, before delivery; return false to drop it (loss, partitions). */
  filter?: (data: Uint8Array, from: UdpAddress, to: UdpAddress) => boolean
}

/**
 * A lossless in-memory datagram network for tests and simulations: transports bound to
 * `address:port` pairs deliver to each other in order, and the network counts what it carries.
 */
export class MemoryNetwork {
  readonly #sockets = new Map<string, MemoryTransport>()
  readonly #options: MemoryNetworkOptions
  #nextPort = 40000
  /** Datagrams sent on this network. */
  packets = 0
  /** Bytes sent on this network. */
  bytes = 0

  constructor(options: MemoryNetworkOptions = {}) {
    this.#options = options
  }

  /**
   * A transport bound to `address:port` (port 0 picks a free one).
   * @throws {Error} when the address is taken
   */
  bind(address: string, port = 0): UdpTransport {
    const ip = canonicalIp(address)
    if (ip === undefined) throw new Error(`not an IP address: ${address}`)
    let p = port
    if (p === 0) while (this.#sockets.has(`${ip}|${(p = this.#nextPort++)}`));
    const key = `${ip}|${p}`
    if (this.#sockets.has(key)) throw new Error(`address in use: ${ip}:${p}`)
    const t = new MemoryTransport(this, { address: ip, port: p }, () => this.#sockets.delete(key))
    this.#sockets.set(key, t)
    return t
  }

  /** @internal */
  deliver(data: Uint8Array, from: UdpAddress, to: UdpAddress): void {
    this.packets++
    this.bytes += data.length
    if (this.#options.filter && !this.#options.filter(data, from, to)) return
    const copy = Buffer.from(data)
    const run = (): void => this.#sockets.get(`${canonicalIp(to.address) ?? to.address}|${to.port}`)?.receive(copy, from)
    const latency = this.#options.latencyMs ?? 0
    if (latency > 0 && this.#options.clock) this.#options.clock.setTimeout(run, latency)
    else queueMicrotask(run)
  }
}

class MemoryTransport implements UdpTransport {
  readonly local: UdpAddress
  readonly #network: MemoryNetwork
  readonly #release: () => void
  #handler: ((data: Buffer, from: UdpAddress) => void) | undefined
  #closed = false

  constructor(network: MemoryNetwork, local: UdpAddress, release: () => void) {
    this.#network = network
    this.local = local
    this.#release = release
  }

  send(data: Uint8Array, to: UdpAddress): void {
    if (!this.#closed) this.#network.deliver(data, this.local, to)
  }

  onMessage(handler: (data: Buffer, from: UdpAddress) => void): void {
    this.#handler = handler
  }

  receive(data: Buffer, from: UdpAddress): void {
    if (!this.#closed) this.#handler?.(data, from)
  }

  close(): Promise<void> {
    this.#closed = true
    this.#release()
    return Promise.resolve()
  }
}
