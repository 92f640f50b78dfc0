/**
 * A connected peer: the p2p base protocol after Hello (Ping/Pong, Disconnect), routing of
 * incoming messages to the matched sub-protocols by code range, the read deadline, the
 * write bounds, and the lifecycle of the protocols' `run`s.
 * @module
 */
import type { Clock, Timer } from './clock.js'
import { DisconnectError, DiscReason, decodeDisconnectReason, reasonForError, reasonText } from './disconnect.js'
import { InvalidMessageCodeError, WriteBufferFullError } from './errors.js'
import type { Hello } from './hello.js'
import { sendDisconnect } from './hello-exchange.js'
import { logger, shortId } from './log.js'
import { Msg, type MsgReadWriter } from './message.js'
import { MsgQueue } from './msg-queue.js'
import type { Cap, MatchedProtocol, Protocol } from './protocol.js'
import type { Random } from './random.js'
import type { Connection, ConnectionHandlers } from './transport.js'

const log = logger('devp2p:peer')
const EMPTY_LIST = Uint8Array.of(0xc0)

/**
 * A protocol's write waits while this many bytes are queued for the socket, so a writer
 * that awaits `writeMsg` keeps at most this much plus one message in flight.
 */
export const WRITE_SLACK = 256 * 1024
/**
 * Pings go out on a grid of this many ms: spread over the interval, yet many peers share each
 * wake-up of the event loop, so a node with thousands of peers wakes a few times a second
 * for its keep-alives instead of once per peer. A short `pingInterval` gets a finer grid
 * (an eighth of it), so pings still come about as often as asked.
 */
const PING_GRID = 500

/** The first point at or after `time` of a grid of `step` ms. */
const onGrid = (time: number, step: number): number => Math.ceil(time / step) * step

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
  conn: Connection
  id: string
  hello: Hello
  matched: MatchedProtocol[]
  inbound: boolean
  trusted: boolean
  pingInterval: number
  readTimeout: number
  readQueueSize: number
  maxWriteBuffer: number
  clock: Clock
  random: Random
}

/** A writer waiting for the socket to take what is queued. */
interface WriteWaiter {
  bytes: number
  resolve(): void
  reject(err: Error): void
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
  /** When the session was established (ms since the epoch, on the server's clock). */
  readonly connectedAt: number

  #conn: Connection
  #clock: Clock
  #random: Random
  #matched: MatchedProtocol[]
  #queues: MsgQueue[]
  #end: PeerEnd | undefined
  #ended: Promise<PeerEnd> | undefined
  #readTimeout: number
  #pingInterval: number
  #pingGrid: number
  #maxWriteBuffer: number
  /** When the last frame arrived: the read deadline runs from here. */
  #lastRead: number
  #nextPing: number
  /** One timer per peer serves both the next Ping and the read deadline, whichever is first. */
  #timer: Timer | undefined
  #writeWaiters: WriteWaiter[] = []
  #waitingBytes = 0

  /** @internal Created by the server once Hello checks out. */
  constructor(init: PeerInit) {
    this.#conn = init.conn
    this.#clock = init.clock
    this.#random = init.random
    this.id = init.id
    this.publicKey = init.hello.nodeId
    this.name = init.hello.clientId
    this.caps = init.hello.caps
    this.version = init.hello.version
    this.remoteAddress = init.conn.remoteAddress
    this.inbound = init.inbound
    this.trusted = init.trusted
    this.#matched = init.matched
    // Not `init.readQueueSize` in the closure: the context it shares with `resume`, which
    // every queue keeps, would hold `init` (the Hello, the options) for the whole session.
    const { readQueueSize } = init
    const resume = (): void => this.#maybeResume()
    this.#queues = init.matched.map(() => new MsgQueue(readQueueSize, resume))
    this.#readTimeout = init.readTimeout
    this.#pingInterval = init.pingInterval
    this.#pingGrid = Math.min(PING_GRID, Math.max(1, Math.floor(init.pingInterval / 8)))
    this.#maxWriteBuffer = init.maxWriteBuffer
    this.connectedAt = this.#lastRead = this.#clock.now()
    // The first Ping at a random point of the second half of the interval: peers that
    // connected together (a restart, a burst of joins) do not all ping in the same instant
    // ever after, and none is pinged the moment it arrives.
    this.#nextPing = onGrid(this.connectedAt + this.#pingInterval * (0.5 + this.#random() / 2), this.#pingGrid)
  }

