/**
 * The Server: listens, dials, runs the handshakes, admits peers within the configured
 * limits and runs the registered sub-protocols on each of them.
 * @module
 */
import type { Timer } from './clock.js'
import { INBOUND_THROTTLE, INBOUND_THROTTLE_ENTRIES, parseHostPort, resolveOptions, type ResolvedOptions, type ServerOptions } from './config.js'
import { publicKeyOf } from './crypto/index.js'
import { Dialer, type DialNode } from './dial.js'
import { advertisedIp } from './discover/address.js'
import { Discovery, type DialCandidates } from './discover/discovery.js'
import { DisconnectError, DiscReason, reasonForError, reasonText } from './disconnect.js'
import { formatEnode, nodeId, parseEnode, type Enode } from './enode.js'
import { HandshakeTimeoutError, ServerStateError } from './errors.js'
import { TypedEvents } from './events.js'
import { P2P_VERSION, type Hello } from './hello.js'
import { exchangeHello, helloIdentityProblem, sendDisconnect } from './hello-exchange.js'
import { logger, shortId } from './log.js'
import { isLAN, normalizeIp, type Netlist } from './netutil.js'
import { Peer } from './peer.js'
import { matchProtocols } from './protocol.js'
import type { Connection, Listener, Transport } from './transport.js'

const log = logger('devp2p:server')

/** Payload of the `peer:removed` event. */
export interface PeerRemoved {
  peer: Peer
  reason: DiscReason
  /** The reason in words, e.g. `too many peers`. */
  reasonText: string
  /** True when the remote side chose to end the session, false when this node did. */
  remote: boolean
  error?: Error
}

/** Events on `server.events`. */
export interface ServerEvents {
  /** A peer passed every check and its protocols are starting. */
  'peer:added': (peer: Peer) => void
  /** A peer's session ended; it is no longer in `server.peers`. */
  'peer:removed': (event: PeerRemoved) => void
  /** The listener is bound. */
  listening: (address: { host: string; port: number; enode: string }) => void
  /** A server-level failure (the listener); per-connection failures are logged, not emitted. */
  error: (error: Error) => void
}

/** What {@link Server.nodeInfo} reports. */
export interface NodeInfo {
  id: string
  name: string
  enode: string
  /** Our signed node record, when discovery runs. */
  enr: string | null
  listenAddr: string | null
  ports: { listener: number | null; discovery: number | null }
  protocols: Record<string, unknown>
}

/** Tries at binding TCP and UDP to one OS-chosen port before giving up. */
const PORT_PAIR_ATTEMPTS = 8

/** A server that is starting, running, stopping or stopped. */
type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped'

/** An inbound connection waiting for a handshake slot, and when it stops waiting. */
interface Backlogged {
  conn: Connection
  until: number
}

/** A devp2p node: see {@link ServerOptions} for what it can be told. */
export class Server {
  /** Typed events: `peer:added`, `peer:removed`, `listening`, `error`. */
  readonly events = new TypedEvents<ServerEvents>()
  /** This node's 64-byte public key. */
  readonly publicKey: Buffer
  /** This node's id: hex keccak256 of the public key. */
  readonly id: string

  #opts: ResolvedOptions
  #transport: Transport
  #listener: Listener | undefined
  #port: number | null = null
  #state: State = 'new'
  #peers = new Map<string, Peer>()
  /** Kept, not counted on demand: admission runs twice per handshake. */
  #untrusted = 0
  #untrustedInbound = 0
  #runs = new Set<Promise<void>>()
  #pending = new Set<Connection>()
  #pendingInbound = 0
  /** Inbound connections beyond `maxPendingPeers`, waiting (not read) for a handshake slot. */
  #backlog: Backlogged[] = []
  /** Non-LAN addresses that connected recently, with when they may connect again (oldest first). */
  #recentInbound = new Map<string, number>()
  #dialer: Dialer<Peer>
  /** Static nodes added before start(): dialled by start(). */
  #early: DialNode[] = []
  #discovery: Discovery | undefined
  #candidates: DialCandidates | undefined
  /** The IP our enode shows when discovery does not run (it keeps its own, learnt from peers too). */
  #advertisedIp: string | undefined

