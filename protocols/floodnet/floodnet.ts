/**
 * floodnet: an unstructured overlay with no central server. Nodes join by sending
 * random-walk JOIN_REQs through a bootnode; nodes that accept dial the requester. Every
 * node keeps `desired` neighbours and floods broadcasts to all of them.
 * @module
 */
import {
  DiscReason,
  parseEnode,
  ServerStateError,
  TypedEvents,
  type Enode,
  type MsgReadWriter,
  type Peer,
  type Protocol,
  type Server,
} from '../../lib/index.js'
import { InvalidOptionError } from '../../lib/errors.js'
import { logger, shortId } from '../../lib/log.js'
import { DESIRED, JOIN_BACKOFF, JOIN_HOPS, JOIN_WINDOW } from './constants.js'
import { FloodEngine, type Delivery, type FloodEngineOptions, type FloodEvents } from './engine.js'
import { decodeJoin, encodeJoin, type JoinRequest } from './join.js'
import { TokenBucket } from './token-bucket.js'

const log = logger('floodnet:topology')

/** floodnet message codes, relative to the capability. */
export enum FloodnetMsg {
  JoinReq = 0,
  Message = 1,
}

/** JOIN_REQs each neighbour may send us per second (and burst): each can make us dial. */
const JOIN_RATE = { rate: 10, burst: 20 }
/** Dials to requesters in flight at once. */
const MAX_PENDING_ACCEPTS = 8
/** Neighbours' enodes remembered (from their own JOIN_REQs) to rejoin through when no neighbour and no bootnode is left. */
const MAX_MET = 16

/** Options of {@link Floodnet}; the flood engine's options apply too. */
export interface FloodnetOptions extends Omit<FloodEngineOptions, 'selfId'> {
  /** Neighbours to keep; also the number of JOIN_REQs sent when joining. @default 5 */
  desired?: number
  /** Hops a JOIN_REQ travels before it is dropped. @default 5 */
  joinHops?: number
  /** Neighbours beyond which a node passes every JOIN_REQ on. @default 2 × desired */
  maxDegree?: number
  /** enode URLs to join through, and to fall back to when no neighbour is left. @default [] */
  bootnodes?: string[]
  /** How long a sent JOIN_REQ counts as pending before a new one replaces it, ms. @default 1000 */
  joinWindow?: number
  /** First and largest delay between join rounds while short of neighbours, ms; doubled per round, jittered. @default [250, 5000] */
  joinBackoff?: [number, number]
  /** Random source in [0, 1), for seeded simulations. @default Math.random */
  random?: () => number
}

/** Events on `floodnet.events`; the engine's `drop` and `message` events are forwarded. */
export interface FloodnetEvents extends FloodEvents {
  'neighbour:added': (id: string) => void
  'neighbour:removed': (id: string) => void
}

interface Link {
  rw: MsgReadWriter
  peer: Peer
  /** A link opened only to send JOIN_REQs; dropped once enough real neighbours exist. */
  bootstrap: boolean
  joins: TokenBucket
}

/**
 * A floodnet node. Register `floodnet.protocol` with the server, `attach` the server, start
 * it, then `start()` floodnet:
 * ```ts
 * const net = new Floodnet({ bootnodes: [entry] })
 * const server = new Server({ privateKey, listenAddr: '127.0.0.1:0', protocols: [net.protocol] })
 * net.attach(server)
 * await server.start()
 * net.start()
 * net.write(Buffer.from('hello'))
 * for await (const { origin, payload } of net) console.log(origin, payload)
 * ```
 */
