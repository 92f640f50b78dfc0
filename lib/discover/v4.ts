/**
 * The discv4 protocol engine: what to do with each packet and how our requests wait for
 * their replies, following go-ethereum's `p2p/discover/v4_udp.go` rule for rule.
 *
 * - Any valid, unexpired Ping is answered with a Pong to the address it came from. When the
 *   sender has not answered one of our pings within 24 h we ping it back, and it enters the
 *   table only once that Pong arrives.
 * - FindNode and ENRRequest are answered only for a node that answered our ping within 24 h
 *   (the endpoint proof): a spoofed source never gets a Neighbours or ENRResponse reply.
 * - Pong, Neighbours and ENRResponse are accepted only as replies to a request we sent, from
 *   the address and node we sent it to, within 500 ms; anything else is "unsolicited".
 * - Before querying a node that has not pinged us within 24 h we ping it, wait for the
 *   Pong, then pause 500 ms so its ping back reaches us first, so it knows us when the
 *   query arrives.
 * - Neighbours replies carry at most 12 nodes; the 16 closest go out in two packets.
 *
 * Everything a remote can grow is bounded: requests in flight, sources rate-limited,
 * node-database entries. Every wait runs on the injected clock.
 * @module
 */
import { RLP } from '@ethereumjs/rlp'
import type { Clock, Timer } from '../clock.js'
import { isValidPublicKey, keccak256 } from '../crypto/index.js'
import { Enr, InvalidEnrError } from '../enr.js'
import { logger, shortId } from '../log.js'
import type { RlpItem } from '../message.js'
import { DiscoveryStateError, DiscPacketError, DiscTimeoutError, InvalidRecordResponseError } from './errors.js'
import type { Netlist } from '../netutil.js'
import { relayIpError } from './ip.js'
import { RateLimiter } from './limiter.js'
import type { LocalNode } from './local-node.js'
import type { NodeDB } from './nodedb.js'
import { makeNode, udpAddress, type NodeInfo } from './node.js'
import type { Table } from './table.js'
import type { UdpAddress, UdpTransport } from './transport.js'
import {
  decodePacket,
  encodePacket,
  expirationFrom,
  isExpired,
  MAX_NEIGHBORS,
  packetName,
  PacketType,
  type Decoded,
  type OutPacket,
  type Packet,
  type WireNode,
} from './wire.js'

const log = logger('devp2p:disc')

/** Timing and bounds of the engine; the defaults are geth's where geth has one. */
export interface V4Limits {
  /** How long a request waits for its reply (ms). @default 500 */
  respTimeout: number
  /** How long an endpoint proof (a Pong) stays valid (ms). @default 86400000 */
  bondExpiration: number
  /** Consecutive empty FindNode answers after which a node is re-pinged, and dropped. @default 5 */
  maxFindnodeFailures: number
  /** Nodes per FindNode answer and lookup result (Kademlia k). @default 16 */
  bucketSize: number
  /** Requests of ours awaiting replies at once. @default 512 */
  maxPending: number
  /** Datagrams accepted per second from one `ip:port` (bursts of twice that). @default 100 */
  packetsPerSecond: number
  /** Datagrams accepted per second from one IP, all ports together (bursts of twice that). @default 1000 */
  ipPacketsPerSecond: number
}

/** geth's timing, plus our bounds. */
export const V4_DEFAULTS: V4Limits = {
  respTimeout: 500,
  bondExpiration: 24 * 60 * 60 * 1000,
  maxFindnodeFailures: 5,
  bucketSize: 16,
  maxPending: 512,
  packetsPerSecond: 100,
  ipPacketsPerSecond: 1000,
}

/** Counters of the engine's traffic, for tests, benchmarks and the README's numbers. */
export interface DiscStats {
  /** Datagrams and bytes sent, by packet name. */
  sent: Record<string, number>
  bytesSent: number
  /** Datagrams and bytes received (all, before any check). */
  received: number
  bytesReceived: number
  /** Dropped datagrams by reason. */
  dropped: Record<string, number>
}

/** What the engine needs from its owner. */
export interface V4Deps {
  privateKey: Uint8Array
  transport: UdpTransport
  clock: Clock
  db: NodeDB
  table: Table
  local: LocalNode
  /** Only nodes inside these networks are taken from Neighbours replies. */
  netrestrict?: Netlist
  /** Whether the table's first refresh has finished: geth adds pinging nodes only after it. */
  tableReady: () => boolean
  limits?: Partial<V4Limits>
}

