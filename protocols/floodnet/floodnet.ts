/**
 * floodnet: an unstructured overlay with no central server. Nodes join by sending
 * random-walk JOIN_REQs through a bootnode; a node that accepts links to the requester
 * (it dials the requester, or, when the requester does not listen, offers itself and is
 * dialled). Every node keeps `desired` neighbours and floods broadcasts to all of them,
 * and keeps spare addresses (gossiped in SPARES messages) to repair its neighbourhood
 * through after failures.
 *
 * floodnet owns its overlay links: a link is one only once a JOIN_ACK on it named a join
 * token. Every other session that speaks floodnet — a peer the server dialled from
 * discovery, a static node, a link dialled only to send walks through — is a contact: walks
 * may start through it, and a walk's acceptor may turn it into an overlay link with a
 * JOIN_ACK, but nothing is flooded over it and it does not count towards the degree. So
 * however many peers discovery fills the server with, the overlay's degree stays within
 * `maxDegree` and a broadcast costs what the overlay's links cost.
 * @module
 */
import { systemClock, type Clock, type Timer } from '../../lib/clock.js'
import {
  DiscReason,
  parseEnode,
  ServerStateError,
  TypedEvents,
  type Enode,
  type Msg,
  type MsgReadWriter,
  type Peer,
  type Protocol,
  type Server,
} from '../../lib/index.js'
import { InvalidOptionError } from '../../lib/errors.js'
import { logger, shortId } from '../../lib/log.js'
import { pick, type Random } from '../../lib/random.js'
import { DESIRED, JOIN_BACKOFF, JOIN_HOPS, JOIN_MIX_HOPS, JOIN_RATE, JOIN_TOKEN_TTL, JOIN_WINDOW, MAX_MET, MAX_ROUTES, SPARES_INTERVAL, SPARES_RATE } from './constants.js'
import { FloodEngine, type Delivery, type FloodEngineOptions, type FloodEvents } from './engine.js'
import { decideJoin, decodeAck, decodeJoin, decodeOffer, dialProblem, encodeAck, encodeJoin, encodeOffer, joinPolicies, newToken, type JoinPolicy, type JoinRequest, type RequesterState } from './join.js'
import { decodeSpares, encodeSpares, MAX_SPARES_PER_MESSAGE, SpareSet } from './spares.js'
import { TokenBucket } from './token-bucket.js'

const log = logger('floodnet:topology')

/** How long the session replacing a duplicate overlay link may take to start, ms: about a handshake. */
const REPLACE_WINDOW = 5000

/** floodnet message codes, relative to the capability. */
export enum FloodnetMsg {
  JoinReq = 0,
  Message = 1,
  JoinAck = 2,
  JoinOffer = 3,
  Spares = 4,
}

/** Options of {@link Floodnet}; the flood engine's options apply too. */
export interface FloodnetOptions extends Omit<FloodEngineOptions, 'selfId'> {
  /** Overlay neighbours to keep; also the number of JOIN_REQs sent when joining. @default 5 */
  desired?: number
  /** Hops a JOIN_REQ travels before it is dropped. @default 16 */
  joinHops?: number
  /** Hops a JOIN_REQ travels before a node may accept it (the walk mixes first); at most `joinHops`. @default 6 */
  joinMixHops?: number
  /**
   * Overlay links (and dials in flight) beyond which a node passes every JOIN_REQ on; a link
   * that would take it beyond (an answer to its own walk) is dropped, so it never holds
   * more. Contacts do not count. @default 2 × desired
   */
  maxDegree?: number
  /** enode URLs to join through, and to fall back to when no neighbour is left. @default [] */
  bootnodes?: string[]
  /** How long a sent JOIN_REQ counts as pending before a new one replaces it, ms. @default 1000 */
  joinWindow?: number
  /** First and largest delay between join rounds while short of neighbours, ms; doubled per round, jittered. @default [250, 5000] */
  joinBackoff?: [number, number]
  /** Random source in [0, 1), for seeded simulations. @default Math.random */
  random?: Random
  /** Whether to link to a JOIN_REQ's requester, once the fixed guards allow it. @default joinPolicies.degree */
  joinPolicy?: JoinPolicy
  /**
   * Keep spare addresses, gossip them, and repair through them after losing a neighbour (or
   * all of them) rather than only through the remaining neighbours and the bootnodes.
   * @default true
   */
  spares?: boolean
  /** Mean time between SPARES messages a node sends a random neighbour, ms (jittered ±50%). @default 30000 */
  sparesInterval?: number
}