  /** The capabilities running on this session, with their message-id offsets. */
  get protocols(): { name: string; version: number; offset: number }[] {
    return this.#matched.map(({ protocol, offset }) => ({ name: protocol.name, version: protocol.version, offset }))
  }

  /** True once the session is ending or ended. */
  get closed(): boolean {
    return this.#end !== undefined
  }

  /** When the last frame from this peer arrived (ms, on the server's clock); the read deadline runs from here. */
  get lastReceivedAt(): number {
    return this.#lastRead
  }

  /** Bytes queued for this peer: frames its socket has not taken plus messages waiting in `writeMsg`. Bounded by `maxWriteBuffer`. */
  get writeBacklog(): number {
    return this.#conn.backlog + this.#waitingBytes
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

  /** The connection's handlers as one small object per session, methods shared, not four closures. */
  static readonly #Handlers = class implements ConnectionHandlers {
    readonly #peer: Peer
    constructor(peer: Peer) {
      this.#peer = peer
    }
    onMessage(code: number, payload: Buffer): void {
      this.#peer.#onMessage(code, payload)
    }
    onError(error: Error): void {
      this.#peer.#failed(error)
    }
    onClose(error?: Error): void {
      this.#peer.#failed(error)
    }
    onDrain(): void {
      this.#peer.#wakeWriters()
    }
  }

