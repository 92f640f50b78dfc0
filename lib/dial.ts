/**
 * The dialer: which nodes to dial, and when. It keeps static nodes connected (redialling
 * with jittered, doubling backoff), runs one-shot dials (bootnodes, `connect()`, floodnet's
 * accepts), and fills the outbound slots from a candidate source (discovery) as
 * go-ethereum's dial scheduler does — never more than `maxActiveDials` dials in flight, and
 * never the same node twice within the history window. The decisions are pure functions
 * ({@link checkDial}, {@link freeDialSlots}, {@link redialDelay}) with table tests; the
 * class only applies them on the injected clock.
 * @module
 */
import { setMaxListeners } from 'node:events'
import type { Clock, Timer } from './clock.js'
import type { Enode } from './enode.js'
import { ServerStateError } from './errors.js'
import { logger, shortId } from './log.js'
import type { Netlist } from './netutil.js'
import type { Random } from './random.js'

const log = logger('devp2p:dial')

/**
 * How long a dialled node is not dialled again from the candidate source: a bit longer than
 * the remote's inbound throttle, so a small network does not fail its own redials
 * (go-ethereum's dialHistoryExpiration).
 */
export const DIAL_HISTORY = 35_000
/** How often an empty candidate source is asked again while slots are free. */
export const CANDIDATE_RETRY = 1000

/** A node with an address to dial. */
export type DialNode = Enode & { host: string; tcpPort: number }

/** Why a node is not dialled. */
export type DialSkip = 'self' | 'no-address' | 'connected' | 'dialing' | 'netrestrict' | 'recently-dialled'

/** What {@link checkDial} looks at. */
export interface DialCheck {
  selfId: string
  connected(id: string): boolean
  dialing: { has(id: string): boolean }
  netrestrict: Netlist | undefined
  /** Ids dialled recently, with when they may be dialled again. */
  history: ReadonlyMap<string, number>
  now: number
}

/** The reason `node` must not be dialled now, or undefined when it may. */
export function checkDial(node: Enode, s: DialCheck): DialSkip | undefined {
  if (node.id === s.selfId) return 'self'
  if (node.host === undefined || node.tcpPort === undefined) return 'no-address'
  if (s.connected(node.id)) return 'connected'
  if (s.dialing.has(node.id)) return 'dialing'
  if (s.netrestrict && !s.netrestrict.contains(node.host)) return 'netrestrict'
  if ((s.history.get(node.id) ?? -Infinity) > s.now) return 'recently-dialled'
  return undefined
}

/**
 * Dials to start from the candidate source: twice the outbound slots not taken by peers we
 * dialled (dials fail often), at most `maxActiveDials` in flight altogether — go-ethereum's
 * freeDialSlots — and never more than the server has peer slots left: a protocol's dials
 * (floodnet's joins) may go beyond the outbound slots, and a dial into a full server would
 * only end in our own "too many peers".
 */
export function freeDialSlots(maxDialPeers: number, dialPeers: number, dynamicDialing: number, maxActiveDials: number, peerSlotsLeft: number): number {
  const slots = Math.min(Math.max(0, maxDialPeers - dialPeers) * 2, maxActiveDials, Math.max(0, peerSlotsLeft))
  return Math.max(0, slots - dynamicDialing)
}

/** Delay before redialling a static node after `failures` failed dials: doubling, capped, jittered to 50–100%. */
export function redialDelay(failures: number, [min, max]: readonly [number, number], random: Random): number {
  return Math.min(max, min * 2 ** Math.min(failures, 20)) * (0.5 + random() / 2)
}

/** Where the dialer finds nodes to fill its outbound slots: discovery. */
export interface CandidateSource {
  /** A node worth dialling, or undefined when none is known right now. */
  next(): Enode | undefined
}

/** What the dialer needs from its owner. */
export interface DialerConfig<P> {
  selfId: string
  /** Outbound slots filled from the candidate source: `floor(maxPeers / dialRatio)`. */
  maxDialPeers: number
  /** Dials in flight at once; further ones wait their turn. */
  maxActiveDials: number
  redialBackoff: readonly [number, number]
  netrestrict: Netlist | undefined
  clock: Clock
  random: Random
  connected(id: string): boolean
  /**
   * Peers we dialled, whoever asked for the dial (candidates, static nodes, `connect()`, a
   * protocol's own): all take the outbound slots, as go-ethereum counts its static and
   * dynamic dials alike. Counting only the candidates' would let the rest crowd out the room
   * kept for inbound peers.
   */
  dialedPeers(): number
  /** Peers the server may still add: `maxPeers` minus its peers. */
  peerSlotsLeft(): number
  /** Connects and runs the handshakes; resolves with the added peer. */
  dial(node: DialNode, signal: AbortSignal): Promise<P>
}

interface StaticNode {
  node: DialNode
  failures: number
  timer: Timer | undefined
}

/** See the module comment. */
export class Dialer<P> {
  #c: DialerConfig<P>
  #running = true
  #active = 0
  #queue: (() => void)[] = []
  #dials = new Map<string, Promise<P>>()
  #dynamic = new Set<string>()
  #history = new Map<string, number>()
  #static = new Map<string, StaticNode>()
  #abort = new AbortController()
  #source: CandidateSource | undefined
  #fillTimer: Timer | undefined