/** A request awaiting its reply. */
interface Matcher {
  type: number
  ip: string
  port: number
  /** The node we asked; undefined when we only know its address (resolveAddress). */
  id: string | undefined
  /** Called with each candidate reply; returns whether it matched and whether the request is done. */
  onReply(d: Decoded): { matched: boolean; done: boolean }
  resolve(): void
  reject(err: Error): void
  timer: Timer
  /** A reply matched at least once. */
  answered: boolean
}

/** What a Pong told us. */
export interface PongResult {
  /** The answering node's public key. */
  publicKey: Buffer
  /** Its node id. */
  id: string
  /** Its record's seq, if it sent one. */
  enrSeq: bigint | undefined
  /** Where it saw us. */
  to: { ip: string | undefined; udp: number }
}

/** See the module comment. */
export class UDPv4 {
  /** Our node id (hex). */
  readonly id: string
  readonly idBytes: Buffer
  readonly stats: DiscStats = { sent: {}, bytesSent: 0, received: 0, bytesReceived: 0, dropped: {} }
  readonly limits: V4Limits
  readonly #d: V4Deps
  readonly #pending = new Set<Matcher>()
  readonly #sleeps = new Set<{ timer: Timer; resolve: () => void }>()
  readonly #limiter: RateLimiter
  readonly #ipLimiter: RateLimiter
  #closed = false

  constructor(deps: V4Deps) {
    this.#d = deps
    this.limits = { ...V4_DEFAULTS, ...deps.limits }
    this.idBytes = keccak256(deps.local.publicKey)
    this.id = this.idBytes.toString('hex')
    this.#limiter = new RateLimiter({ clock: deps.clock, rate: this.limits.packetsPerSecond, burst: 2 * this.limits.packetsPerSecond })
    this.#ipLimiter = new RateLimiter({ clock: deps.clock, rate: this.limits.ipPacketsPerSecond, burst: 2 * this.limits.ipPacketsPerSecond })
    deps.transport.onMessage((data, from) => this.handle(data, from))
  }

  /** Requests awaiting replies now. */
  get pendingCount(): number {
    return this.#pending.size
  }

  /** Sources (`ip:port` and IP) the flood limiters track now. */
  get trackedSources(): number {
    return this.#limiter.size + this.#ipLimiter.size
  }