/** Events on `floodnet.events`; the engine's `drop` and `message` events are forwarded. */
export interface FloodnetEvents extends FloodEvents {
  'neighbour:added': (id: string) => void
  'neighbour:removed': (id: string) => void
}

interface Link {
  rw: MsgReadWriter
  peer: Peer
  /** An overlay link (flooded over, counted in the degree); otherwise a contact. */
  overlay: boolean
  /** Dialled by us only to send JOIN_REQs through; closed once `desired` neighbours exist, unless it became an overlay link. */
  bootstrap: boolean
  /** Removes the link from the flood engine, once it is an overlay link. */
  unflood?: () => void
  /** Rate limit on the JOIN_REQs and JOIN_OFFERs this neighbour sends: each can make us dial. */
  joins: TokenBucket
  /** Our dials in flight for JOIN_REQs this neighbour handed us. */
  accepts: number
  /** Rate limit on the SPARES messages this neighbour sends. */
  spares: TokenBucket
}

/** A join token we issued: in a JOIN_REQ of ours, or in a JOIN_OFFER we made. */
interface Token {
  /** Until when a round counts the walk as still out (ours only). */
  windowEnd: number
  /** Until when a JOIN_ACK with it is accepted. */
  validUntil: number
  mine: boolean
  /** An offer for our walk was taken (we dial once per walk). */
  offerTaken: boolean
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
  /** The capability to register with the server: `floodnet/3`, five message codes. */
  readonly protocol: Protocol
  readonly desired: number
  readonly joinHops: number
  readonly joinMixHops: number
  readonly maxDegree: number
  #options: FloodnetOptions
  #bootnodes: Enode[]
  #random: Random
  #policy: JoinPolicy
  #clock: Clock = systemClock
  #joinWindow: number
  #backoff: [number, number]
  #delay: number
  #server: Server | undefined
  #engine: FloodEngine | undefined
  #links = new Map<string, Link>()
  #bootstrapping = new Set<string>()
  /** Links we are dialling to answer a join, and the token to present on each. */
  #dialsWithToken = new Map<string, string>()
  /** Tokens issued by us, for our walks and our offers. */
  #tokens = new Map<string, Token>()
  /** Nodes whose overlay link was closed for a duplicate session, until when the new session inherits it. */
  #replaced = new Map<string, number>()
  /** Where to send a JOIN_OFFER back for a forwarded walk of a requester that does not listen. */
  #routes = new Map<string, { from: string; until: number }>()
  /**
   * Enodes of neighbours that sent us their own JOIN_REQ, newest last. A node without
   * bootnodes — the network's first — has only such joiners as neighbours, and they all drop
   * it once they have others; without these it would be stranded alone for good.
   */
  #met: Enode[] = []
  #useSpares: boolean
  #sparesInterval: number
  readonly #spares = new SpareSet()
  /**
   * A neighbour left: until we are back to `desired`, every round joins through a spare (a
   * random node of the whole overlay, as HyParView refills from its passive view), never
   * through the remaining neighbours, which may be an island a failure cut off.
   */
  #repairViaSpare = false
  /** The last join through a spare failed to connect: the next one goes to the bootnodes. */
  #spareFailed = false
  /** Join rounds since the neighbourhood last changed: each one that follows a round came to nothing. */
  #stalled = 0
  #sparesTimer: Timer | undefined
  #timer: Timer | undefined
  #selfEnode: Enode | undefined
  #started = false
  #stopped = false