  constructor(options: ServerOptions) {
    this.#opts = resolveOptions(options)
    this.publicKey = publicKeyOf(this.#opts.privateKey)
    this.id = nodeId(this.publicKey)
    const { privateKey, maxMessageSize, writeTimeout, clock, random } = this.#opts
    this.#transport = this.#opts.transport({ privateKey, maxMessageSize, writeTimeout, clock })
    this.#dialer = new Dialer<Peer>({
      selfId: this.id,
      maxDialPeers: this.maxOutbound,
      maxActiveDials: this.#opts.maxPendingPeers,
      redialBackoff: this.#opts.redialBackoff,
      netrestrict: this.#opts.netrestrict,
      clock,
      random,
      connected: (id) => this.#peers.get(id)?.closed === false,
      dialedPeers: () => this.#untrusted - this.#untrustedInbound,
      peerSlotsLeft: () => this.#opts.maxPeers - this.#untrusted,
      dial: (node, signal) => this.#dial(node, signal),
    })
  }

  /** Most inbound peers: `maxPeers` minus the slots kept for dials. */
  get maxInbound(): number {
    return this.#opts.maxPeers - this.maxOutbound
  }

  /** Slots kept for peers we dial: `floor(maxPeers / dialRatio)`, at least 1 when `maxPeers` > 0. */
  get maxOutbound(): number {
    const { maxPeers, dialRatio } = this.#opts
    return maxPeers === 0 ? 0 : Math.max(1, Math.floor(maxPeers / dialRatio))
  }

  /** Connected peers. */
  get peers(): Peer[] {
    return [...this.#peers.values()]
  }

  get peerCount(): number {
    return this.#peers.size
  }

  /** The connected peer with node id `id`, if any. */
  peer(id: string): Peer | undefined {
    return this.#peers.get(id.toLowerCase())
  }

  /** True between `start()` and `stop()`. */
  get running(): boolean {
    return this.#state === 'running'
  }

  /** The networks dials and accepts are confined to (`netrestrict`), if any. */
  get netrestrict(): Netlist | undefined {
    return this.#opts.netrestrict
  }

  /** The server's clock: the one given in the options, or the system clock. */
  get clock(): ResolvedOptions['clock'] {
    return this.#opts.clock
  }

  /** Discovery, while it runs (`discovery: true` and started). */
  get discovery(): Discovery | undefined {
    return this.#discovery
  }

  /**
   * This node's enode URL. The host is `advertiseAddr`, else the address discovery learnt
   * from peers, else the listen address — or, on a wildcard, the address of the interface
   * holding the default route.
   */
  get enode(): string {
    const listen = this.#opts.listen
    if (this.#discovery && this.#port !== null) return this.#discovery.enode
    if (!listen || this.#port === null) return formatEnode({ publicKey: this.publicKey })
    return formatEnode({ publicKey: this.publicKey, host: this.#advertisedIp ?? listen.host, tcpPort: this.#port })
  }

  /** Identity, address and per-protocol information about this node. */
  nodeInfo(): NodeInfo {
    const protocols: Record<string, unknown> = {}
    for (const p of this.#opts.protocols) protocols[p.name] = p.nodeInfo ? p.nodeInfo() : 'unknown'
    const listen = this.#opts.listen
    return {
      id: this.id,
      name: this.#opts.name,
      enode: this.enode,
      enr: this.#discovery?.localRecord.toString() ?? null,
      listenAddr: listen ? `${listen.host?.includes(':') ? `[${listen.host}]` : (listen.host ?? '')}:${this.#port ?? listen.port}` : null,
      ports: { listener: this.#port, discovery: this.#discovery?.address.port ?? null },
      protocols,
    }
  }

  /**
   * Starts listening (when `listenAddr` is set) and dials bootnodes and static nodes.
   * Resolves once the listener is bound. When binding fails, the server is as before and
   * `start()` may be called again.
   * @throws {ServerStateError} when already started or stopped (a server does not restart)
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new ServerStateError(`start() called on a ${this.#state} server; create a new Server instead`)
    this.#state = 'starting'
    const { maxPeers, dialRatio, listen } = this.#opts
    log('%s starting: %d peer slots, %d inbound / %d outbound (maxPeers %d, dialRatio %d), protocols %s', shortId(this.id), maxPeers, this.maxInbound, this.maxOutbound, maxPeers, dialRatio, this.#opts.protocols.map((p) => `${p.name}/${p.version}`).join(',') || 'none')
    try {
      await this.#bind()
    } catch (err) {
      await this.#listener?.close()
      this.#listener = undefined
      this.#port = null
      this.#state = 'new'
      throw err
    }
    if (this.#state !== 'starting') {
      // stop() came while binding; it could not see the listener yet.
      await this.#listener?.close()
      await this.#discovery?.stop()
      return
    }
    this.#state = 'running'
    if (listen) this.events.emit('listening', { host: listen.host ?? '::', port: this.#port!, enode: this.enode })
    for (const node of [...this.#opts.staticNodes, ...this.#early.splice(0)]) this.#dialer.addStatic(node as DialNode)
    for (const node of this.#opts.bootnodes) {
      this.connect(node).catch((err: Error) => log('bootnode %s@%s:%d: %s', shortId(node.id), node.host, node.tcpPort, err.message))
    }
    for (const { host, port } of this.#opts.bootAddresses) {
      this.connect(`${host.includes(':') ? `[${host}]` : host}:${port}`).catch((err: Error) => log('bootnode %s:%d: %s', host, port, err.message))
    }
    if (this.#discovery && this.maxOutbound > 0) {
      this.#candidates = this.#discovery.dialCandidates()
      this.#dialer.setCandidates(this.#candidates)
    }
  }

  /**
   * Binds the listener and, with discovery, its UDP socket on the same port. When the OS
   * chooses the port, one free for both is searched for: a TCP port whose UDP twin is taken
   * is given back and another tried.
   */
  async #bind(): Promise<void> {
    const { listen, discovery } = this.#opts
    if (!listen) {
      if (discovery) await this.#startDiscovery('0.0.0.0', 0, 0)
      return
    }
    for (let attempt = 1; ; attempt++) {
      await this.#listen(listen)
      this.#advertisedIp = advertisedIp(listen.host ?? '0.0.0.0', this.#opts.advertiseAddr).ip
      if (!discovery) return
      try {
        await this.#startDiscovery(listen.host ?? '0.0.0.0', this.#port!, this.#port!)
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || listen.port !== 0 || attempt >= PORT_PAIR_ATTEMPTS) throw err
        log('UDP port %d is taken; trying another port for TCP and UDP', this.#port)
        await this.#listener!.close()
      }
    }
  }

  async #startDiscovery(host: string, udpPort: number, tcpPort: number): Promise<void> {
    const o = this.#opts
    const transport = await this.#transport.bindUdp?.(host, udpPort)
    const discovery = new Discovery({
      privateKey: o.privateKey,
      bind: { host, port: udpPort },
      ...(transport && { transport }),
      tcpPort,
      bootnodes: o.bootnodes,
      ...(o.dataDir !== undefined && { dataDir: o.dataDir }),
      ...(o.netrestrict && { netrestrict: o.netrestrict }),
      ...(o.advertiseAddr !== undefined && { extip: o.advertiseAddr }),
      clock: o.clock,
      random: o.random,
    })
    await discovery.start()
    this.#discovery = discovery
  }

  async #listen(listen: { host: string | undefined; port: number }): Promise<void> {
    this.#listener = await this.#transport.listen(
      listen.host,
      listen.port,
      (conn) => this.#onInbound(conn),
      (err) => {
        log('listener error: %s', err.message)
        this.events.emit('error', err)
      },
    )
    this.#port = this.#listener.port
    log('%s listening on %s:%d', shortId(this.id), listen.host ?? '*', this.#port)
  }

  /**
   * Sends Disconnect (client quitting) to every peer, aborts dials in flight (their
   * `connect()` rejects with {@link ServerStateError}), closes the listener and resolves once
   * every dial, every peer and every protocol `run` has ended.
   */
  async stop(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return
    this.#state = 'stopping'
    log('%s stopping, %d peers', shortId(this.id), this.#peers.size)
    this.#candidates?.close()
    this.#dialer.stop(new ServerStateError('server stopped during the dial'))
    const closed = this.#listener ? this.#listener.close() : Promise.resolve()
    for (const { conn } of this.#backlog.splice(0)) conn.destroy()
    for (const conn of this.#pending) {
      // Past the encryption handshake the remote can be told why, as a peer would be.
      if (conn.established) sendDisconnect(conn, DiscReason.Quitting).catch((err: Error) => log('%s Disconnect not written: %s', conn.remoteAddress, err.message))
      else conn.destroy()
    }
    for (const peer of this.#peers.values()) peer.disconnect(DiscReason.Quitting)
    // A dial left running would connect, and reach the remote, after stop() resolved.
    await this.#dialer.settled()
    while (this.#runs.size > 0) await Promise.all([...this.#runs])
    await closed
    await this.#discovery?.stop()
    this.#state = 'stopped'
  }

  /**
   * Adds a static node: dialled now (or by `start()` when called before it) and redialled
   * with jittered backoff whenever it drops, until {@link removePeer}.
   * @throws {InvalidEnodeError} when the URL is not valid
   * @throws {ServerStateError} when it has no address
   */
  addPeer(enode: string | Enode): void {
    const node = typeof enode === 'string' ? parseEnode(enode) : enode
    if (node.host === undefined || node.tcpPort === undefined) throw new ServerStateError(`static node ${shortId(node.id)} needs an address: enode://<key>@<host>:<port>`)
    if (this.#state === 'running') this.#dialer.addStatic(node as DialNode)
    else if (this.#state === 'new' || this.#state === 'starting') this.#early.push(node as DialNode)
  }

  /** Forgets static node `id` and disconnects it (disconnect requested) if connected. */
  removePeer(id: string): void {
    id = id.toLowerCase()
    this.#dialer.removeStatic(id)
    this.#early = this.#early.filter((n) => n.id !== id)
    this.#peers.get(id)?.disconnect(DiscReason.Requested)
  }

  /**
   * Dials a node once: an `enode://` URL, an `enr:` record, a parsed {@link Enode}, or the
   * `host:port` of a node running discovery — a discv4 Ping learns its key from the signed
   * Pong, trusted on first use and remembered, so that address later answering with another
   * key is refused (`IdentityChangedError`). Resolves with the peer when it is added (at once
   * when already connected, and with the remote's connection when both dialled at once and
   * that one was kept); rejects with the reason when the dial, handshake or admission fails.
   * @throws {ServerStateError} when the server is not running, or `host:port` without discovery
   * @throws {NoDiscoveryError} when nothing answers discovery at `host:port`
   */
  connect(enode: string | Enode): Promise<Peer> {
    if (this.#state !== 'running') return Promise.reject(new ServerStateError('connect() needs a running server; call start() first'))
    const address = typeof enode === 'string' ? parseHostPort(enode) : undefined
    if (address) {
      const discovery = this.#discovery
      if (!discovery) return Promise.reject(new ServerStateError(`connecting to ${enode} by address needs discovery (it learns the node's key); give its enode URL instead`))
      return discovery.resolveAddress(address.host, address.port).then((resolved) => {
        log('%s is %s (%s)', enode, shortId(resolved.enode.id), resolved.trust === 'first-use' ? 'trusted on first use' : 'as remembered')
        return this.connect(resolved.enode)
      })
    }
    let node: Enode
    try {
      node = typeof enode === 'string' ? parseEnode(enode) : enode
    } catch (err) {
      return Promise.reject(err)
    }
    if (node.host === undefined || node.tcpPort === undefined) {
      return Promise.reject(new ServerStateError(`cannot dial ${shortId(node.id)}: its enode URL has no host:port`))
    }
    if (node.id === this.id) return Promise.reject(new DisconnectError(DiscReason.Self, false, node.id))
    // A peer that is disconnecting is about to be gone: dial anew rather than return it.
    const existing = this.#peers.get(node.id)
    if (existing && !existing.closed) return Promise.resolve(existing)
    return this.#dialer.dial(node as DialNode).catch((err: unknown) => {
      // The remote dialled us meanwhile and that connection won: it is the peer asked for.
      const winner = this.#peers.get(node.id)
      if (err instanceof DisconnectError && err.reason === DiscReason.AlreadyConnected && winner && !winner.closed) return winner
      throw err
    })
  }

  async #dial(node: DialNode, signal: AbortSignal): Promise<Peer> {
    if (this.#state !== 'running') throw new ServerStateError('server stopped while the dial waited')
    if (this.#opts.netrestrict && !this.#opts.netrestrict.contains(node.host)) {
      throw new ServerStateError(`${node.host} is outside netrestrict (${this.#opts.netrestrict.cidrs.join(', ')}); not dialled`)
    }
    const conn = await this.#transport.dial(node.host, node.tcpPort, node.publicKey, { timeout: this.#opts.dialTimeout, signal })
    return this.#setup(conn)
  }

  #onInbound(conn: Connection): void {
    const ip = normalizeIp(conn.remoteIp)
    if (this.#state !== 'running') {
      conn.destroy()
      return
    }
    const refusal = this.#inboundRefusal(ip)
    if (refusal) {
      log('%s refused before handshake: %s', conn.remoteAddress, refusal)
      conn.destroy()
      return
    }
    if (this.#pendingInbound < this.#opts.maxPendingPeers) {
      this.#setupInbound(conn)
      return
    }
    // A burst of dials waits its turn, as the kernel's accept backlog makes geth's wait;
    // each waits at most one handshake timeout.
    if (this.#backlog.length >= this.#opts.acceptBacklog) {
      log('%s refused before handshake: %d handshakes pending and %d waiting (maxPendingPeers, acceptBacklog)', conn.remoteAddress, this.#pendingInbound, this.#backlog.length)
      conn.destroy()
      return
    }
    this.#backlog.push({ conn, until: this.#opts.clock.now() + this.#opts.handshakeTimeout })
  }

  /**
   * Why an inbound connection from `ip` is refused before any handshake: a non-LAN address
   * that connected within the last {@link INBOUND_THROTTLE} ms (geth's inbound throttle), or
   * an address outside `netrestrict`.
   */
  #inboundRefusal(ip: string): string | undefined {
    const { netrestrict, clock } = this.#opts
    if (netrestrict && !netrestrict.contains(ip)) return `${ip} is outside netrestrict`
    if (isLAN(ip)) return undefined
    const now = clock.now()
    for (const [addr, until] of this.#recentInbound) {
      if (until > now && this.#recentInbound.size <= INBOUND_THROTTLE_ENTRIES) break
      this.#recentInbound.delete(addr)
    }
    if ((this.#recentInbound.get(ip) ?? 0) > now) return `${ip} connected less than ${INBOUND_THROTTLE / 1000} s ago`
    this.#recentInbound.set(ip, now + INBOUND_THROTTLE)
    return undefined
  }

  #setupInbound(conn: Connection): void {
    this.#pendingInbound++
    this.#setup(conn)
      .catch((err: Error) => log('%s inbound connection failed: %s', conn.remoteAddress, err.message))
      .finally(() => {
        this.#pendingInbound--
        this.#nextFromBacklog()
      })
  }

  #nextFromBacklog(): void {
    const now = this.#opts.clock.now()
    while (this.#backlog.length > 0 && this.#pendingInbound < this.#opts.maxPendingPeers) {
      const { conn, until } = this.#backlog.shift()!
      if (until <= now || this.#state !== 'running') {
        log('%s waited too long for a handshake slot', conn.remoteAddress)
        conn.destroy()
        continue
      }
      this.#setupInbound(conn)
    }
  }

  /**
   * Runs handshake, checkpoints and Hello on a new connection; resolves with the added peer.
   * One deadline covers the handshake and Hello together, so a connection holds its slot at
   * most `handshakeTimeout`.
   */
  async #setup(conn: Connection): Promise<Peer> {
    const o = this.#opts
    if (this.#state !== 'running') {
      // A dial whose TCP connect finished after stop() began: stop() no longer sees it.
      conn.destroy()
      throw new ServerStateError('server stopped during the dial')
    }
    this.#pending.add(conn)
    const deadline: Timer = o.clock.setTimeout(() => conn.destroy(new HandshakeTimeoutError(o.handshakeTimeout)), o.handshakeTimeout)
    try {
      const remoteKey = await conn.handshake()
      const id = nodeId(remoteKey)
      const trusted = o.trustedIds.has(id)
      const early = this.#admission(id, conn.initiator, trusted)
      if (early !== undefined) {
        log('%s %s refused after handshake: %s', shortId(id), conn.remoteAddress, reasonText(early))
        await sendDisconnect(conn, early)
        throw new DisconnectError(early, false, id)
      }
      let hello: Hello
      try {
        hello = await exchangeHello(conn, this.#hello())
      } catch (err) {
        const { reason, remote } = reasonForError(err)
        // What we found wrong with their Hello they are told; a timeout or a close is not worth a word.
        if (!remote && conn.established && !(err instanceof HandshakeTimeoutError)) await sendDisconnect(conn, reason)
        throw err
      }
      const matched = matchProtocols(o.protocols, hello.caps)
      const late =
        helloIdentityProblem(hello, remoteKey) ??
        (matched.length === 0 && o.protocols.length > 0 ? DiscReason.UselessPeer : undefined) ??
        this.#admission(id, conn.initiator, trusted)
      if (late !== undefined) {
        log('%s %s refused after Hello: %s', shortId(id), conn.remoteAddress, reasonText(late))
        await sendDisconnect(conn, late)
        throw new DisconnectError(late, false, id)
      }
      if (this.#state !== 'running') {
        await sendDisconnect(conn, DiscReason.Quitting)
        throw new ServerStateError('server stopped during the handshake')
      }
      const peer = new Peer({
        conn,
        id,
        hello,
        matched,
        inbound: !conn.initiator,
        trusted,
        pingInterval: o.pingInterval,
        readTimeout: o.readTimeout,
        readQueueSize: o.readQueueSize,
        maxWriteBuffer: o.maxWriteBuffer,
        clock: o.clock,
        random: o.random,
      })
      this.#pending.delete(conn)
      this.#addPeer(peer)
      return peer
    } catch (err) {
      conn.destroy()
      throw err
    } finally {
      o.clock.clearTimeout(deadline)
      this.#pending.delete(conn)
    }
  }

  #hello(): Hello {
    return {
      version: P2P_VERSION,
      clientId: this.#opts.name,
      // Sorted as go-ethereum sends them.
      caps: this.#opts.protocols.map((p) => ({ name: p.name, version: p.version })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.version - b.version)),
      listenPort: 0,
      nodeId: this.publicKey,
    }
  }

  /**
   * The checks go-ethereum runs after the handshake and again after Hello, since the peer
   * set changes meanwhile. A duplicate keeps the connection dialled by the lower node id, so
   * when two nodes dial each other at once both keep the same one.
   */
  #admission(id: string, initiator: boolean, trusted: boolean): DiscReason | undefined {
    if (id === this.id) return DiscReason.Self
    const existing = this.#peers.get(id)
    if (existing) {
      const dialedByLower = (weDialed: boolean): boolean => (weDialed ? this.id < id : id < this.id)
      if (existing.closed || (dialedByLower(initiator) && !dialedByLower(!existing.inbound))) {
        existing.disconnect(DiscReason.AlreadyConnected)
        return undefined
      }
      return DiscReason.AlreadyConnected
    }
    if (trusted) return undefined
    if (this.#untrusted >= this.#opts.maxPeers) return DiscReason.TooManyPeers
    if (!initiator && this.#untrustedInbound >= this.maxInbound) return DiscReason.TooManyPeers
    return undefined
  }

  #count(peer: Peer, delta: 1 | -1): void {
    if (peer.trusted) return
    this.#untrusted += delta
    if (peer.inbound) this.#untrustedInbound += delta
  }

  #addPeer(peer: Peer): void {
    const replaced = this.#peers.get(peer.id)
    if (replaced) this.#count(replaced, -1)
    this.#peers.set(peer.id, peer)
    this.#count(peer, 1)
    this.#dialer.peerAdded(peer.id)
    log('%s added (%s, %s, caps %s)', peer, peer.inbound ? 'inbound' : 'outbound', JSON.stringify(peer.name), peer.protocols.map((p) => `${p.name}/${p.version}@${p.offset}`).join(','))
    this.events.emit('peer:added', peer)
    const run = peer.run().then((end) => {
      if (this.#peers.get(peer.id) === peer) {
        this.#peers.delete(peer.id)
        this.#count(peer, -1)
      }
      this.#runs.delete(run)
      log('%s removed: %s (%s)', peer, reasonText(end.reason), end.remote ? 'remote' : 'local')
      this.events.emit('peer:removed', { peer, reason: end.reason, reasonText: reasonText(end.reason), remote: end.remote, ...(end.error ? { error: end.error } : {}) })
      if (this.#state === 'running') this.#dialer.peerRemoved(peer.id)
    })
    this.#runs.add(run)
  }
}