  constructor(config: DialerConfig<P>) {
    this.#c = config
    // Every dial in flight listens on the one stop signal: up to maxActiveDials of them.
    setMaxListeners(0, this.#abort.signal)
  }

  /** Ids of the static nodes. */
  get staticIds(): string[] {
    return [...this.#static.keys()]
  }

  /**
   * Dials `node` once: the same promise for a node already being dialled; waits for a free
   * dial slot first. Explicit dials ignore the history window.
   */
  dial(node: DialNode): Promise<P> {
    let dial = this.#dials.get(node.id)
    if (!dial) {
      dial = this.#run(node).finally(() => this.#dials.delete(node.id))
      this.#dials.set(node.id, dial)
    }
    return dial
  }

  async #run(node: DialNode): Promise<P> {
    while (this.#active >= this.#c.maxActiveDials && this.#running) await new Promise<void>((resolve) => this.#queue.push(resolve))
    if (!this.#running) throw new ServerStateError('server stopped while the dial waited')
    this.#active++
    this.#history.set(node.id, this.#c.clock.now() + DIAL_HISTORY)
    try {
      return await this.#c.dial(node, this.#abort.signal)
    } finally {
      this.#active--
      this.#queue.shift()?.()
    }
  }

  /** Keeps `node` connected from now on (see {@link redialDelay}). */
  addStatic(node: DialNode): void {
    if (node.id === this.#c.selfId || this.#static.has(node.id)) return
    this.#static.set(node.id, { node, failures: 0, timer: undefined })
    this.#dialStatic(node.id)
  }

  /** Stops keeping `id` connected; returns whether it was static. */
  removeStatic(id: string): boolean {
    const s = this.#static.get(id)
    if (!s) return false
    this.#c.clock.clearTimeout(s.timer)
    this.#static.delete(id)
    return true
  }

  /** The owner added a peer: a static node's failures are forgotten. */
  peerAdded(id: string): void {
    const s = this.#static.get(id)
    if (s) s.failures = 0
  }

  /** The owner lost a peer: redial it if static; its slot may take a candidate. */
  peerRemoved(id: string): void {
    this.#fill()
    this.#scheduleRedial(id)
  }

  /** Sets (or clears) the source the free outbound slots are filled from. */
  setCandidates(source: CandidateSource | undefined): void {
    this.#source = source
    this.#fill()
  }

  /** Stops everything: waiting dials reject, dials in flight are aborted with `reason`. */
  stop(reason: Error): void {
    this.#running = false
    this.#c.clock.clearTimeout(this.#fillTimer)
    for (const s of this.#static.values()) this.#c.clock.clearTimeout(s.timer)
    this.#static.clear()
    for (const wake of this.#queue.splice(0)) wake()
    this.#abort.abort(reason)
  }

  /** Settles once every dial has. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#dials.values()])
  }

  #dialStatic(id: string): void {
    const s = this.#static.get(id)
    if (!s || !this.#running || this.#c.connected(id)) return
    this.dial(s.node).catch((err: Error) => {
      log('static node %s@%s:%d: %s', shortId(id), s.node.host, s.node.tcpPort, err.message)
      s.failures++
      this.#scheduleRedial(id)
    })
  }

  #scheduleRedial(id: string): void {
    const s = this.#static.get(id)
    if (!s || !this.#running || this.#c.connected(id)) return
    this.#c.clock.clearTimeout(s.timer)
    s.timer = this.#c.clock.setTimeout(() => this.#dialStatic(id), redialDelay(s.failures, this.#c.redialBackoff, this.#c.random))
  }

  /** Starts dials from the candidate source into the free outbound slots. */
  #fill(): void {
    if (!this.#source || !this.#running) return
    const now = this.#c.clock.now()
    for (const [id, until] of this.#history) {
      if (until > now) break
      this.#history.delete(id)
    }
    let free = freeDialSlots(this.#c.maxDialPeers, this.#c.dialedPeers(), this.#dynamic.size, this.#c.maxActiveDials, this.#c.peerSlotsLeft())
    const check: DialCheck = { selfId: this.#c.selfId, connected: this.#c.connected, dialing: this.#dials, netrestrict: this.#c.netrestrict, history: this.#history, now }
    // A source that keeps offering nodes we skip must not hold us here: one pass of at most
    // a few times the free slots.
    for (let tries = free * 4; free > 0 && tries > 0; tries--) {
      const node = this.#source.next()
      if (!node) break
      const skip = checkDial(node, check)
      if (skip) continue
      free--
      this.#dialCandidate(node as DialNode)
    }
    this.#c.clock.clearTimeout(this.#fillTimer)
    this.#fillTimer = free > 0 ? this.#c.clock.setTimeout(() => this.#fill(), CANDIDATE_RETRY) : undefined
  }

  #dialCandidate(node: DialNode): void {
    this.#dynamic.add(node.id)
    this.dial(node).then(
      () => {
        this.#dynamic.delete(node.id)
        this.#fill()
      },
      (err: Error) => {
        this.#dynamic.delete(node.id)
        log('candidate %s@%s:%d: %s', shortId(node.id), node.host, node.tcpPort, err.message)
        this.#fill()
      },
    )
  }
}