  // Promise chains rather than async functions: a session lives long, and each suspended
  // async function holds its frame for all that time.
  #run(): Promise<PeerEnd> {
    this.#conn.setHandlers(new Peer.#Handlers(this))
    this.#schedule()
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
    log('%s protocol %s/%d failed: %s', this, protocol.name, protocol.version, error.message)
    this.#failed(error)
  }

  /** Ends the session for `error`, with the reason and blame {@link reasonForError} gives it. */
  #failed(error: Error | undefined): void {
    this.#finish({ ...reasonForError(error), ...(error ? { error } : {}) })
  }

  #readWriter(index: number): MsgReadWriter {
    const { protocol, offset } = this.#matched[index]!
    return new ProtocolReadWriter(this, this.#queues[index]!, protocol, offset)
  }

  #onMessage(code: number, payload: Buffer): void {
    this.#lastRead = this.#clock.now()
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
        this.#sendNow(BaseMsg.Pong, EMPTY_LIST)
        // That Pong keeps the remote's read deadline fresh as our own Ping would, and its Ping
        // kept ours: one exchange per interval serves both ends. The timer finds out at its
        // next wake-up.
        this.#nextPing = Math.max(this.#nextPing, onGrid(this.#lastRead + this.#pingInterval, this.#pingGrid))
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
    this.#conn.resume()
  }

  #schedule(): void {
    if (this.#end) return
    const wake = Math.min(this.#nextPing, this.#lastRead + this.#readTimeout)
    this.#timer = this.#clock.setTimeout(() => this.#onTimer(), Math.max(0, wake - this.#clock.now()))
  }

  #onTimer(): void {
    this.#timer = undefined
    if (this.#end) return
    const now = this.#clock.now()
    if (now >= this.#lastRead + this.#readTimeout) {
      if (this.#starved()) {
        // Input waits unread because a protocol has not read its queue (or the event loop
        // stalled): the silence is ours, not the peer's.
        this.#lastRead = now
      } else {
        // Timers run before the event loop polls sockets: after a stall, frames that did
        // arrive in time are still unread. Decide once they have been read.
        setImmediate(() => this.#checkSilence(now))
        return
      }
    }
    if (now >= this.#nextPing) {
      this.#sendNow(BaseMsg.Ping, EMPTY_LIST)
      // ±25% jitter keeps the pings of many peers spread over the interval.
      this.#nextPing = onGrid(now + this.#pingInterval * (0.75 + this.#random() / 2), this.#pingGrid)
    }
    this.#schedule()
  }

  #checkSilence(firedAt: number): void {
    if (this.#end) return
    if (this.#lastRead + this.#readTimeout <= firedAt && !this.#starved()) {
      log('%s sent nothing for %d ms', this, firedAt - this.#lastRead)
      this.#finish({ reason: DiscReason.ReadTimeout, remote: false })
      return
    }
    this.#onTimer()
  }

  /** True when input is waiting unread: a full protocol queue paused the socket. */
  #starved(): boolean {
    return this.#conn.inputWaiting || this.#queues.some((q) => q.full)
  }

  /** Queues a message now (base protocol, or a protocol write whose turn came) and enforces the write bound. */
  #sendNow(code: number, payload: Uint8Array): void {
    this.#conn.send(code, payload)
    this.#checkBacklog(0)
  }

  /** Disconnects when what is queued for the socket, plus `more` about to be, exceeds the bound. */
  #checkBacklog(more: number): boolean {
    const total = this.#conn.backlog + this.#waitingBytes + more
    if (total <= this.#maxWriteBuffer) return true
    log('%s write backlog %d bytes exceeds %d', this, total, this.#maxWriteBuffer)
    this.#failed(new WriteBufferFullError(total, this.#maxWriteBuffer))
    return false
  }

  /** @internal A protocol's write: waits its turn while the socket is behind, then queues. */
  write(code: number, payload: Uint8Array): Promise<void> {
    const end = this.#end
    if (end) return Promise.reject(new DisconnectError(end.reason, end.remote, this.id))
    if (this.#writeWaiters.length === 0 && this.#conn.backlog < WRITE_SLACK) {
      try {
        this.#sendNow(code, payload)
      } catch (err) {
        return Promise.reject(err)
      }
      return this.#end ? Promise.reject(this.#closedError()) : Promise.resolve()
    }
    if (!this.#checkBacklog(payload.length)) return Promise.reject(this.#closedError())
    return new Promise<void>((resolve, reject) => {
      this.#waitingBytes += payload.length
      this.#writeWaiters.push({ bytes: payload.length, resolve, reject })
    }).then(() => {
      if (this.#end) throw this.#closedError()
      this.#sendNow(code, payload)
    })
  }

  /**
   * Lets waiting writers go, in order, while the socket keeps up. Each released writer
   * sends in a promise callback after this loop, so its bytes count as queued already; the
   * first goes whatever its size, so a message larger than the slack is not stuck.
   */
  #wakeWriters(): void {
    if (this.#conn.backlog >= WRITE_SLACK) return
    let released = 0
    while (this.#writeWaiters.length > 0 && !this.#end && this.#conn.backlog + released < WRITE_SLACK) {
      const waiter = this.#writeWaiters.shift()!
      this.#waitingBytes -= waiter.bytes
      released += waiter.bytes
      waiter.resolve()
    }
  }

  #closedError(): DisconnectError {
    const end = this.#end!
    return new DisconnectError(end.reason, end.remote, this.id)
  }

  #finish(end: PeerEnd): void {
    if (this.#end) return
    this.#end = end
    this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
    log('%s disconnecting: %s (%s)%s', this, reasonText(end.reason), end.remote ? 'remote' : 'local', end.error ? `: ${end.error.message}` : '')
    const closing = new DisconnectError(end.reason, end.remote, this.id)
    for (const queue of this.#queues) queue.close(closing)
    for (const waiter of this.#writeWaiters.splice(0)) waiter.reject(closing)
    this.#waitingBytes = 0
    if (end.remote) {
      void this.#conn.close()
    } else if (end.reason === DiscReason.NetworkError) {
      // Our writes are not getting through: a Disconnect would only queue behind them.
      this.#conn.destroy(end.error)
    } else {
      sendDisconnect(this.#conn, end.reason).catch((err: Error) => log('%s Disconnect not written: %s', this, err.message))
    }
  }
}

/** What one protocol's `run` reads from and writes to on one peer; codes are protocol-relative. */
class ProtocolReadWriter implements MsgReadWriter {
  #peer: Peer
  #queue: MsgQueue
  #protocol: Protocol
  #offset: number

  constructor(peer: Peer, queue: MsgQueue, protocol: Protocol, offset: number) {
    this.#peer = peer
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

  writeMsg(code: number, payload: Uint8Array): Promise<void> {
    const { name, length } = this.#protocol
    if (!Number.isInteger(code) || code < 0 || code >= length) return Promise.reject(new InvalidMessageCodeError(name, code, length))
    return this.#peer.write(this.#offset + code, payload)
  }
}
