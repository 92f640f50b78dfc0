/**
 * A connected peer: the p2p base protocol after Hello (Ping/Pong, Disconnect), routing of
 * incoming messages to the matched sub-protocols by code range, and their lifecycle.
 * @module
 */
import { DisconnectError, DiscReason, decodeDisconnectReason, reasonText } from './disconnect.js'
import { InvalidMessageCodeError, MessageDecodeError } from './errors.js'
import type { Hello } from './hello.js'
import { sendDisconnect } from './hello-exchange.js'
import { logger, shortId } from './log.js'
import { Msg, type MsgReadWriter } from './message.js'
import { MsgQueue } from './msg-queue.js'
import type { Cap, MatchedProtocol, Protocol } from './protocol.js'
import type { RLPxConnection } from './rlpx/connection.js'

const log = logger('devp2p:peer')
const EMPTY_LIST = Uint8Array.of(0xc0)

const enum BaseMsg {
  Hello = 0,
  Disconnect = 1,
  Ping = 2,
  Pong = 3,
}

/** How a peer session ended. */
export interface PeerEnd {
  reason: DiscReason
  /** True when the remote side chose the reason (it sent Disconnect or closed the socket). */
  remote: boolean
  /** The error behind a network failure or a failed protocol `run`. */
  error?: Error
}

/** @internal What the server hands a new peer. */
export interface PeerInit {
  conn: RLPxConnection
  id: string
  hello: Hello
  matched: MatchedProtocol[]
  inbound: boolean
  trusted: boolean
  pingInterval: number
  readTimeout: number
  readQueueSize: number
}

/** A connected, Hello-verified remote node. */
export class Peer {
  /** Node id: hex keccak256 of the public key. */
  readonly id: string
  /** The remote's 64-byte secp256k1 public key. */
  readonly publicKey: Buffer
  /** Client name from the remote's Hello. */
  readonly name: string
  /** Every capability the remote advertised. */
  readonly caps: readonly Cap[]
  /** The remote's p2p version from Hello. */
  readonly version: number
  /** `ip:port` of the remote end of the socket. */
  readonly remoteAddress: string
  /** True when the remote dialled us. */
  readonly inbound: boolean
  /** True when the remote is in `trustedNodes` (admitted above `maxPeers`). */
  readonly trusted: boolean
  /** When the session was established (ms since the epoch). */
  readonly connectedAt = Date.now()

  #conn: RLPxConnection
  #matched: MatchedProtocol[]
  #queues: MsgQueue[]
  #end: PeerEnd | undefined
  #ended: Promise<PeerEnd> | undefined
  #lastRead = Date.now()
  #readTimeout: number
  #pingInterval: number

  /**
   * Peers by ping interval, each group served by one timer: a timer per peer would cost a
   * Timeout and a closure per session for no gain.
   */
  static #keepAliveGroups = new Map<number, { timer: NodeJS.Timeout; peers: Set<Peer> }>()