  constructor(options: FloodnetOptions = {}) {
    this.#options = options
    this.desired = positive(options.desired ?? DESIRED, 'desired')
    this.joinHops = positive(options.joinHops ?? JOIN_HOPS, 'joinHops')
    this.joinMixHops = options.joinMixHops ?? Math.min(JOIN_MIX_HOPS, this.joinHops - 1)
    if (!Number.isInteger(this.joinMixHops) || this.joinMixHops < 0 || this.joinMixHops >= this.joinHops) {
      throw new InvalidOptionError('joinMixHops', `must be an integer from 0 to joinHops − 1 (${this.joinHops - 1}), got ${this.joinMixHops}`)
    }
    this.maxDegree = positive(options.maxDegree ?? 2 * this.desired, 'maxDegree')
    this.#backoff = options.joinBackoff ?? JOIN_BACKOFF
    this.#delay = this.#backoff[0]
    this.#random = options.random ?? Math.random
    this.#policy = options.joinPolicy ?? joinPolicies.degree
    this.#joinWindow = positive(options.joinWindow ?? JOIN_WINDOW, 'joinWindow')
    this.#bootnodes = (options.bootnodes ?? []).map((url, i) => {
      try {
        return parseEnode(url)
      } catch (err) {
        throw new InvalidOptionError('bootnodes', `entry ${i}: ${(err as Error).message}`)
      }
    })
    this.#useSpares = options.spares ?? true
    this.#sparesInterval = positive(options.sparesInterval ?? SPARES_INTERVAL, 'sparesInterval')
    this.protocol = { name: 'floodnet', version: 3, length: 5, run: (peer, rw) => this.#run(peer, rw), nodeInfo: () => this.info() }
  }

  /**
   * Binds to the server whose connections floodnet uses; call before the server starts.
   * Time comes from the engine's `clock` option, else from the server's clock.
   */
  attach(server: Server): void {
    if (this.#server) throw new ServerStateError('floodnet is already attached to a server')
    this.#server = server
    this.#clock = this.#options.clock ?? server.clock
    this.#engine = new FloodEngine({ ...this.#options, clock: this.#clock, selfId: server.id })
    this.#engine.events.on('drop', (e) => this.events.emit('drop', e))
    this.#engine.events.on('message', (d) => this.events.emit('message', d))
  }

  /** The flooding engine (seen-cache, receive buffer, counters). */
  get engine(): FloodEngine {
    if (!this.#engine) throw new ServerStateError('floodnet is not attached: call attach(server) first')
    return this.#engine
  }

  /** Ids of the current overlay neighbours: the links broadcasts flood over. */
  get neighbours(): string[] {
    return [...this.#links.values()].filter((l) => l.overlay).map((l) => l.peer.id)
  }

  /** Overlay neighbour count; contacts do not count. */
  get degree(): number {
    return this.#degree()
  }

  /** Ids of the sessions floodnet runs on that are not overlay links (discovery's peers, bootstrap links, …). */
  get contacts(): string[] {
    return [...this.#links.values()].filter((l) => !l.overlay).map((l) => l.peer.id)
  }

  /** Links dialled only to send our JOIN_REQs through (a bootnode, a spare); closed once `desired` neighbours exist. */
  get bootstrapLinks(): number {
    let n = 0
    for (const link of this.#links.values()) if (link.bootstrap && !link.overlay) n++
    return n
  }

  /** Joins through the bootnodes (when given) and keeps `desired` neighbours from now on. */
  start(): void {
    const server = this.#server
    if (!server?.running) throw new ServerStateError('floodnet.start() needs an attached, started server')
    if (this.#started || this.#stopped) return
    this.#started = true
    for (const node of this.#bootnodes) this.#joinVia(node)
    this.#maintainSoon()
    if (this.#useSpares) this.#scheduleSpares()
  }

  /**
   * Joins through `node` now — a bootstrap link and JOIN_REQs sent through it — and keeps it
   * as a bootnode to rejoin through when no neighbour is left. For a node learnt at run time
   * (a `/connect`, an address resolved through discovery).
   * @throws {ServerStateError} before `start()` or after `stop()`
   */
  join(node: Enode | string): void {
    if (!this.#started || this.#stopped) throw new ServerStateError('floodnet.join() needs a started floodnet')
    const enode = typeof node === 'string' ? parseEnode(node) : node
    if (!this.#bootnodes.some((b) => b.id === enode.id)) this.#bootnodes.push(enode)
    this.#joinVia(enode)
  }

  /**
   * Stops: no more joins sent, accepted or dialled, no more relays, reads end. Links stay
   * open (other protocols may share them) until the server stops, but carry nothing.
   */
  stop(): void {
    this.#stopped = true
    this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
    this.#clock.clearTimeout(this.#sparesTimer)
    this.#sparesTimer = undefined
    this.#engine?.close()
  }

  /** Floods `payload` to every node; returns the message id (hex). @throws {ServerStateError} once stopped */
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

  /** Spare addresses known (not neighbours) to repair through. */
  get spares(): number {
    return this.#spares.size
  }

  /** Degree, neighbours, spares and counters, for `nodeInfo()` and the simulator. */
  info(): { degree: number; desired: number; neighbours: string[]; spares: number; stats: FloodEngine['stats'] | undefined } {
    return { degree: this.degree, desired: this.desired, neighbours: this.neighbours, spares: this.#spares.size, stats: this.#engine?.stats }
  }

  async #run(peer: Peer, rw: MsgReadWriter): Promise<void> {
    const bootstrap = this.#bootstrapping.delete(peer.id)
    // The server replaces a session when both nodes dialled each other at once: an overlay
    // link's replacement is the overlay link (no JOIN_ACK comes on it: the tokens are spent).
    const replacedUntil = this.#replaced.get(peer.id)
    this.#replaced.delete(peer.id)
    const inherits = this.#links.get(peer.id)?.overlay === true || (replacedUntil ?? 0) > this.#clock.now()
    const now = (): number => this.#clock.now()
    const link: Link = { rw, peer, overlay: false, bootstrap, joins: new TokenBucket(JOIN_RATE.rate, JOIN_RATE.burst, now), accepts: 0, spares: new TokenBucket(SPARES_RATE.rate, SPARES_RATE.burst, now) }
    const token = this.#dialsWithToken.get(peer.id)
    if (token !== undefined) {
      this.#dialsWithToken.delete(peer.id)
      if (this.#degree() >= this.maxDegree) {
        // Answers to our own walks came in while we dialled this requester: no room left.
        log('%s dialled requester %s, but has %d neighbours already: dropped', shortId(this.#server!.id), peer, this.#degree())
        peer.disconnect(DiscReason.TooManyPeers)
        return
      }
    }
    this.#links.set(peer.id, link)
    if (token !== undefined) this.#makeOverlay(link, token)
    else if (inherits) this.#makeOverlay(link)
    else {
      if (bootstrap) this.#spareFailed = false
      // A contact is a way in for a node short of neighbours (its rounds may have stopped
      // for want of one); a bootstrap link no longer needed (neighbours came while we
      // dialled it) goes at once.
      this.#degreeChanged()
    }
    try {
      for await (const msg of rw) this.#onMessage(link, msg)
    } finally {
      // A newer connection to the same node may have taken this id's place already.
      const current = this.#links.get(peer.id)
      if (current === link) this.#links.delete(peer.id)
      if (link.overlay && current?.overlay && current !== link) link.unflood!()
      else if (link.overlay) {
        if (peer.end?.reason === DiscReason.AlreadyConnected) this.#replacedSoon(peer.id)
        this.#overlayLinkClosed(link)
      }
    }
  }

  /**
   * Makes `link` an overlay link. `ack`: the join token to present first on it, so the other
   * side knows which of its joins the link answers (we dialled it, or accepted a contact).
   */
  #makeOverlay(link: Link, ack?: string): void {
    const { peer, rw } = link
    if (ack !== undefined) rw.writeMsg(FloodnetMsg.JoinAck, encodeAck(ack)).catch((err: Error) => log('JOIN_ACK to %s not sent: %s', shortId(peer.id), err.message))
    link.overlay = true
    link.unflood = this.engine.addNeighbour(peer.id, (payload) => rw.writeMsg(FloodnetMsg.Message, payload))
    this.#restartBackoff()
    this.#spareFailed = false
    log('%s neighbour %s added, degree %d', shortId(this.#server!.id), peer, this.#degree())
    this.events.emit('neighbour:added', peer.id)
    this.#degreeChanged()
  }

  /** Remembers, for a while, that an overlay link to `id` is being replaced by another session. */
  #replacedSoon(id: string): void {
    const now = this.#clock.now()
    for (const [other, until] of this.#replaced) if (until <= now) this.#replaced.delete(other)
    this.#replaced.set(id, now + REPLACE_WINDOW)
  }

  #overlayLinkClosed(link: Link): void {
    link.unflood!()
    if (this.#useSpares) this.#repairViaSpare = true
    log('%s neighbour %s removed, degree %d', shortId(this.#server!.id), link.peer, this.#degree())
    this.events.emit('neighbour:removed', link.peer.id)
    this.#restartBackoff()
    this.#degreeChanged()
  }

  #onMessage(link: Link, msg: Msg): void {
    if (this.#stopped) return
    const from = link.peer.id
    switch (msg.code) {
      case FloodnetMsg.Message:
        // A contact carries no floods: none are sent to it, and what it sends would escape
        // the per-neighbour rate limit.
        if (link.overlay) this.engine.handle(from, msg.payload)
        else this.engine.refuse(from)
        return
      case FloodnetMsg.JoinReq:
        this.#onJoin(link, decodeJoin(msg.payload))
        return
      case FloodnetMsg.JoinAck:
        this.#onAck(link, decodeAck(msg.payload))
        return
      case FloodnetMsg.JoinOffer: {
        const offer = decodeOffer(msg.payload)
        if (!link.joins.take()) return log('%s JOIN_OFFER from %s over its rate limit, dropped', shortId(this.#server!.id), shortId(from))
        this.#onOffer(offer.token, offer.acceptor)
        return
      }
      case FloodnetMsg.Spares: {
        const spares = decodeSpares(msg.payload)
        if (!link.spares.take()) return log('%s SPARES from %s over its rate limit, dropped', shortId(this.#server!.id), shortId(from))
        for (const node of spares) this.#addSpare(node)
      }
    }
  }

  /** Overlay links. */
  #degree(): number {
    let n = 0
    for (const link of this.#links.values()) if (link.overlay) n++
    return n
  }

  #degreeChanged(): void {
    if (this.#stopped) return
    if (this.#degree() >= this.desired) {
      // No rounds while satisfied: idle ones would keep doubling the delay, so a node that
      // then lost a neighbour would first wait out up to the largest delay.
      this.#restartBackoff()
      this.#repairViaSpare = false
      // Only links we dialled for it: a contact some other part of the server made stays.
      for (const link of this.#links.values()) if (link.bootstrap && !link.overlay) link.peer.disconnect(DiscReason.Requested)
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
    this.#clock.clearTimeout(this.#timer)
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined
      this.#maintain()
    }, delay)
  }

  /** Our walks still out, oldest window end first; expired tokens are forgotten on the way. */
  #walksOut(now: number): number[] {
    const out: number[] = []
    for (const [token, t] of this.#tokens) {
      if (t.validUntil <= now) this.#tokens.delete(token)
      else if (t.mine && !t.offerTaken && t.windowEnd > now) out.push(t.windowEnd)
    }
    return out.sort((a, b) => a - b)
  }

  /** One join round: ask for the missing neighbours, through a neighbour or else a bootnode. */
  #maintain(): void {
    // A stopped server dials no more: end the rounds rather than repeat them until stop().
    if (this.#stopped || !this.#server!.running) return
    const now = this.#clock.now()
    const out = this.#walksOut(now)
    const missing = this.desired - this.#degree()
    if (missing <= 0) return
    if (missing <= out.length) {
      // Enough walks are still out: look again when the first may be given up. Not a failed
      // round, so the backoff stays as it is.
      this.#schedule(out[0]! - now)
      return
    }
    // Rounds that came to nothing since the neighbourhood last changed.
    const stalled = this.#stalled++
    let asked = false
    if (this.#degree() === 0 || (this.#useSpares && (this.#repairViaSpare || stalled >= 2))) {
      // Through another node than our neighbours: we have none, or they may be an island a
      // failure left, or have nowhere to pass a walk on to. A spare is a random node of the
      // whole overlay (and rejoins do not all land on the bootnodes); after a spare that did
      // not answer, a contact (a peer already connected — discovery's, say — costs no dial),
      // else the bootnodes, else a node we met.
      const spare = this.#useSpares && !this.#spareFailed ? this.#pickSpare() : undefined
      this.#spareFailed = false
      const contacts = this.contacts
      const contact = spare || contacts.length === 0 ? undefined : pick(contacts, this.#random)
      const via = spare ? [spare] : contact ? [] : this.#bootnodes.length > 0 ? this.#bootnodes : this.#met.length > 0 ? [pick(this.#met, this.#random)] : []
      const through = contact ? [contact] : via.map((n) => n.id)
      // Bootstrap links of earlier rounds have passed their walks on: one contact at a time.
      for (const [id, link] of this.#links) if (link.bootstrap && !link.overlay && through.length > 0 && !through.includes(id)) link.peer.disconnect(DiscReason.Requested)
      for (const node of via) this.#joinVia(node, node === spare)
      if (contact) this.#sendOwnJoins(contact)
      asked = through.length > 0
      // Nobody to ask: the rounds resume when a neighbour or a contact comes.
      if (!asked && this.#degree() === 0) return
    }
    if (!asked) {
      // One walk more than needed: in a settled mesh a walk finds a node that accepts only
      // about half the time, and a neighbour too many is cheaper than a slow repair.
      const walks = missing - out.length + 1
      const ids = this.neighbours
      for (let i = 0; i < walks; i++) this.#sendOwnJoin(pick(ids, this.#random))
    }
    this.#maintainSoon()
  }

  /**
   * Connects to `node` (as a bootstrap link unless already connected) and sends our
   * JOIN_REQs through it. A spare that cannot be reached is forgotten.
   */
  #joinVia(node: Enode, spare = false): void {
    const server = this.#server!
    if (node.id === server.id) return
    if (!this.#links.has(node.id)) this.#bootstrapping.add(node.id)
    server
      .connect(node)
      .then(() => this.#sendOwnJoins(node.id))
      .catch((err: Error) => {
        this.#bootstrapping.delete(node.id)
        log('%s join via %s failed: %s', shortId(server.id), shortId(node.id), err.message)
        if (!spare) return
        this.#spares.remove(node.id)
        this.#spareFailed = true
      })
  }

  /** Sends JOIN_REQs of ours through the link to `via`, one per neighbour missing and not already sought by a walk out. */
  #sendOwnJoins(via: string): void {
    const wanted = this.desired - this.#degree() - this.#walksOut(this.#clock.now()).length
    for (let i = 0; i < wanted; i++) this.#sendOwnJoin(via)
  }

  /** A spare we may dial now: not a neighbour, not being dialled, an address we would dial. */
  #pickSpare(): Enode | undefined {
    return this.#spares.pick(this.#random, (n) => this.#requesterState(n) === 'new' && !this.#bootstrapping.has(n.id) && dialProblem(n, this.#server!.netrestrict) === undefined)
  }

  #addSpare(node: Enode): void {
    if (node.id === this.#server!.id || dialProblem(node, this.#server!.netrestrict) !== undefined) return
    this.#spares.add(node, this.#random)
  }

  #scheduleSpares(): void {
    this.#sparesTimer = this.#clock.setTimeout(() => this.#sendSpares(), this.#sparesInterval * (0.5 + this.#random()))
  }

  /** Tells one random neighbour about ourselves and a few of our spares. */
  #sendSpares(): void {
    if (this.#stopped) return
    this.#scheduleSpares()
    const ids = this.neighbours
    if (ids.length === 0) return
    const to = pick(ids, this.#random)
    const self = this.#self()
    const entries = this.#spares.sample(MAX_SPARES_PER_MESSAGE, this.#random).filter((n) => n.id !== to)
    if (self.host !== undefined) entries.unshift(self)
    if (entries.length === 0) return
    this.#links
      .get(to)!
      .rw.writeMsg(FloodnetMsg.Spares, encodeSpares(entries.slice(0, MAX_SPARES_PER_MESSAGE)))
      .catch((err: Error) => log('SPARES to %s not sent: %s', shortId(to), err.message))
  }

  /**
   * The neighbourhood changed: a join was answered, or a neighbour left. Either way the
   * backoff restarts — it exists to stop rounds that achieve nothing in a network that
   * stands still, not to slow the repair of one that just moved.
   */
  #restartBackoff(): void {
    this.#delay = this.#backoff[0]
    this.#stalled = 0
    if (this.#timer) {
      this.#clock.clearTimeout(this.#timer)
      this.#timer = undefined
    }
  }

  #self(): Enode {
    // The listener's address is fixed once the server runs; parsing hashes the key.
    this.#selfEnode ??= parseEnode(this.#server!.enode)
    return this.#selfEnode
  }

  /** Sends a JOIN_REQ of ours via `via`, under a fresh token that counts as a walk out for one join window. */
  #sendOwnJoin(via: string): void {
    const token = newToken()
    const now = this.#clock.now()
    this.#tokens.set(token, { windowEnd: now + this.#joinWindow, validUntil: now + JOIN_TOKEN_TTL, mine: true, offerTaken: false })
    this.#sendJoin(via, { token, requester: this.#self(), hopsLeft: this.joinHops })
  }

  #sendJoin(via: string, req: JoinRequest): void {
    const link = this.#links.get(via)
    if (!link) return
    link.rw.writeMsg(FloodnetMsg.JoinReq, encodeJoin(req)).catch((err: Error) => log('JOIN_REQ to %s not sent: %s', shortId(via), err.message))
  }

  #requesterState(requester: Enode): RequesterState {
    const server = this.#server!
    if (requester.id === server.id) return 'self'
    const link = this.#links.get(requester.id)
    if (link) return link.overlay ? 'neighbour' : 'contact'
    if (this.#dialsWithToken.has(requester.id)) return 'dialing'
    return 'new'
  }

  /** Accept (link to the requester) or pass the request on along the random walk. */
  #onJoin(link: Link, req: JoinRequest): void {
    const server = this.#server!
    const from = link.peer.id
    if (!link.joins.take()) return log('%s JOIN_REQ from %s over its rate limit, dropped', shortId(server.id), shortId(from))
    const { requester } = req
    const listens = requester.host !== undefined
    const problem = listens ? dialProblem(requester, server.netrestrict) : undefined
    if (problem) return log('%s JOIN_REQ from %s names requester %s we will not dial (%s), dropped', shortId(server.id), shortId(from), shortId(requester.id), problem)
    if (requester.id === from && listens) this.#remember(requester)
    // A walk's requester is a node somewhere in the overlay: hearsay, until a dial proves it.
    if (listens && this.#useSpares) this.#addSpare(requester)
    let pending = 0
    for (const l of this.#links.values()) pending += l.accepts
    const arrivedWith = Math.min(req.hopsLeft, this.joinHops)
    // Walks go on over contacts too: a contact runs floodnet as well, and a node that is
    // still joining (whose bootstrap link is a contact here) is the likeliest to accept.
    const candidates = [...this.#links.keys()].filter((id) => id !== from && id !== requester.id)
    const degree = this.#degree()
    const decision = decideJoin(
      {
        degree,
        committed: degree + this.bootstrapLinks + pending,
        desired: this.desired,
        maxDegree: this.maxDegree,
        acceptsViaSender: link.accepts,
        requester: this.#requesterState(requester),
        hopsLeft: arrivedWith,
        joinHops: this.joinHops,
        mixHops: this.joinMixHops,
        lastStop: arrivedWith <= 1 || candidates.length === 0,
      },
      this.#random(),
      this.#policy,
    )
    if (decision === 'accept') {
      const contact = this.#links.get(requester.id)
      if (contact) this.#makeOverlay(contact, req.token)
      else if (listens) this.#acceptByDial(link, req)
      else this.#acceptByOffer(link, req)
      return
    }
    const hopsLeft = arrivedWith - 1
    if (hopsLeft <= 0 || candidates.length === 0) return
    if (!listens) this.#route(req.token, from)
    this.#sendJoin(pick(candidates, this.#random), { ...req, hopsLeft })
  }

  /** Only a neighbour's own enode is kept: its key is the one its link authenticated. */
  #remember(node: Enode): void {
    this.#met = this.#met.filter((n) => n.id !== node.id)
    this.#met.push(node)
    if (this.#met.length > MAX_MET) this.#met.shift()
  }

  /** Links to a requester that listens by dialling it, presenting its token on the new link. */
  #acceptByDial(via: Link, req: JoinRequest): void {
    const server = this.#server!
    const requester = req.requester
    via.accepts++
    log('%s accepts JOIN_REQ of %s', shortId(server.id), shortId(requester.id))
    this.#dialWithToken(requester, req.token).finally(() => via.accepts--)
  }

  /**
   * Dials `node` for a join; the new link presents `token` first (see {@link #run}). Should
   * the node connect to us meanwhile, that link is a contact: it becomes the overlay link.
   */
  #dialWithToken(node: Enode, token: string): Promise<void> {
    const server = this.#server!
    this.#dialsWithToken.set(node.id, token)
    return server
      .connect(node)
      .then((peer) => {
        const link = this.#links.get(peer.id)
        if (this.#dialsWithToken.get(node.id) === token && link && !link.overlay) this.#makeOverlay(link, token)
      })
      .catch((err: Error) => log('%s could not dial %s for a join: %s', shortId(server.id), shortId(node.id), err.message))
      .finally(() => {
        if (this.#dialsWithToken.get(node.id) === token) this.#dialsWithToken.delete(node.id)
      })
  }

  /** Offers ourselves to a requester that does not listen: the offer retraces the walk. */
  #acceptByOffer(via: Link, req: JoinRequest): void {
    const self = this.#self()
    if (self.host === undefined) return
    const now = this.#clock.now()
    this.#tokens.set(req.token, { windowEnd: now, validUntil: now + JOIN_TOKEN_TTL, mine: false, offerTaken: false })
    log('%s offers itself to %s', shortId(this.#server!.id), shortId(req.requester.id))
    via.rw.writeMsg(FloodnetMsg.JoinOffer, encodeOffer({ token: req.token, acceptor: self })).catch((err: Error) => log('JOIN_OFFER not sent: %s', err.message))
  }

  /**
   * Remembers where a walk of a requester that does not listen came from, for its offer.
   * A walk that passes us again keeps the first hop: the way back then skips the loop, and
   * each hop back leads to a node the walk reached earlier, so the offer cannot circle.
   */
  #route(token: string, from: string): void {
    const now = this.#clock.now()
    for (const [t, r] of this.#routes) {
      if (r.until > now && this.#routes.size < MAX_ROUTES) break
      this.#routes.delete(t)
    }
    if (!this.#routes.has(token)) this.#routes.set(token, { from, until: now + JOIN_TOKEN_TTL })
  }

  /** An offer: ours to take (one dial per walk), or to pass back along the walk. */
  #onOffer(token: string, acceptor: Enode): void {
    const server = this.#server!
    const mine = this.#tokens.get(token)
    if (mine?.mine) {
      const problem = mine.offerTaken ? 'an offer for this walk was taken already' : dialProblem(acceptor, server.netrestrict)
      const state = this.#requesterState(acceptor)
      if (problem || (state !== 'new' && state !== 'contact')) return log('%s JOIN_OFFER of %s not taken: %s', shortId(server.id), shortId(acceptor.id), problem ?? 'already linked or dialling')
      mine.offerTaken = true
      const contact = this.#links.get(acceptor.id)
      if (contact) this.#makeOverlay(contact, token)
      else void this.#dialWithToken(acceptor, token)
      return
    }
    const route = this.#routes.get(token)
    if (!route || route.until <= this.#clock.now()) return
    this.#routes.delete(token)
    this.#links.get(route.from)?.rw.writeMsg(FloodnetMsg.JoinOffer, encodeOffer({ token, acceptor })).catch((err: Error) => log('JOIN_OFFER not passed back: %s', err.message))
  }

  /** A link presents a token: ours, once, or the link was not asked for. */
  #onAck(link: Link, token: string): void {
    const t = this.#tokens.get(token)
    if (!t || t.validUntil <= this.#clock.now()) {
      log('%s link from %s presents a token we did not issue: dropped', shortId(this.#server!.id), link.peer)
      link.peer.disconnect(DiscReason.UselessPeer)
      return
    }
    this.#tokens.delete(token)
    if (link.overlay) return
    if (this.#degree() >= this.maxDegree) {
      // Our own walks were answered while we accepted others': no room left. The other side
      // already floods over the link, so it goes, even a contact.
      log('%s link from %s answers our walk, but we have %d neighbours: dropped', shortId(this.#server!.id), link.peer, this.#degree())
      link.peer.disconnect(DiscReason.TooManyPeers)
      return
    }
    this.#makeOverlay(link)
  }
}

function positive(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new InvalidOptionError(name, `must be a positive integer, got ${value}`)
  return value
}