  /** Fails every request in flight and ignores all later input. */
  close(): void {
    this.#closed = true
    for (const m of [...this.#pending]) this.#finish(m, new DiscoveryStateError('discovery stopped'))
    for (const s of [...this.#sleeps]) {
      this.#d.clock.clearTimeout(s.timer)
      s.resolve()
    }
    this.#sleeps.clear()
  }

  // ---- requests -------------------------------------------------------------------------

  /**
   * Pings `node` and waits for its Pong; on success the node has proved its endpoint to us.
   * @throws {DiscTimeoutError} when no Pong arrives in time
   */
  async ping(node: NodeInfo): Promise<PongResult> {
    return this.#ping({ address: node.ip, port: node.udp }, node.id)
  }

  /**
   * Pings an address whose node we do not know; the Pong's signature tells who answered.
   * @throws {DiscTimeoutError} when nothing answers in time
   */
  pingAddress(to: UdpAddress): Promise<PongResult> {
    return this.#ping(to, undefined)
  }

  /**
   * Asks `node` for the nodes closest to keccak256(`targetKey`), after making sure it knows
   * us. Resolves with the nodes of every Neighbours packet that arrived (a timeout after at
   * least one reply is a small table, not a failure).
   * @throws {DiscTimeoutError} when no Neighbours packet arrives
   */
  async findnode(node: NodeInfo, targetKey: Buffer): Promise<NodeInfo[]> {
    await this.#ensureBond(node)
    const sender = node.ip
    const nodes: NodeInfo[] = []
    let received = 0
    const done = this.#expect(PacketType.Neighbors, { address: node.ip, port: node.udp }, node.id, (d) => {
      if (d.packet.type !== PacketType.Neighbors) return { matched: false, done: false }
      for (const wn of d.packet.nodes) {
        received++
        const n = this.#nodeFromWire(sender, wn)
        if (n) nodes.push(n)
      }
      return { matched: true, done: received >= this.limits.bucketSize }
    })
    this.#send({ type: PacketType.FindNode, target: targetKey, expiration: this.#expiration() }, { address: node.ip, port: node.udp }, node.id)
    try {
      await done.promise
    } catch (err) {
      if (!(err instanceof DiscTimeoutError) || !done.matcher.answered) throw err
    }
    return nodes
  }

  /**
   * Asks `node` for its current record (EIP-868), after making sure it knows us.
   * @throws {DiscTimeoutError} when it does not answer
   * @throws {InvalidRecordResponseError} when the record is invalid, someone else's, or its
   *   address is one the sender may not point us to
   */
  async requestENR(node: NodeInfo): Promise<Enr> {
    await this.#ensureBond(node)
    const to = { address: node.ip, port: node.udp }
    const { bytes, hash } = encodePacket({ type: PacketType.ENRRequest, expiration: this.#expiration() }, this.#d.privateKey)
    let record: RlpItem[] | undefined
    const done = this.#expect(PacketType.ENRResponse, to, node.id, (d) => {
      if (d.packet.type !== PacketType.ENRResponse || !d.packet.replyTok.equals(hash)) return { matched: false, done: false }
      record = d.packet.record
      return { matched: true, done: true }
    })
    this.#write(bytes, PacketType.ENRRequest, to, node.id)
    await done.promise
    let enr: Enr
    try {
      enr = Enr.fromItem(record!)
    } catch (err) {
      throw new InvalidRecordResponseError(`${shortId(node.id)} sent an invalid record: ${(err as InvalidEnrError).message}`, { cause: err })
    }
    if (enr.id !== node.id) throw new InvalidRecordResponseError(`${shortId(node.id)} sent the record of another node (${shortId(enr.id)})`)
    if (node.record && enr.seq < node.record.seq) return node.record
    const ip = enr.ip ?? enr.ip6
    const bad = ip === undefined ? undefined : relayIpError(node.ip, ip)
    if (bad) throw new InvalidRecordResponseError(`${shortId(node.id)} sent a record with an unusable IP ${ip}: ${bad}`)
    return enr
  }

  /**
   * One lookup query as geth runs it: FindNode, count consecutive failures (dropping a node
   * that failed 5 times from a bucket of at least 8), and offer every node found to the table.
   * Never throws: a failed query returns no nodes.
   */
  async query(node: NodeInfo, targetKey: Buffer): Promise<NodeInfo[]> {
    const { db, table } = this.#d
    let fails = db.findFails(node.id, node.ip)
    let found: NodeInfo[] = []
    try {
      found = await this.findnode(node, targetKey)
    } catch (err) {
      if (this.#closed) return []
      log('FINDNODE to %s failed: %s', shortId(node.id), (err as Error).message)
    }
    if (found.length === 0) {
      fails++
      db.updateFindFails(node.id, node.ip, fails)
      if (fails >= this.limits.maxFindnodeFailures && table.bucketEntries(table.bucketIndex(node.idBytes)).length >= this.limits.bucketSize / 2) {
        table.delete(node.id)
      }
    } else if (fails > 0) {
      db.updateFindFails(node.id, node.ip, 0)
    }
    const now = this.#d.clock.now()
    for (const n of found) table.addSeenNode(n, now)
    return found
  }

  // ---- packet handling ------------------------------------------------------------------

  /** Handles one datagram from `from`; never throws, whatever the bytes. */
  handle(data: Buffer, from: UdpAddress): void {
    this.stats.received++
    this.stats.bytesReceived += data.length
    if (this.#closed) return
    // a source over its rate costs no signature check and gets nothing back
    if (!this.#ipLimiter.take(from.address) || !this.#limiter.take(`${from.address}|${from.port}`)) return this.#drop('rate-limited')
    let d: Decoded
    try {
      d = decodePacket(data)
    } catch (err) {
      log('bad packet from %s: %s', udpAddress({ ip: from.address, udp: from.port }), (err as DiscPacketError).message)
      return this.#drop('bad-packet')
    }
    if (d.id === this.id) return this.#drop('from-self')
    const p = d.packet
    const now = this.#d.clock.now()
    if ('expiration' in p && isExpired(p.expiration, now)) {
      log('<< %s %s from %s: expired', packetName(p.type), shortId(d.id), from.address)
      return this.#drop('expired')
    }
    switch (p.type) {
      case PacketType.Ping:
        return this.#onPing(d, p, from)
      case PacketType.Pong:
        if (!this.#dispatchReply(d, from)) return this.#unsolicited(d, from)
        this.#d.local.endpointStatement(from.address, p.to.ip, p.to.udp)
        this.#d.db.updateLastPongReceived(makeNode(d.publicKey, from.address, from.port, this.#knownTcp(d.id)), now)
        return
      case PacketType.FindNode:
        if (!this.#bonded(d.id, from.address)) return this.#unknown(d, from)
        return this.#onFindNode(d, p.target, from)
      case PacketType.ENRRequest:
        if (!this.#bonded(d.id, from.address)) return this.#unknown(d, from)
        log('<< ENRREQUEST/v4 %s from %s', shortId(d.id), from.address)
        this.#send({ type: PacketType.ENRResponse, replyTok: d.hash, record: RLP.decode(this.#d.local.record.encode()) as RlpItem[] }, from, d.id)
        return
      case PacketType.Neighbors:
      case PacketType.ENRResponse:
        if (!this.#dispatchReply(d, from)) this.#unsolicited(d, from)
    }
  }

  #onPing(d: Decoded, p: Extract<Packet, { type: 1 }>, from: UdpAddress): void {
    const { clock, db, table } = this.#d
    const now = clock.now()
    log('<< PING/v4 %s from %s', shortId(d.id), from.address)
    this.#send(
      { type: PacketType.Pong, to: { ip: from.address, udp: from.port, tcp: p.from.tcp }, replyTok: d.hash, expiration: this.#expiration(), enrSeq: this.#d.local.record.seq },
      from,
      d.id,
    )
    // geth's facts about the sender come from the packet, not its claims: the UDP source, and the TCP port it names
    const node = makeNode(d.publicKey, from.address, from.port, p.from.tcp)
    const addVerified = (): void => {
      if (this.#d.tableReady()) table.addVerifiedNode(node, clock.now())
    }
    if (now - db.lastPongReceived(d.id, from.address) > this.limits.bondExpiration) {
      const already = [...this.#pending].some((m) => m.type === PacketType.Pong && m.id === d.id)
      if (!already && this.#pending.size < this.limits.maxPending) {
        this.#ping(from, d.id).then(addVerified, () => {})
      }
    } else {
      addVerified()
    }
    db.updateLastPingReceived(node, now)
  }

  #onFindNode(d: Decoded, target: Buffer, from: UdpAddress): void {
    log('<< FINDNODE/v4 %s from %s', shortId(d.id), from.address)
    const closest = this.#d.table.closest(keccak256(target), this.limits.bucketSize, true)
    const nodes: WireNode[] = closest
      .filter((n) => relayIpError(from.address, n.ip) === undefined)
      .map((n) => ({ ip: n.ip, udp: n.udp, tcp: n.tcp, publicKey: n.publicKey }))
    const expiration = this.#expiration()
    // always at least one packet, even an empty one, so the asker learns we have nothing
    for (let i = 0; i === 0 || i < nodes.length; i += MAX_NEIGHBORS) {
      this.#send({ type: PacketType.Neighbors, nodes: nodes.slice(i, i + MAX_NEIGHBORS), expiration }, from, d.id)
    }
  }

  /** Offers a reply to the requests awaiting one from its sender; true when one accepted it. */
  #dispatchReply(d: Decoded, from: UdpAddress): boolean {
    let matched = false
    for (const m of [...this.#pending]) {
      if (m.type !== d.packet.type || m.ip !== from.address || m.port !== from.port) continue
      if (m.id !== undefined && m.id !== d.id) continue
      const r = m.onReply(d)
      if (!r.matched) continue
      matched = true
      m.answered = true
      if (r.done) this.#finish(m)
    }
    return matched
  }

  #bonded(id: string, ip: string): boolean {
    return this.#d.clock.now() - this.#d.db.lastPongReceived(id, ip) < this.limits.bondExpiration
  }

  /** The TCP port the table or database knows for `id`, 0 if none (a Pong does not carry it). */
  #knownTcp(id: string): number {
    return this.#d.table.get(id)?.node.tcp ?? this.#d.db.node(id)?.tcp ?? 0
  }

  /**
   * A node from a Neighbours entry, or undefined when geth would refuse it: a port ≤ 1024, an
   * address the sender may not point us to, one outside netrestrict, a key off the curve.
   */
  #nodeFromWire(sender: string, wn: WireNode): NodeInfo | undefined {
    const why =
      wn.ip === undefined ? 'no IP'
      : wn.udp <= 1024 ? 'low port'
      : relayIpError(sender, wn.ip) ?? (this.#d.netrestrict && !this.#d.netrestrict.contains(wn.ip) ? 'not contained in netrestrict list' : undefined) ?? (isValidPublicKey(wn.publicKey) ? undefined : 'invalid curve point')
    if (why !== undefined) {
      log('invalid neighbor node %s from %s: %s', wn.ip, sender, why)
      return undefined
    }
    const node = makeNode(wn.publicKey, wn.ip!, wn.udp, wn.tcp)
    return node.id === this.id ? undefined : node
  }

  // ---- plumbing -------------------------------------------------------------------------

  async #ping(to: UdpAddress, id: string | undefined): Promise<PongResult> {
    const local = this.#d.local
    const e = local.endpoint
    const { bytes, hash } = encodePacket(
      {
        type: PacketType.Ping,
        version: 4n,
        from: { ip: e.ip, udp: e.udp, tcp: e.tcp },
        to: { ip: to.address, udp: to.port, tcp: 0 },
        expiration: this.#expiration(),
        enrSeq: local.record.seq,
      },
      this.#d.privateKey,
    )
    let result: PongResult | undefined
    const done = this.#expect(PacketType.Pong, to, id, (d) => {
      if (d.packet.type !== PacketType.Pong || !d.packet.replyTok.equals(hash)) return { matched: false, done: false }
      result = { publicKey: d.publicKey, id: d.id, enrSeq: d.packet.enrSeq, to: { ip: d.packet.to.ip, udp: d.packet.to.udp } }
      return { matched: true, done: true }
    })
    this.#write(bytes, PacketType.Ping, to, id)
    await done.promise
    return result!
  }

  /** Registers a request awaiting a reply of `type` from `to` (and node `id` when known). */
  #expect(type: number, to: UdpAddress, id: string | undefined, onReply: Matcher['onReply']): { promise: Promise<void>; matcher: Matcher } {
    if (this.#closed) throw new DiscoveryStateError('discovery is stopped')
    if (this.#pending.size >= this.limits.maxPending) {
      throw new DiscoveryStateError(`too many discovery requests in flight (${this.limits.maxPending}); try again shortly`)
    }
    let matcher!: Matcher
    const promise = new Promise<void>((resolve, reject) => {
      const timeout = this.limits.respTimeout
      matcher = {
        type,
        ip: to.address,
        port: to.port,
        id,
        onReply,
        resolve,
        reject,
        answered: false,
        timer: this.#d.clock.setTimeout(() => this.#finish(matcher, new DiscTimeoutError(`${packetName(type)} from ${udpAddress({ ip: to.address, udp: to.port })}`, timeout)), timeout),
      }
      matcher.timer.unref()
    })
    this.#pending.add(matcher)
    return { promise, matcher }
  }

  #finish(m: Matcher, err?: Error): void {
    if (!this.#pending.delete(m)) return
    this.#d.clock.clearTimeout(m.timer)
    if (err) m.reject(err)
    else m.resolve()
  }

  /** Pings `node` first unless it pinged us within the bond period (and answers our queries). */
  async #ensureBond(node: NodeInfo): Promise<void> {
    const { db, clock } = this.#d
    const tooOld = clock.now() - db.lastPingReceived(node.id, node.ip) > this.limits.bondExpiration
    if (!tooOld && db.findFails(node.id, node.ip) <= this.limits.maxFindnodeFailures) return
    try {
      await this.ping(node)
    } catch (err) {
      if (this.#closed) throw err
    }
    // give its ping back time to reach us, so it has our Pong when the query arrives
    await this.#sleep(this.limits.respTimeout)
    if (this.#closed) throw new DiscoveryStateError('discovery stopped')
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        resolve,
        timer: this.#d.clock.setTimeout(() => {
          this.#sleeps.delete(entry)
          resolve()
        }, ms),
      }
      entry.timer.unref()
      this.#sleeps.add(entry)
    })
  }

  #expiration(): number {
    return expirationFrom(this.#d.clock.now())
  }

  #send(packet: OutPacket, to: UdpAddress, id: string | undefined): void {
    this.#write(encodePacket(packet, this.#d.privateKey).bytes, packet.type, to, id)
  }

  #write(bytes: Buffer, type: number, to: UdpAddress, id: string | undefined): void {
    if (this.#closed) return
    const name = packetName(type)
    this.stats.sent[name] = (this.stats.sent[name] ?? 0) + 1
    this.stats.bytesSent += bytes.length
    log('>> %s %s to %s', name, id ? shortId(id) : '?', udpAddress({ ip: to.address, udp: to.port }))
    this.#d.transport.send(bytes, to)
  }

  #drop(reason: string): void {
    this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + 1
  }

  #unsolicited(d: Decoded, from: UdpAddress): void {
    log('<< %s %s from %s: unsolicited reply', packetName(d.packet.type), shortId(d.id), from.address)
    this.#drop('unsolicited')
  }

  #unknown(d: Decoded, from: UdpAddress): void {
    log('<< %s %s from %s: unknown node (no endpoint proof)', packetName(d.packet.type), shortId(d.id), from.address)
    this.#drop('unknown-node')
  }
}

