/**
 * The Server: listens, dials, runs the handshakes, admits peers within the configured
 * limits and runs the registered sub-protocols on each of them.
 * @module
 */
import { connect, createServer, type Server as NetServer, type Socket } from 'node:net'
import { resolveOptions, type ResolvedOptions, type ServerOptions } from './config.js'
import { publicKeyOf } from './crypto/index.js'
import { DisconnectError, DiscReason, reasonText } from './disconnect.js'
import { formatEnode, nodeId, parseEnode, type Enode } from './enode.js'
import { Devp2pError, ServerStateError } from './errors.js'
import { TypedEvents } from './events.js'
import { P2P_VERSION, type Hello } from './hello.js'
import { exchangeHello, helloIdentityProblem, sendDisconnect } from './hello-exchange.js'
import { logger, shortId } from './log.js'
import { Peer } from './peer.js'
import { matchProtocols } from './protocol.js'
import { RLPxConnection } from './rlpx/connection.js'

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
  listenAddr: string | null
  ports: { listener: number | null }
  protocols: Record<string, unknown>
}

interface StaticState {
  node: Enode
  failures: number
  timer: NodeJS.Timeout | undefined
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
  #listener: NetServer | undefined
  #port: number | null = null
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new'
  #peers = new Map<string, Peer>()
  #runs = new Set<Promise<void>>()
  #pending = new Set<RLPxConnection>()
  #pendingInbound = 0
  #pendingOutbound = 0
  #dialWaiters: (() => void)[] = []
  #dials = new Map<string, Promise<Peer>>()
  /** Dial sockets still in TCP connect: stop() aborts them. */
  #connecting = new Set<Socket>()
  #static = new Map<string, StaticState>()