export class Floodnet implements AsyncIterable<Delivery> {
  readonly events = new TypedEvents<FloodnetEvents>()
  /** The capability to register with the server: `floodnet/1`, two message codes. */
  readonly protocol: Protocol
  readonly desired: number
  readonly joinHops: number
  readonly maxDegree: number
  #options: FloodnetOptions
  #bootnodes: Enode[]
  #random: () => number
  #joinWindow: number
  #backoff: [number, number]
  #delay: number
  #server: Server | undefined
  #engine: FloodEngine | undefined
  #links = new Map<string, Link>()
  #bootstrapping = new Set<string>()
  /**
   * Enodes of neighbours that sent us their own JOIN_REQ, newest last. A node without
   * bootnodes — the network's first — has only such joiners as neighbours, and they all drop
   * it once they have others; without these it would be stranded alone for good.
   */
  #met: Enode[] = []
  #pendingAccepts = 0
  /** Expiry times of JOIN_REQs sent whose acceptance may still arrive. */
  #awaitedJoins: number[] = []
  #timer: NodeJS.Timeout | undefined
  #started = false
  #stopped = false

  constructor(options: FloodnetOptions = {}) {
    this.#options = options
    this.desired = positive(options.desired ?? DESIRED, 'desired')
    this.joinHops = positive(options.joinHops ?? JOIN_HOPS, 'joinHops')
    this.maxDegree = positive(options.maxDegree ?? 2 * this.desired, 'maxDegree')
    this.#backoff = options.joinBackoff ?? JOIN_BACKOFF
    this.#delay = this.#backoff[0]
    this.#random = options.random ?? Math.random
    this.#joinWindow = positive(options.joinWindow ?? JOIN_WINDOW, 'joinWindow')
    this.#bootnodes = (options.bootnodes ?? []).map((url, i) => {
      try {
        return parseEnode(url)
      } catch (err) {
        throw new InvalidOptionError('bootnodes', `entry ${i}: ${(err as Error).message}`)
      }
    })
    this.protocol = { name: 'floodnet', version: 1, length: 2, run: (peer, rw) => this.#run(peer, rw), nodeInfo: () => this.info() }
  }

  /** Binds to the server whose connections floodnet uses; call before the server starts. */
  attach(server: Server): void {
    if (this.#server) throw new ServerStateError('floodnet is already attached to a server')
    this.#server = server
    this.#engine = new FloodEngine({ ...this.#options, selfId: server.id })
    this.#engine.events.on('drop', (e) => this.events.emit('drop', e))
    this.#engine.events.on('message', (d) => this.events.emit('message', d))
  }

  /** The flooding engine (seen-cache, receive buffer, counters). */
  get engine(): FloodEngine {
    if (!this.#engine) throw new ServerStateError('floodnet is not attached: call attach(server) first')
    return this.#engine
  }

  /** Ids of the current floodnet neighbours. */
  get neighbours(): string[] {
    return [...this.#links.keys()]
  }

  /** Neighbour count, bootstrap links included. */
  get degree(): number {
    return this.#links.size
  }

  /** Joins through the bootnodes (when given) and keeps `desired` neighbours from now on. */
  start(): void {
    const server = this.#server
    if (!server?.running) throw new ServerStateError('floodnet.start() needs an attached, started server')
    if (this.#started) return
    this.#started = true
    for (const node of this.#bootnodes) this.#joinVia(node)
    this.#maintainSoon()
  }

  /** Stops joining and ends reads; the server's stop() closes the connections. */
  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#engine?.close()
  }

  /** Floods `payload` to every node; returns the message id (hex). */
  write(payload: Uint8Array): string {
    return this.engine.publish(payload)
  }

  /** The next broadcast from another node; `undefined` once stopped. */
  read(): Promise<Delivery | undefined> {
    return this.engine.read()
  }

  [Symbol.asyncIterator](): AsyncIterator<Delivery> {
    return this.engine[Symbol.asyncIterator]()
  }

  /** Degree, neighbours and counters, for `nodeInfo()` and the simulator. */
  info(): { degree: number; desired: number; neighbours: string[]; stats: FloodEngine['stats'] | undefined } {
    return { degree: this.degree, desired: this.desired, neighbours: this.neighbours, stats: this.#engine?.stats }
  }

  async #run(peer: Peer, rw: MsgReadWriter): Promise<void> {
    const engine = this.engine
    const bootstrap = this.#bootstrapping.delete(peer.id)
    const link: Link = { rw, peer, bootstrap, joins: new TokenBucket(JOIN_RATE.rate, JOIN_RATE.burst) }
    this.#links.set(peer.id, link)
    const removeNeighbour = engine.addNeighbour(peer.id, (payload) => rw.writeMsg(FloodnetMsg.Message, payload))
    if (!bootstrap) {
      this.#awaitedJoins.shift()
      this.#restartBackoff()
    }
    log('%s neighbour %s added (%s), degree %d', shortId(this.#server!.id), peer, bootstrap ? 'bootstrap' : 'link', this.#links.size)
    this.events.emit('neighbour:added', peer.id)
    this.#degreeChanged()
    try {
      for await (const msg of rw) {
        if (msg.code === FloodnetMsg.JoinReq) this.#onJoin(peer.id, decodeJoin(msg.payload))
        else engine.handle(peer.id, msg.payload)
      }
    } finally {
      // A newer connection to the same node may have taken this id's place already.
      if (this.#links.get(peer.id) === link) this.#links.delete(peer.id)
      removeNeighbour()
      log('%s neighbour %s removed, degree %d', shortId(this.#server!.id), peer, this.#links.size)
      this.events.emit('neighbour:removed', peer.id)
      this.#restartBackoff()
      this.#degreeChanged()
    }
  }

  /** Neighbours that are not bootstrap links. */
  #realDegree(): number {
    let n = 0
    for (const link of this.#links.values()) if (!link.bootstrap) n++
    return n
  }

  #degreeChanged(): void {
    if (this.#stopped) return
    if (this.#realDegree() >= this.desired) {
      // No rounds while satisfied: idle ones would keep doubling the delay, so a node that
      // then lost a neighbour would first wait out up to the largest delay.
      this.#restartBackoff()
      for (const link of this.#links.values()) if (link.bootstrap) link.peer.disconnect(DiscReason.Requested)
      return
    }
    this.#maintainSoon()
  }

  /** Schedules the next join round after the current backoff, and doubles the backoff. */
  #maintainSoon(): void {
    if (this.#timer || this.#stopped || !this.#started) return
    const delay = this.#delay * (0.5 + this.#random() / 2)
    this.#delay = Math.min(this.#backoff[1], this.#delay * 2)
    this.#schedule(delay)
  }

  #schedule(delay: number): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#maintain()
    }, delay)
  }

  /** One join round: ask for the missing neighbours, through a neighbour or else a bootnode. */
  #maintain(): void {
    // A stopped server dials no more: end the rounds rather than repeat them until stop().
    if (this.#stopped || !this.#server!.running) return
    const now = Date.now()
    while (this.#awaitedJoins.length > 0 && this.#awaitedJoins[0]! <= now) this.#awaitedJoins.shift()
    const missing = this.desired - this.#realDegree()
    if (missing <= 0) return
    if (missing <= this.#awaitedJoins.length) {
      // Enough walks are still out: look again when the first may be given up. Not a failed
      // round, so the backoff stays as it is.
      this.#schedule(this.#awaitedJoins[0]! - now)
      return
    }
    if (this.#links.size === 0) {
      // No neighbour left: rejoin through the bootnodes, or else through a node met before.
      const via = this.#bootnodes.length > 0 ? this.#bootnodes : this.#met.length > 0 ? [this.#met[Math.floor(this.#random() * this.#met.length)]!] : []
      if (via.length === 0) return
      for (const node of via) this.#joinVia(node)
    } else {
      // One walk more than needed: in a settled mesh a walk finds a node that accepts only
      // about half the time, and a neighbour too many is cheaper than a slow repair.
      const walks = missing - this.#awaitedJoins.length + 1
      const ids = [...this.#links.keys()]
      for (let i = 0; i < walks; i++) this.#sendJoin(ids[Math.floor(this.#random() * ids.length)]!, this.joinHops)
      this.#expectJoins(walks)
    }
    this.#maintainSoon()
  }

  /** Connects to `node` (as a bootstrap link unless already a neighbour) and sends our JOIN_REQs through it. */
  #joinVia(node: Enode): void {
    const server = this.#server!
    if (node.id === server.id) return
    if (!this.#links.has(node.id)) this.#bootstrapping.add(node.id)
    server
      .connect(node)
      .then(() => {
        const wanted = this.desired - this.#realDegree() - this.#awaitedJoins.length
        for (let i = 0; i < wanted; i++) this.#sendJoin(node.id, this.joinHops)
        this.#expectJoins(wanted)
      })
      .catch((err: Error) => {
        this.#bootstrapping.delete(node.id)
        log('%s join via %s failed: %s', shortId(server.id), shortId(node.id), err.message)
      })
  }

  /**
   * The neighbourhood changed: a join was answered, or a neighbour left. Either way the
   * backoff restarts — it exists to stop rounds that achieve nothing in a network that
   * stands still, not to slow the repair of one that just moved.
   */
  #restartBackoff(): void {
    this.#delay = this.#backoff[0]
    if (this.#timer) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
  }

  /** Counts `n` JOIN_REQs as pending for one join window, so rounds do not overshoot `desired`. */
  #expectJoins(n: number): void {
    const expiry = Date.now() + this.#joinWindow
    for (let i = 0; i < n; i++) this.#awaitedJoins.push(expiry)
  }

  #self(): Enode {
    const me = parseEnode(this.#server!.enode)
    return me
  }

  #sendJoin(via: string, hopsLeft: number, requester: Enode = this.#self()): void {
    const link = this.#links.get(via)
    if (!link) return
    link.rw.writeMsg(FloodnetMsg.JoinReq, encodeJoin({ requester, hopsLeft })).catch((err: Error) => {
      log('JOIN_REQ to %s not sent: %s', shortId(via), err.message)
    })
  }

  /** Accept (dial the requester) or pass the request on along the random walk. */
  #onJoin(from: string, req: JoinRequest): void {
    const server = this.#server!
    if (!this.#links.get(from)?.joins.take()) {
      log('%s JOIN_REQ from %s over its rate limit, dropped', shortId(server.id), shortId(from))
      return
    }
    const requester = req.requester
    if (requester.id === from) this.#remember(requester)
    // Dials in flight count: they become links within a round trip.
    const degree = this.#links.size + this.#pendingAccepts
    const passOn =
      requester.id === server.id ||
      this.#links.has(requester.id) ||
      degree >= this.maxDegree ||
      this.#pendingAccepts >= MAX_PENDING_ACCEPTS ||
      (degree >= this.desired && this.#random() >= 1 / (degree + 1))
    if (!passOn) {
      this.#accept(requester)
      return
    }
    const hopsLeft = Math.min(req.hopsLeft, this.joinHops) - 1
    if (hopsLeft <= 0) return
    const candidates = [...this.#links.keys()].filter((id) => id !== from && id !== requester.id)
    if (candidates.length === 0) return
    this.#sendJoin(candidates[Math.floor(this.#random() * candidates.length)]!, hopsLeft, requester)
  }

  /** Only a neighbour's own enode is kept: its key is the one its link authenticated. */
  #remember(node: Enode): void {
    this.#met = this.#met.filter((n) => n.id !== node.id)
    this.#met.push(node)
    if (this.#met.length > MAX_MET) this.#met.shift()
  }

  #accept(requester: Enode): void {
    const server = this.#server!
    this.#pendingAccepts++
    log('%s accepts JOIN_REQ of %s', shortId(server.id), shortId(requester.id))
    server
      .connect(requester)
      .catch((err: Error) => log('%s could not dial requester %s: %s', shortId(server.id), shortId(requester.id), err.message))
      .finally(() => this.#pendingAccepts--)
  }
}

function positive(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new InvalidOptionError(name, `must be a positive integer, got ${value}`)
  return value
}
