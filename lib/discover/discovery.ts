/**
 * Node discovery (discv4) as one object: a UDP socket, the protocol engine, the node table
 * kept fresh by lookups and revalidation, the node database, and our own signed record.
 * The server's dialer takes candidates from it; users can ask it for a node's record or for
 * the identity behind a bare `host:port`.
 *
 * @example
 * ```ts
 * const disc = new Discovery({ privateKey, bind: { host: '0.0.0.0', port: 30303 }, tcpPort: 30303,
 *                              bootnodes: ['enode://…@10.0.0.1:30303'], dataDir: '.chat' })
 * await disc.start()
 * for await (const node of disc.nodes()) dial(node)        // random walk, like geth's RandomNodes
 * const found = await disc.resolveAddress('10.0.0.7', 30303) // the key behind an address
 * ```
 * @module
 */
import { lookup as dnsLookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { systemClock, type Clock, type Timer } from '../clock.js'
import { isValidPrivateKey, publicKeyOf } from '../crypto/index.js'
import type { Enr } from '../enr.js'
import { formatEnode, parseEnode, type Enode } from '../enode.js'
import { InvalidOptionError } from '../errors.js'
import { TypedEvents } from '../events.js'
import { logger, shortId } from '../log.js'
import type { Random } from '../random.js'
import { advertisedIp, type AdvertisedAddress } from './address.js'
import { DiscoveryStateError, DiscTimeoutError, IdentityChangedError, NoDiscoveryError } from './errors.js'
import { Netlist } from '../netutil.js'
import { canonicalIp } from './ip.js'
import { LocalNode } from './local-node.js'
import { Lookup } from './lookup.js'
import { NodeDB } from './nodedb.js'
import { makeNode, seqOf, toEnode, udpAddress, type NodeInfo } from './node.js'
import { Table, type TableEntry, type TableLimits } from './table.js'
import { bindUdp, type UdpTransport } from './transport.js'
import { UDPv4, type DiscStats, type PongResult, type V4Limits } from './v4.js'

const log = logger('devp2p:disc')

/** Options of {@link Discovery}. */
export interface DiscoveryOptions {
  /** The node key (32 bytes); the same as the server's. */
  privateKey: Uint8Array
  /** Where the UDP socket listens. @default { host: '0.0.0.0', port: 0 } */
  bind?: { host?: string; port?: number }
  /** The RLPx port advertised in our record and Pings; 0 = we accept no connections. @default the UDP port */
  tcpPort?: number
  /** Nodes to start from: `enode://` URLs, `enr:` records, or parsed {@link Enode}s (with a host and UDP port). */
  bootnodes?: (string | Enode)[]
  /** Directory of the node database (created if missing); without it nothing survives a restart. */
  dataDir?: string
  /** Only nodes inside these CIDR networks are taken from other nodes' answers. */
  netrestrict?: string | string[] | Netlist
  /** The IP to advertise, whatever peers report (a NAT's public address). */
  extip?: string
  /** A socket to use instead of binding one (tests, the simulator). */
  transport?: UdpTransport
  /** @default systemClock */
  clock?: Clock
  /** @default Math.random */
  random?: Random
  /** Mean time between table refreshes (ms); each waits a random 50–100 % of it. @default 1800000 */
  refreshInterval?: number
  /** Revalidation pings one table node at a random point within every this many ms. @default 10000 */
  revalidateInterval?: number
  /** Distinct peers that must agree on our address before we advertise it. @default 2 */
  ipStatements?: number
  /** Engine timing and bounds (geth's by default). */
  limits?: Partial<V4Limits>
  /** Table sizes (geth's by default). */
  tableLimits?: Partial<TableLimits>
  /**
   * Told what the user should know: an unreadable database moved aside, no address but
   * 127.0.0.1 to advertise. @default process.emitWarning
   */
  onWarning?: (message: string) => void
}

/** Events on `discovery.events`. */
export interface DiscoveryEvents {
  /** A node entered the table. */
  'node:added': (node: NodeInfo) => void
  /** A node left the table (dead, or replaced). */
  'node:removed': (node: NodeInfo) => void
  /** Our record was re-signed: the endpoint changed (seq is one higher). */
  record: (record: Enr) => void
}

/** What {@link Discovery.resolveAddress} learned about a `host:port`. */
export interface ResolvedAddress {
  /** The node, as an enode (with its record when it sent one). */
  enode: Enode
  /** Whether the id was learned just now or matched the one remembered for this address. */
  trust: 'first-use' | 'known'
  /** Where the TCP port came from: the node's record, or assumed equal to the UDP port. */
  tcpPortSource: 'record' | 'assumed'
}

/** What {@link Discovery.dialCandidates} returns: the shape of the dialer's `CandidateSource`, plus `close`. */
export interface DialCandidates {
  /** A node worth dialling, or undefined when none is queued right now. */
  next(): Enode | undefined
  /** Ends the background walk. */
  close(): void
}

/** What {@link Discovery.sizes} reports. */
export interface DiscoverySizes {
  /** Live table entries (at most 17 × 16). */
  table: number
  /** Our requests awaiting replies (at most `limits.maxPending`). */
  pendingRequests: number
  /** Sources the flood limiters track (at most 1024 `ip:port` and 1024 IPs). */
  trackedSources: number
  /** Nodes in the database that answered a ping (at most 1000). */
  dbNodes: number
  /** Nodes in the database that only pinged (at most 1000). */
  dbUnproven: number
}

/** A table entry as {@link Discovery.tableEntries} reports it. */
export type TableSnapshot = Readonly<TableEntry>

const SEED_COUNT = 30
const SEED_MAX_AGE = 5 * 24 * 60 * 60 * 1000
const LOOKUP_MIN_INTERVAL = 1000
const RESOLVE_ATTEMPTS = 3
const MAX_TIMER = 2 ** 31 - 1

/** See the module comment. */
export class Discovery {
  /** Typed events: `node:added`, `node:removed`, `record`. */
  readonly events = new TypedEvents<DiscoveryEvents>()
  /** Our 64-byte public key. */
  readonly publicKey: Buffer
  /** Our node id (hex). */
  readonly id: string
  readonly #opts: DiscoveryOptions
  readonly #clock: Clock
  readonly #random: Random
  readonly #netrestrict: Netlist | undefined
  #state: 'new' | 'starting' | 'running' | 'stopped' = 'new'
  #transport!: UdpTransport
  #db!: NodeDB
  #local!: LocalNode
  #table!: Table
  #v4!: UDPv4
  #bootnodes: NodeInfo[] = []
  #advertised!: AdvertisedAddress
  #tableReady = false
  #refreshing: Promise<void> | undefined
  readonly #timers = new Set<Timer>()
  readonly #wakers = new Set<() => void>()
  readonly #lookups = new Set<Lookup>()

  constructor(options: DiscoveryOptions) {
    if (!isValidPrivateKey(options.privateKey)) throw new InvalidOptionError('privateKey', 'must be a valid 32-byte secp256k1 private key')
    const port = options.bind?.port ?? 0
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new InvalidOptionError('bind.port', `must be 0..65535, got ${port}`)
    if (options.tcpPort !== undefined && (!Number.isInteger(options.tcpPort) || options.tcpPort < 0 || options.tcpPort > 0xffff)) {
      throw new InvalidOptionError('tcpPort', `must be 0..65535, got ${options.tcpPort}`)
    }
    if (options.extip !== undefined && canonicalIp(options.extip) === undefined) throw new InvalidOptionError('extip', `must be an IP address, got ${JSON.stringify(options.extip)}`)
    this.#opts = options
    this.#clock = options.clock ?? systemClock
    this.#random = options.random ?? Math.random
    const nr = options.netrestrict
    this.#netrestrict = nr === undefined || nr instanceof Netlist ? nr : new Netlist(typeof nr === 'string' ? nr.split(',').map((s) => s.trim()).filter(Boolean) : nr)
    this.publicKey = publicKeyOf(options.privateKey)
    this.id = makeNode(this.publicKey, '0.0.0.0', 0, 0).id
  }

  /**
   * Binds the socket, opens the node database, signs our record and starts the first table
   * refresh (from stored nodes and bootnodes) in the background.
   * @throws {InvalidOptionError} for a bootnode without a UDP address
   * @throws the socket's error when the address cannot be bound
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new DiscoveryStateError('discovery can be started once; make a new one')
    this.#state = 'starting'
    const o = this.#opts
    let db: NodeDB | undefined
    let transport: UdpTransport | undefined
    try {
      this.#bootnodes = await resolveBootnodes(o.bootnodes ?? [])
      db = await NodeDB.open(o.dataDir, { clock: this.#clock, onWarning: (m) => this.#warn(m) })
      transport = o.transport ?? (await bindUdp(o.bind?.host ?? '0.0.0.0', o.bind?.port ?? 0))
      if (this.#state !== 'starting') throw new DiscoveryStateError('discovery was stopped while starting')
    } catch (err) {
      this.#state = 'stopped'
      await transport?.close()
      await db?.close()
      throw err
    }
    this.#db = db
    this.#transport = transport
    this.#advertised = advertisedIp(transport.local.address, o.extip)
    if (this.#advertised.warning) this.#warn(this.#advertised.warning)
    const udp = this.#transport.local.port
    this.#local = new LocalNode({
      privateKey: o.privateKey,
      clock: this.#clock,
      ...(this.#db.localSeq !== undefined && { storedSeq: this.#db.localSeq }),
      fallbackIp: this.#advertised.ip,
      ...(o.extip !== undefined && { staticIp: o.extip }),
      udp,
      tcp: o.tcpPort ?? udp,
      minStatements: o.ipStatements ?? 2,
      onRecord: (r) => this.#recordChanged(r),
    })
    this.#db.setLocalSeq(this.#local.record.seq)
    this.#table = new Table(Buffer.from(this.id, 'hex'), this.#random, o.tableLimits, {
      added: (e) => this.events.emit('node:added', e.node),
      removed: (e) => this.events.emit('node:removed', e.node),
    })
    this.#v4 = new UDPv4({
      privateKey: o.privateKey,
      transport: this.#transport,
      clock: this.#clock,
      db: this.#db,
      table: this.#table,
      local: this.#local,
      ...(this.#netrestrict && { netrestrict: this.#netrestrict }),
      tableReady: () => this.#tableReady,
      ...(o.limits && { limits: o.limits }),
    })
    this.#state = 'running'
    log('%s listening on %s, advertising %s (%s)', shortId(this.id), udpAddress({ ip: this.#transport.local.address, udp }), this.#advertised.ip, this.#advertised.source)
    void this.refresh().then(() => {
      this.#tableReady = true
    })
    this.#scheduleRefresh()
    this.#scheduleRevalidation()
  }

  /** Stops timers and lookups, fails requests in flight, closes the socket and writes the database. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return
    const wasRunning = this.#state === 'running'
    this.#state = 'stopped'
    for (const t of this.#timers) this.#clock.clearTimeout(t)
    this.#timers.clear()
    for (const l of this.#lookups) l.cancel()
    for (const wake of [...this.#wakers]) wake()
    if (!wasRunning) return
    this.#v4.close()
    await this.#transport.close()
    await this.#db.close()
  }

  /** Our current signed record. */
  get localRecord(): Enr {
    return this.#running().#local.record
  }

  /** Our enode URL as advertised (advertised IP, TCP port, `?discport=` when UDP differs). */
  get enode(): string {
    const { ip, udp, tcp } = this.#running().#local.endpoint
    return formatEnode({ publicKey: this.publicKey, host: ip, tcpPort: tcp, udpPort: udp })
  }

  /** The address the UDP socket is bound to. */
  get address(): { address: string; port: number } {
    return this.#running().#transport.local
  }

  /** How the advertised IP was chosen at start (and a warning if it is a poor choice). */
  get advertised(): AdvertisedAddress {
    return this.#running().#advertised
  }

  /** Traffic counters. */
  get stats(): DiscStats {
    return this.#running().#v4.stats
  }

  /** How full every bounded structure is: for monitoring, and for tests that check the bounds hold. */
  get sizes(): DiscoverySizes {
    const self = this.#running()
    return {
      table: self.#table.size,
      pendingRequests: self.#v4.pendingCount,
      trackedSources: self.#v4.trackedSources,
      dbNodes: self.#db.size,
      dbUnproven: self.#db.unprovenSize,
    }
  }

  /** Nodes in the table. */
  get tableSize(): number {
    return this.#running().#table.size
  }

  /** Every table entry (live lists, not replacements), with its liveness checks. */
  tableEntries(): TableSnapshot[] {
    return this.#running().#table.entries().map((e) => ({ ...e }))
  }

  /** The node database (known nodes, learned addresses). */
  get db(): NodeDB {
    return this.#running().#db
  }

  /**
   * Changes what we advertise: the TCP port (once the server listens), a new fallback IP.
   * Re-signs our record (seq + 1) when it changes.
   */
  setEndpoint(change: { tcpPort?: number; ip?: string }): void {
    if (change.ip !== undefined && canonicalIp(change.ip) === undefined) throw new InvalidOptionError('ip', `must be an IP address, got ${JSON.stringify(change.ip)}`)
    this.#running().#local.setEndpoint({
      ...(change.tcpPort !== undefined && { tcp: change.tcpPort }),
      ...(change.ip !== undefined && { fallbackIp: canonicalIp(change.ip)! }),
    })
  }

  /**
   * Up to `n` table nodes to dial, in random order, those that answered a revalidation ping
   * first; only nodes with a TCP port. Synchronous (like geth's `ReadRandomNodes`).
   */
  candidates(n: number): NodeInfo[] {
    const entries = this.#running().#table.entries().filter((e) => e.node.tcp > 0)
    const shuffled = this.#table.randomNodes(Number.MAX_SAFE_INTEGER)
    const order = new Map(shuffled.map((node, i) => [node.id, i]))
    entries.sort((a, b) => Number(b.livenessChecks > 0) - Number(a.livenessChecks > 0) || order.get(a.node.id)! - order.get(b.node.id)!)
    return entries.slice(0, n).map((e) => e.node)
  }

  /**
   * An endless random walk over the network (geth's `RandomNodes`): lookups for random
   * targets, at most one per second, yielding every dialable node they see. Ends when
   * discovery stops or the consumer breaks out.
   */
  async *nodes(): AsyncGenerator<NodeInfo, void, undefined> {
    this.#running()
    let last = -Infinity
    while (this.#state === 'running') {
      const wait = last + LOOKUP_MIN_INTERVAL - this.#clock.now()
      if (wait > 0) await this.#sleep(wait)
      if (this.#state !== 'running') return
      last = this.#clock.now()
      if (this.#table.size === 0) {
        await this.refresh()
        continue
      }
      const queue: NodeInfo[] = []
      let wake: (() => void) | undefined
      let done = false
      const lookup = this.#newLookup(this.#randomTarget(), (nodes) => {
        queue.push(...nodes.filter((n) => n.tcp > 0))
        wake?.()
      })
      void this.#runLookup(lookup).then(() => {
        done = true
        wake?.()
      })
      try {
        for (;;) {
          while (queue.length > 0) yield queue.shift()!
          if (done || this.#state !== 'running') break
          await new Promise<void>((resolve) => {
            wake = resolve
            this.#wakers.add(resolve)
          })
          this.#wakers.delete(wake!)
          wake = undefined
        }
      } finally {
        lookup.cancel()
      }
    }
  }

  /**
   * A source of dial candidates for the server's dialer (its `CandidateSource`): a random walk
   * ({@link nodes}) runs in the background and fills a small queue; `next()` takes from it
   * without waiting and returns undefined when it is empty. The walk pauses while the queue
   * is full, so an idle dialer costs no lookups. `close()` ends the walk.
   */
  dialCandidates(queueSize = 32): DialCandidates {
    this.#running()
    const queue: Enode[] = []
    let resume: (() => void) | undefined
    let closed = false
    const walk = this.nodes()
    void (async () => {
      for await (const node of walk) {
        if (closed) break
        // successive lookups see the same nodes; one queued copy is enough
        if (!queue.some((e) => e.id === node.id)) queue.push(toEnode(node))
        if (queue.length >= queueSize) await new Promise<void>((r) => (resume = r))
      }
    })()
    return {
      next: () => {
        const node = queue.shift()
        resume?.()
        resume = undefined
        return node
      },
      close: () => {
        closed = true
        resume?.()
        void walk.return()
      },
    }
  }

  /**
   * One lookup for the nodes closest to `targetKey` (a 64-byte public key; random when
   * omitted). Runs a refresh first when the table is empty.
   */
  async lookup(targetKey?: Buffer): Promise<NodeInfo[]> {
    this.#running()
    if (this.#table.size === 0) await this.refresh()
    return this.#runLookup(this.#newLookup(targetKey ?? this.#randomTarget()))
  }

  /**
   * Refills the table: stored nodes and bootnodes first, then a lookup for our own id and
   * three for random targets (geth's `doRefresh`). Concurrent calls share one refresh.
   */
  refresh(): Promise<void> {
    this.#running()
    this.#refreshing ??= this.#doRefresh().finally(() => {
      this.#refreshing = undefined
    })
    return this.#refreshing
  }

  /**
   * Pings a node and waits for its Pong.
   * @throws {DiscTimeoutError} when it does not answer
   */
  ping(node: NodeInfo | Enode | string): Promise<PongResult> {
    return this.#running().#v4.ping(this.#toNode(node))
  }

  /**
   * Asks a node for its current record (pinging it first if it does not know us).
   * @throws {DiscTimeoutError} when it does not answer
   * @throws {InvalidRecordResponseError} when its answer is not a valid record of its own
   */
  async requestENR(node: NodeInfo | Enode | string): Promise<Enr> {
    const n = this.#running().#toNode(node)
    const record = await this.#v4.requestENR(n)
    if (record !== n.record) {
      const updated = makeNode(n.publicKey, n.ip, n.udp, record.tcp ?? n.tcp, record)
      if (this.#table.get(n.id)) this.#table.addVerifiedNode(updated, this.#clock.now())
      this.#db.updateNode(updated)
    }
    return record
  }

  /**
   * Learns who runs discovery at `host:port`: a Ping whose signed Pong names the node's key,
   * then an ENRRequest for its TCP port. The id is remembered for the address (trust on first
   * use); a later answer with another key is refused.
   * @throws {NoDiscoveryError} when nothing answers ("no discovery at host:port; ask for its enode")
   * @throws {IdentityChangedError} when the address answered with another key before
   */
  async resolveAddress(host: string, port: number): Promise<ResolvedAddress> {
    this.#running()
    if (!Number.isInteger(port) || port <= 0 || port > 0xffff) throw new InvalidOptionError('port', `must be 1..65535, got ${port}`)
    const ip = await resolveHost(host, 'host')
    const address = udpAddress({ ip, udp: port })
    let pong: PongResult | undefined
    for (let i = 0; i < RESOLVE_ATTEMPTS && !pong; i++) {
      try {
        pong = await this.#v4.pingAddress({ address: ip, port })
      } catch (err) {
        if (!(err instanceof DiscTimeoutError)) throw err
      }
    }
    if (!pong) throw new NoDiscoveryError(`${host.includes(':') ? `[${host}]` : host}:${port}`)
    const known = this.#db.learnedId(address)
    if (known !== undefined && known !== pong.id) throw new IdentityChangedError(address, known, pong.id)
    if (known === undefined) this.#db.learn(address, pong.id)
    log('%s answers at %s (%s)', shortId(pong.id), address, known ? 'known' : 'trusted on first use')
    let record: Enr | undefined
    try {
      record = await this.#v4.requestENR(makeNode(pong.publicKey, ip, port, 0))
    } catch (err) {
      log('no record from %s: %s', address, (err as Error).message)
    }
    const tcp = record?.tcp ?? record?.tcp6
    const enode: Enode = {
      publicKey: pong.publicKey,
      id: pong.id,
      host: ip,
      tcpPort: tcp ?? port,
      udpPort: port,
      ...(record && { record }),
    }
    return { enode, trust: known ? 'known' : 'first-use', tcpPortSource: tcp !== undefined ? 'record' : 'assumed' }
  }

  /** Forgets the id learned for `host:port`, so the next {@link resolveAddress} trusts whatever answers. */
  forgetAddress(host: string, port: number): void {
    const ip = canonicalIp(host) ?? host
    this.#running().#db.forget(udpAddress({ ip, udp: port }))
  }

  // ---- internals ------------------------------------------------------------------------

  #running(): this {
    if (this.#state !== 'running') throw new DiscoveryStateError(this.#state === 'stopped' ? 'discovery is stopped' : 'discovery is not started; call start() first')
    return this
  }

  async #doRefresh(): Promise<void> {
    const now = this.#clock.now()
    for (const seed of [...this.#db.querySeeds(SEED_COUNT, SEED_MAX_AGE, this.#random), ...this.#bootnodes]) {
      this.#table.addSeenNode(seed, now)
    }
    await this.#runLookup(this.#newLookup(this.publicKey))
    // geth cannot aim at a bucket (targets are keys, ids their hashes), so it walks at random
    for (let i = 0; i < 3 && this.#state === 'running'; i++) await this.#runLookup(this.#newLookup(this.#randomTarget()))
  }

  #newLookup(targetKey: Buffer, onSeen?: (nodes: NodeInfo[]) => void): Lookup {
    const target = makeNode(targetKey, '0.0.0.0', 0, 0).idBytes
    return new Lookup({
      target,
      selfId: this.id,
      closest: () => this.#table.closest(target, this.#v4.limits.bucketSize),
      query: (n) => this.#v4.query(n, targetKey),
      bucketSize: this.#v4.limits.bucketSize,
      ...(onSeen && { onSeen }),
    })
  }

  async #runLookup(lookup: Lookup): Promise<NodeInfo[]> {
    if (this.#state !== 'running') return []
    this.#lookups.add(lookup)
    try {
      return await lookup.run()
    } finally {
      this.#lookups.delete(lookup)
    }
  }

  #randomTarget(): Buffer {
    const key = Buffer.alloc(64)
    for (let i = 0; i < 64; i++) key[i] = Math.floor(this.#random() * 256)
    return key
  }

  #scheduleRefresh(): void {
    const base = this.#opts.refreshInterval ?? 30 * 60 * 1000
    this.#after(base / 2 + this.#random() * (base / 2), () => {
      void this.refresh().finally(() => this.#scheduleRefresh())
    })
  }

  #scheduleRevalidation(): void {
    const interval = this.#opts.revalidateInterval ?? 10_000
    this.#after(this.#random() * interval, () => {
      void this.#revalidate().finally(() => this.#scheduleRevalidation())
    })
  }

  /** Pings the least recently confirmed node of a random bucket; fetches its record if newer. */
  async #revalidate(): Promise<void> {
    const entry = this.#table.nodeToRevalidate()
    if (!entry) return
    let node = entry.node
    let pong: PongResult
    try {
      pong = await this.#v4.ping(node)
    } catch {
      if (this.#state !== 'running') return
      const r = this.#table.revalidationFailed(node.id)
      log('revalidation: %s did not answer%s', shortId(node.id), r ? `, replaced by ${shortId(r.node.id)}` : ', removed')
      return
    }
    if (pong.enrSeq !== undefined && pong.enrSeq > seqOf(node)) {
      try {
        const record = await this.#v4.requestENR(node)
        node = makeNode(node.publicKey, node.ip, node.udp, record.tcp ?? node.tcp, record)
        this.#db.updateNode(node)
      } catch (err) {
        log('ENR request to %s failed: %s', shortId(node.id), (err as Error).message)
      }
    }
    if (this.#state === 'running') this.#table.revalidated(node)
  }

  #after(ms: number, fn: () => void): void {
    if (this.#state === 'stopped') return
    // Node's timers overflow above 2^31 - 1 ms and fire at once; wait in steps instead
    const step = Math.min(ms, MAX_TIMER)
    const timer = this.#clock.setTimeout(() => {
      this.#timers.delete(timer)
      if (this.#state !== 'running') return
      if (ms > step) this.#after(ms - step, fn)
      else fn()
    }, step)
    timer.unref()
    this.#timers.add(timer)
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.#wakers.delete(done)
        resolve()
      }
      this.#wakers.add(done)
      this.#after(ms, done)
    })
  }

  #recordChanged(record: Enr): void {
    this.#db.setLocalSeq(record.seq)
    log('local record is now seq %s: %s', record.seq, formatEnode({ publicKey: this.publicKey, host: this.#local.endpoint.ip, tcpPort: this.#local.endpoint.tcp, udpPort: this.#local.endpoint.udp }))
    this.events.emit('record', record)
  }

  #warn(message: string): void {
    log('warning: %s', message)
    if (this.#opts.onWarning) this.#opts.onWarning(message)
    else process.emitWarning(message, { code: 'DEVP2P_DISCOVERY' })
  }

  #toNode(node: NodeInfo | Enode | string): NodeInfo {
    if (typeof node !== 'string' && 'idBytes' in node) return node
    const e = typeof node === 'string' ? parseEnode(node) : node
    const ip = e.host === undefined ? undefined : canonicalIp(e.host)
    if (ip === undefined || e.udpPort === undefined) throw new InvalidOptionError('node', `needs an IP address and UDP port: ${formatEnode(e)}`)
    return makeNode(e.publicKey, ip, e.udpPort, e.tcpPort ?? 0, e.record)
  }
}

/** An IP literal as is, a DNS name resolved. @throws {InvalidOptionError} naming `option` when the name does not resolve */
async function resolveHost(host: string, option: string): Promise<string> {
  if (isIP(host)) return canonicalIp(host)!
  try {
    return canonicalIp((await dnsLookup(host)).address)!
  } catch (err) {
    throw new InvalidOptionError(option, `cannot resolve ${JSON.stringify(host)}: ${(err as Error).message}`)
  }
}

/** Parses bootnodes and resolves DNS names (geth resolves bootnode host names too). */
async function resolveBootnodes(list: (string | Enode)[]): Promise<NodeInfo[]> {
  const out: NodeInfo[] = []
  for (const [i, item] of list.entries()) {
    const e = typeof item === 'string' ? parseEnode(item) : item
    if (e.host === undefined || e.udpPort === undefined || e.udpPort === 0) {
      throw new InvalidOptionError('bootnodes', `entry ${i} has no UDP address; give enode://<key>@<host>:<port> or a record with ip and udp`)
    }
    const ip = await resolveHost(e.host, 'bootnodes')
    out.push(makeNode(e.publicKey, ip, e.udpPort, e.tcpPort ?? 0, e.record))
  }
  return out
}