  constructor(options: ServerOptions) {
    this.#opts = resolveOptions(options)
    this.publicKey = publicKeyOf(this.#opts.privateKey)
    this.id = nodeId(this.publicKey)
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

  /**
   * This node's enode URL. When listening on every interface the host shown is 127.0.0.1:
   * this library does no NAT or public-address discovery.
   */
  get enode(): string {
    const listen = this.#opts.listen
    if (!listen || this.#port === null) return formatEnode({ publicKey: this.publicKey })
    const host = listen.host === undefined || listen.host === '0.0.0.0' ? '127.0.0.1' : listen.host === '::' ? '::1' : listen.host
    return formatEnode({ publicKey: this.publicKey, host, tcpPort: this.#port })
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
      listenAddr: listen ? `${listen.host?.includes(':') ? `[${listen.host}]` : (listen.host ?? '')}:${this.#port ?? listen.port}` : null,
      ports: { listener: this.#port },
      protocols,
    }
  }

  /**
   * Starts listening (when `listenAddr` is set) and dials bootnodes and static nodes.
   * Resolves once the listener is bound.
   * @throws {ServerStateError} when already started or stopped (a server does not restart)
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new ServerStateError(`start() called on a ${this.#state} server; create a new Server instead`)
    this.#state = 'running'
    const { maxPeers, dialRatio, listen } = this.#opts
    log('%s starting: %d peer slots, %d inbound / %d outbound (maxPeers %d, dialRatio %d), protocols %s', shortId(this.id), maxPeers, this.maxInbound, this.maxOutbound, maxPeers, dialRatio, this.#opts.protocols.map((p) => `${p.name}/${p.version}`).join(',') || 'none')
    if (listen) await this.#listen(listen)
    // addPeer() before start() only registered these; they are dialled now.
    const addedEarly = [...this.#static.keys()]
    for (const node of this.#opts.staticNodes) this.#addStatic(node)
    for (const id of addedEarly) this.#dialStatic(id)
    for (const node of this.#opts.bootnodes) {
      this.connect(node).catch((err: Error) => log('bootnode %s@%s:%d: %s', shortId(node.id), node.host, node.tcpPort, err.message))
    }
  }

  async #listen(listen: { host: string | undefined; port: number }): Promise<void> {
    const listener = createServer({ pauseOnConnect: true }, (socket) => this.#onInbound(socket))
    this.#listener = listener
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject)
      listener.listen(listen.port, listen.host, () => {
        listener.off('error', reject)
        resolve()
      })
    })
    listener.on('error', (err) => {
      log('listener error: %s', err.message)
      this.events.emit('error', err)
    })
    this.#port = (listener.address() as { port: number }).port
    log('%s listening on %s:%d, enode %s', shortId(this.id), listen.host ?? '*', this.#port, this.enode)
    this.events.emit('listening', { host: listen.host ?? '::', port: this.#port, enode: this.enode })
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
    for (const s of this.#static.values()) clearTimeout(s.timer)
    this.#static.clear()
    const closed = this.#listener ? new Promise<void>((resolve) => this.#listener!.close(() => resolve())) : Promise.resolve()
    for (const socket of this.#connecting) socket.destroy(new ServerStateError('server stopped during the dial'))
    for (const conn of this.#pending) {
      // Past the encryption handshake the remote can be told why, as a peer would be.
      if (conn.established) sendDisconnect(conn, DiscReason.Quitting).catch((err: Error) => log('%s Disconnect not written: %s', conn.remoteAddress, err.message))
      else conn.destroy()
    }
    for (const peer of this.#peers.values()) peer.disconnect(DiscReason.Quitting)
    for (const wake of this.#dialWaiters.splice(0)) wake()
    // A dial left running would connect, and reach the remote, after stop() resolved.
    await Promise.allSettled([...this.#dials.values()])
    while (this.#runs.size > 0) await Promise.all([...this.#runs])
    await closed
    this.#state = 'stopped'
  }

  /**
   * Adds a static node: dialled now (or by `start()` when called before it) and redialled
   * with jittered backoff whenever it drops, until {@link removePeer}.
   */
  addPeer(enode: string | Enode): void {
    const node = typeof enode === 'string' ? parseEnode(enode) : enode
    this.#addStatic(node)
  }

  /** Forgets static node `id` and disconnects it (disconnect requested) if connected. */
  removePeer(id: string): void {
    id = id.toLowerCase()
    const s = this.#static.get(id)
    if (s) clearTimeout(s.timer)
    this.#static.delete(id)
    this.#peers.get(id)?.disconnect(DiscReason.Requested)
  }

  /**
   * Dials `enode` once. Resolves with the peer when it is added (at once when already
   * connected, and with the remote's connection when both dialled at once and that one was
   * kept); rejects with the reason when the dial, handshake or admission fails.
   * @throws {ServerStateError} when the server is not running
   */
  connect(enode: string | Enode): Promise<Peer> {
    if (this.#state !== 'running') return Promise.reject(new ServerStateError('connect() needs a running server; call start() first'))
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
    const existing = this.#peers.get(node.id)
    if (existing) return Promise.resolve(existing)
    let dial = this.#dials.get(node.id)
    if (!dial) {
      dial = this.#dial(node)
        .catch((err: unknown) => {
          // The remote dialled us meanwhile and that connection won: it is the peer asked for.
          const winner = this.#peers.get(node.id)
          if (err instanceof DisconnectError && err.reason === DiscReason.AlreadyConnected && winner && !winner.closed) return winner
          throw err
        })
        .finally(() => this.#dials.delete(node.id))
      this.#dials.set(node.id, dial)
    }
    return dial
  }

  async #dial(node: Enode): Promise<Peer> {
    while (this.#pendingOutbound >= this.#opts.maxPendingPeers && this.#state === 'running') {
      await new Promise<void>((resolve) => this.#dialWaiters.push(resolve))
    }
    if (this.#state !== 'running') throw new ServerStateError('server stopped while the dial waited')
    this.#pendingOutbound++
    try {
      const socket = await this.#tcpConnect(node.host!, node.tcpPort!)
      return await this.#setup(socket, node.publicKey)
    } finally {
      this.#pendingOutbound--
      this.#dialWaiters.shift()?.()
    }
  }

  #tcpConnect(host: string, port: number): Promise<Socket> {
    return new Promise<Socket>((resolve, reject) => {
      const socket = connect({ host, port })
      this.#connecting.add(socket)
      const timer = setTimeout(() => {
        this.#connecting.delete(socket)
        socket.destroy()
        reject(new Devp2pError('ERR_DIAL_TIMEOUT', `TCP connect to ${host}:${port} timed out after ${this.#opts.dialTimeout} ms`))
      }, this.#opts.dialTimeout)
      const onError = (err: Error): void => {
        clearTimeout(timer)
        this.#connecting.delete(socket)
        reject(err instanceof ServerStateError ? err : new Devp2pError('ERR_DIAL', `TCP connect to ${host}:${port} failed: ${err.message}`, { cause: err }))
      }
      socket.once('error', onError)
      socket.once('connect', () => {
        clearTimeout(timer)
        this.#connecting.delete(socket)
        socket.off('error', onError)
        resolve(socket)
      })
    })
  }

  #onInbound(socket: Socket): void {
    const from = `${socket.remoteAddress}:${socket.remotePort}`
    if (this.#state !== 'running') {
      socket.destroy()
      return
    }
    if (this.#pendingInbound >= this.#opts.maxPendingPeers) {
      log('%s refused before handshake: %d handshakes already pending (maxPendingPeers)', from, this.#pendingInbound)
      socket.destroy()
      return
    }
    this.#pendingInbound++
    this.#setup(socket, undefined)
      .catch((err: Error) => log('%s inbound connection failed: %s', from, err.message))
      .finally(() => this.#pendingInbound--)
  }

  /** Runs handshake, checkpoints and Hello on a connected socket; resolves with the added peer. */
  async #setup(socket: Socket, dialed: Buffer | undefined): Promise<Peer> {
    const o = this.#opts
    if (this.#state !== 'running') {
      // A dial whose TCP connect finished after stop() began: stop() no longer sees it.
      socket.destroy()
      throw new ServerStateError('server stopped during the dial')
    }
    const conn = new RLPxConnection({ socket, privateKey: o.privateKey, remotePublicKey: dialed, handshakeTimeout: o.handshakeTimeout, maxMessageSize: o.maxMessageSize })
    this.#pending.add(conn)
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
      const hello = await exchangeHello(conn, this.#hello(), o.handshakeTimeout)
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
      const peer = new Peer({ conn, id, hello, matched, inbound: !conn.initiator, trusted, pingInterval: o.pingInterval, readTimeout: o.readTimeout, readQueueSize: o.readQueueSize })
      this.#pending.delete(conn)
      this.#addPeer(peer)
      return peer
    } catch (err) {
      conn.destroy()
      throw err
    } finally {
      this.#pending.delete(conn)
    }
  }

  #hello(): Hello {
    return {
      version: P2P_VERSION,
      clientId: this.#opts.name,
      caps: this.#opts.protocols.map((p) => ({ name: p.name, version: p.version })),
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
    if (this.#untrustedCount(false) >= this.#opts.maxPeers) return DiscReason.TooManyPeers
    if (!initiator && this.#untrustedCount(true) >= this.maxInbound) return DiscReason.TooManyPeers
    return undefined
  }

  /** Peers that count against the limits (all, or inbound only): trusted ones do not. */
  #untrustedCount(inboundOnly: boolean): number {
    let n = 0
    for (const peer of this.#peers.values()) if (!peer.trusted && (peer.inbound || !inboundOnly)) n++
    return n
  }

  #addPeer(peer: Peer): void {
    this.#peers.set(peer.id, peer)
    const s = this.#static.get(peer.id)
    if (s) s.failures = 0
    log('%s added (%s, %s, caps %s)', peer, peer.inbound ? 'inbound' : 'outbound', JSON.stringify(peer.name), peer.protocols.map((p) => `${p.name}/${p.version}@${p.offset}`).join(','))
    this.events.emit('peer:added', peer)
    const run = peer.run().then((end) => {
      if (this.#peers.get(peer.id) === peer) this.#peers.delete(peer.id)
      this.#runs.delete(run)
      log('%s removed: %s (%s)', peer, reasonText(end.reason), end.remote ? 'remote' : 'local')
      this.events.emit('peer:removed', { peer, reason: end.reason, reasonText: reasonText(end.reason), remote: end.remote, ...(end.error ? { error: end.error } : {}) })
      this.#scheduleRedial(peer.id)
    })
    this.#runs.add(run)
  }

  #addStatic(node: Enode): void {
    if (node.host === undefined || node.tcpPort === undefined) throw new ServerStateError(`static node ${shortId(node.id)} needs an address: enode://<key>@<host>:<port>`)
    if (node.id === this.id || this.#static.has(node.id)) return
    this.#static.set(node.id, { node, failures: 0, timer: undefined })
    if (this.#state === 'running') this.#dialStatic(node.id)
  }

  #dialStatic(id: string): void {
    const s = this.#static.get(id)
    if (!s || this.#state !== 'running' || this.#peers.has(id)) return
    this.connect(s.node).catch((err: Error) => {
      log('static node %s@%s:%d: %s', shortId(id), s.node.host, s.node.tcpPort, err.message)
      s.failures++
      this.#scheduleRedial(id)
    })
  }

  #scheduleRedial(id: string): void {
    const s = this.#static.get(id)
    if (!s || this.#state !== 'running' || this.#peers.has(id)) return
    clearTimeout(s.timer)
    const [min, max] = this.#opts.redialBackoff
    const delay = Math.min(max, min * 2 ** Math.min(s.failures, 20)) * (0.5 + Math.random() / 2)
    s.timer = setTimeout(() => this.#dialStatic(id), delay)
  }
}