  static #watch(peer: Peer): void {
    let group = Peer.#keepAliveGroups.get(peer.#pingInterval)
    if (!group) {
      const peers = new Set<Peer>()
      group = { peers, timer: setInterval(() => peers.forEach((p) => p.#keepAlive()), peer.#pingInterval) }
      Peer.#keepAliveGroups.set(peer.#pingInterval, group)
    }
    group.peers.add(peer)
  }

  static #unwatch(peer: Peer): void {
    const group = Peer.#keepAliveGroups.get(peer.#pingInterval)
    if (!group?.peers.delete(peer) || group.peers.size > 0) return
    clearInterval(group.timer)
    Peer.#keepAliveGroups.delete(peer.#pingInterval)
  }

  /** @internal Created by the server once Hello checks out. */
  constructor(init: PeerInit) {
    this.#conn = init.conn
    this.id = init.id
    this.publicKey = init.hello.nodeId
    this.name = init.hello.clientId
    this.caps = init.hello.caps
    this.version = init.hello.version
    this.remoteAddress = init.conn.remoteAddress
    this.inbound = init.inbound
    this.trusted = init.trusted
    this.#matched = init.matched
    const resume = (): void => this.#maybeResume()
    this.#queues = init.matched.map(() => new MsgQueue(init.readQueueSize, resume))
    this.#readTimeout = init.readTimeout
    this.#pingInterval = init.pingInterval
    Peer.#watch(this)
  }

  /** The capabilities running on this session, with their message-id offsets. */
  get protocols(): { name: string; version: number; offset: number }[] {
    return this.#matched.map(({ protocol, offset }) => ({ name: protocol.name, version: protocol.version, offset }))
  }

  /** True once the session is ending or ended. */
  get closed(): boolean {
    return this.#end !== undefined
  }

  /** How the session ended, once it has. */
  get end(): PeerEnd | undefined {
    return this.#end
  }

  /** Sends Disconnect with `reason` and closes the session. Returns at once; safe to repeat. */
  disconnect(reason: DiscReason = DiscReason.Requested): void {
    this.#finish({ reason, remote: false })
  }

  /** `id@address`, short. */
  toString(): string {
    return `${shortId(this.id)}@${this.remoteAddress}`
  }

  /**
   * @internal Runs the session: starts every matched protocol and resolves once the socket
   * is closed and every protocol `run` has settled.
   */
  run(): Promise<PeerEnd> {
    this.#ended ??= this.#run()
    return this.#ended
  }

  // Promise chains rather than async functions: a session lives long, and each suspended
  // async function holds its frame for all that time.
  #run(): Promise<PeerEnd> {
    this.#conn.setHandlers({
      onMessage: (code, payload) => this.#onMessage(code, payload),
      onClose: (error) => this.#finish({ reason: DiscReason.NetworkError, remote: true, ...(error ? { error } : {}) }),
    })
    const runs = this.#matched.map(({ protocol }, i) => this.#runProtocol(protocol, i))
    this.#conn.resume()
    return Promise.all([...runs, this.#conn.closed]).then(() => this.#end!)
  }

  #runProtocol(protocol: Protocol, index: number): Promise<void> {
    let running: Promise<void> | void
    try {
      running = protocol.run(this, this.#readWriter(index))
    } catch (err) {
      running = Promise.reject(err)
    }
    return Promise.resolve(running).then(
      () => this.#finish({ reason: DiscReason.Quitting, remote: false }),
      (err: unknown) => this.#protocolFailed(protocol, err),
    )
  }

  #protocolFailed(protocol: Protocol, err: unknown): void {
    if (err instanceof DisconnectError && this.closed) return
    const error = err instanceof Error ? err : new Error(String(err))
    const reason = err instanceof InvalidMessageCodeError || err instanceof MessageDecodeError ? DiscReason.ProtocolError : DiscReason.SubprotocolError
    log('%s protocol %s/%d failed: %s', this, protocol.name, protocol.version, error.message)
    this.#finish({ reason, remote: false, error })
  }

  #readWriter(index: number): MsgReadWriter {
    const { protocol, offset } = this.#matched[index]!
    return new ProtocolReadWriter(this, this.#conn, this.#queues[index]!, protocol, offset)
  }

  #onMessage(code: number, payload: Buffer): void {
    this.#lastRead = Date.now()
    if (code >= 16) {
      const index = this.#matched.findIndex(({ protocol, offset }) => code >= offset && code < offset + protocol.length)
      if (index < 0) {
        log('%s sent message code %d outside every shared protocol', this, code)
        this.#finish({ reason: DiscReason.ProtocolError, remote: false })
        return
      }
      const queue = this.#queues[index]!
      if (!queue.push(new Msg(code - this.#matched[index]!.offset, payload, this.#lastRead))) this.#conn.pause()
      return
    }
    switch (code) {
      case BaseMsg.Disconnect: {
        const reason = decodeDisconnectReason(payload) ?? DiscReason.ProtocolError
        log('%s sent Disconnect: %s', this, reasonText(reason))
        this.#finish({ reason, remote: true })
        return
      }
      case BaseMsg.Ping:
        this.#conn.send(BaseMsg.Pong, EMPTY_LIST)
        return
      case BaseMsg.Hello:
        log('%s sent a second Hello', this)
        this.#finish({ reason: DiscReason.ProtocolError, remote: false })
        return
      default:
        // Pong and the unassigned codes 0x04-0x0f are read and ignored, as in go-ethereum.
        return
    }
  }

  #maybeResume(): void {
    if (this.#end || this.#queues.some((q) => q.full)) return
    this.#lastRead = Date.now()
    this.#conn.resume()
  }

  #keepAlive(): void {
    const starved = this.#queues.some((q) => q.full)
    if (!starved && Date.now() - this.#lastRead > this.#readTimeout) {
      log('%s silent for %d ms', this, Date.now() - this.#lastRead)
      this.#finish({ reason: DiscReason.ReadTimeout, remote: false })
      return
    }
    this.#conn.send(BaseMsg.Ping, EMPTY_LIST)
  }

  #finish(end: PeerEnd): void {
    if (this.#end) return
    this.#end = end
    Peer.#unwatch(this)
    log('%s disconnecting: %s (%s)%s', this, reasonText(end.reason), end.remote ? 'remote' : 'local', end.error ? `: ${end.error.message}` : '')
    const closing = new DisconnectError(end.reason, end.remote, this.id)
    for (const queue of this.#queues) queue.close(closing)
    if (end.remote || end.reason === DiscReason.NetworkError) {
      void this.#conn.close()
    } else {
      sendDisconnect(this.#conn, end.reason).catch((err: Error) => log('%s Disconnect not written: %s', this, err.message))
    }
  }
}

/** What one protocol's `run` reads from and writes to on one peer; codes are protocol-relative. */
class ProtocolReadWriter implements MsgReadWriter {
  #peer: Peer
  #conn: RLPxConnection
  #queue: MsgQueue
  #protocol: Protocol
  #offset: number

  constructor(peer: Peer, conn: RLPxConnection, queue: MsgQueue, protocol: Protocol, offset: number) {
    this.#peer = peer
    this.#conn = conn
    this.#queue = queue
    this.#protocol = protocol
    this.#offset = offset
  }

  readMsg(): Promise<Msg> {
    return this.#queue.readMsg()
  }

  [Symbol.asyncIterator](): AsyncIterator<Msg> {
    return this.#queue[Symbol.asyncIterator]()
  }

  async writeMsg(code: number, payload: Uint8Array): Promise<void> {
    const { name, length } = this.#protocol
    if (!Number.isInteger(code) || code < 0 || code >= length) throw new InvalidMessageCodeError(name, code, length)
    const end = this.#peer.end
    if (end) throw new DisconnectError(end.reason, end.remote, this.#peer.id)
    this.#conn.send(this.#offset + code, payload)
    if (this.#conn.needsDrain) await this.#conn.drained()
  }
}
