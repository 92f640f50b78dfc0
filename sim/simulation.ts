/**
 * A floodnet simulation: real `Server`s with real `Floodnet`s on a {@link SimNetwork}, one
 * virtual clock, seeded keys and randomness. It starts and kills nodes, reads the overlay
 * (the graph of floodnet links), and measures broadcasts: who got them, after how many
 * hops and how long, at what cost in transmissions.
 * @module
 */
import { systemClock, type Clock } from '../lib/clock.js'
import type { ServerOptions } from '../lib/config.js'
import { isValidPrivateKey, keccak256 } from '../lib/crypto/index.js'
import { Server } from '../lib/server.js'
import { Floodnet, type FloodnetOptions } from '../protocols/floodnet/index.js'
import { seededRandom } from '../lib/random.js'
import { Graph, quantile, round } from './graph.js'
import { DEFAULT_LINK, mix, type LinkModel } from './link.js'
import { SimNetwork, type ConnectionKind } from './network.js'
import { RealTime, Scheduler } from './scheduler.js'

/**
 * How nodes connect: in memory on the virtual clock (`plain`, or `rlpx` with the real
 * crypto), or over real loopback TCP on the system clock (`tcp`: not deterministic, and
 * bounded by what one process can open).
 */
export type SimTransport = ConnectionKind | 'tcp'

/** Options of a {@link Simulation}. */
export interface SimulationOptions {
  seed: number
  /** @default 'plain' */
  transport?: SimTransport
  link?: Partial<LinkModel>
  /** Every node's floodnet options (bootnodes, clock and randomness are the simulation's). */
  floodnet?: Omit<FloodnetOptions, 'bootnodes' | 'random' | 'clock'>
  /** Every node's server options, over the defaults. */
  server?: Partial<ServerOptions>
  /** The entry node's server options, over `server`: a bootnode takes every newcomer's first link. @default { maxPeers: 1000 } */
  entryServer?: Partial<ServerOptions>
  /**
   * Every server runs discv4 on the simulated network, with the entry node as its bootnode,
   * and its dialer fills the outbound slots from what discovery finds (in-memory transports
   * only). @default false
   */
  discovery?: boolean
}

/** A node of the simulation. */
export interface SimNode {
  readonly index: number
  readonly id: string
  readonly enode: string
  readonly server: Server
  readonly net: Floodnet
  /** Virtual ms since the start of the simulation. */
  readonly startedAt: number
  diedAt?: number
  /** When it first had a neighbour other than a bootstrap link. */
  joinedAt?: number
}

/** What one broadcast achieved. */
export interface BroadcastResult {
  origin: number
  /** Nodes expected to get it: alive for the whole window, linked to the overlay when it was sent. */
  receivers: number
  delivered: number
  /** Deliveries to any node, expected or not (a node that joined meanwhile). */
  deliveredAll: number
  deliveryRatio: number
  /** Copies written to neighbours, by every node; null when another broadcast overlapped. */
  transmissions: number | null
  /** Nodes and floodnet links of the overlay when it was sent. */
  nodes: number
  links: number
  /** 2E − (N − 1): the cost of a flood over a connected, unchanging overlay. */
  floodCost: number
  /**
   * Neighbours of the origin that heard the message first from another node: they do not
   * send it back to the origin (the engine never relays to a message's origin), so a flood
   * over a connected, unchanging overlay costs exactly `floodCost − originSkips`.
   */
  originSkips: number
  /** The overlay did not change while the message travelled (the flood cost applies). */
  stable: boolean
  /** Hops of the last delivery (LDH), and of the longest. */
  lastDeliveryHop: number
  maxHops: number
  latencyMs: { p50: number | null; p99: number | null; max: number | null }
  /** Relays not made for the hop limit; null when another broadcast overlapped. */
  hopLimitDrops: number | null
}

/** A broadcast on its way; see {@link Simulation.send}. */
export interface PendingBroadcast {
  readonly id: string
  result(): BroadcastResult
}

interface Tracking {
  at: number
  /** Another broadcast was on its way at the same time. */
  overlapped: boolean
  /** Node index → hops and virtual time of its delivery. */
  delivered: Map<number, { hops: number; at: number; from: string }>
}

/** Node `index`'s key: keccak256 of the seed and index, so a seed names the same nodes every run. */
export function simKey(seed: number, index: number): Buffer {
  for (let attempt = 0; ; attempt++) {
    const key = keccak256(Buffer.from(`floodnet-sim/${seed}/${index}/${attempt}`))
    if (isValidPrivateKey(key)) return key
  }
}

/** See the module comment. */
export class Simulation {
  /** Drives virtual time; for `tcp`, a stand-in that waits real time. */
  readonly scheduler: Scheduler | RealTime
  /** The in-memory network; absent for `tcp`. */
  readonly network: SimNetwork | undefined
  /** Where scenarios set their own timers (arrivals, churn): the clock the nodes run on. */
  readonly clock: Clock
  /** Every node ever started, in the order they started. */
  readonly nodes: SimNode[] = []
  readonly seed: number
  entry: SimNode | undefined
  #options: SimulationOptions
  #alive = new Set<SimNode>()
  #byId = new Map<string, SimNode>()
  #tracking = new Map<string, Tracking>()
  /** Sessions that reached the peer stage, counted at the dialling end. */
  sessions = 0
  #messages = 0
  #nextIndex = 0

  constructor(options: SimulationOptions) {
    this.#options = options
    this.seed = options.seed
    const transport = options.transport ?? 'plain'
    if (transport === 'tcp') {
      this.scheduler = new RealTime()
      this.network = undefined
      this.clock = systemClock
    } else {
      const scheduler = new Scheduler()
      this.scheduler = scheduler
      this.clock = scheduler.clock
      this.network = new SimNetwork({ clock: scheduler.clock, seed: options.seed, model: { ...DEFAULT_LINK, ...options.link }, kind: transport })
    }
  }

  /** Virtual ms since the start. */
  get now(): number {
    return this.scheduler.elapsed
  }

  /** Nodes alive now, oldest first. */
  get alive(): SimNode[] {
    return [...this.#alive]
  }

  get aliveCount(): number {
    return this.#alive.size
  }

  /** `desired` of every node. */
  get desired(): number {
    return this.#options.floodnet?.desired ?? 5
  }

  runFor(ms: number): Promise<void> {
    return this.scheduler.runFor(ms)
  }

  /** Runs until `ms` virtual ms since the start. */
  runUntil(ms: number): Promise<void> {
    return this.scheduler.runUntil(this.scheduler.start + ms)
  }

  /**
   * Starts a node now. The first node started is the entry node, with no bootnodes; every
   * later one joins through it.
   */
  async addNode(): Promise<SimNode> {
    // Taken before the first await: nodes may start concurrently (churn), each on its own host.
    const index = this.#nextIndex++
    const isEntry = this.entry === undefined
    const network = this.network
    const random = network ? network.host(index).random : seededRandom(mix(this.seed, 0x4057, index))
    let counter = 0
    const net = new Floodnet({
      ...this.#options.floodnet,
      bootnodes: isEntry ? [] : [this.entry!.enode],
      random,
      // Message ids from the seed too: nothing in a run comes from outside it.
      messageId: () => {
        const id = Buffer.alloc(16)
        id.writeUInt32BE(index, 0)
        id.writeUInt32BE(counter++, 4)
        id.writeUInt32BE(mix(this.seed, index, counter), 8)
        return id
      },
    })
    const discovery = this.#options.discovery === true && network !== undefined
    const server = new Server({
      maxPeers: 25,
      discovery,
      ...(discovery && !isEntry && { bootnodes: [this.entry!.enode] }),
      ...this.#options.server,
      ...(isEntry ? { maxPeers: 1000, ...this.#options.entryServer } : {}),
      privateKey: simKey(this.seed, index),
      protocols: [net.protocol],
      random,
      ...(network ? { listenAddr: `${network.host(index).ip}:30303`, clock: network.host(index).clock, transport: network.transport(index) } : { listenAddr: '127.0.0.1:0' }),
    })
    net.attach(server)
    server.events.on('peer:added', (peer) => {
      if (!peer.inbound) this.sessions++
    })
    await server.start()
    net.start()
    const node: SimNode = { index, id: server.id, enode: server.enode, server, net, startedAt: this.now }
    net.events.on('neighbour:added', () => {
      if (node.joinedAt === undefined && net.degree > 0) node.joinedAt = this.now
    })
    net.events.on('message', (d) => this.#tracking.get(d.id)?.delivered.set(index, { hops: d.hops, at: this.now, from: d.from }))
    // Read what is delivered, as an application would, so receive buffers do not overflow.
    void (async () => {
      while (await net.read());
    })()
    this.nodes.push(node)
    this.#alive.add(node)
    this.#byId.set(node.id, node)
    this.entry ??= node
    return node
  }

  /** Crashes `node`: no goodbye, its peers find out from their connections closing. */
  kill(node: SimNode): void {
    if (!this.#alive.delete(node)) return
    node.diedAt = this.now
    if (this.network) this.network.crash(node.index)
    else {
      // Real sockets: the closest to a crash one process can do to its own node.
      node.net.stop()
      void node.server.stop()
    }
  }

  /** Stops every node (for `tcp`, whose sockets would keep the process alive). */
  async stop(): Promise<void> {
    for (const n of this.#alive) n.net.stop()
    await Promise.all([...this.#alive].map((n) => n.server.stop()))
  }

  /**
   * The overlay among `nodes` (alive ones by default): a link wherever two nodes have each
   * other as floodnet neighbours. `nodes[i]` is vertex i.
   */
  overlay(nodes: SimNode[] = this.alive): Graph {
    const index = new Map<SimNode, number>()
    nodes.forEach((n, i) => index.set(n, i))
    const edges: [number, number][] = []
    for (const [i, n] of nodes.entries()) {
      for (const id of n.net.neighbours) {
        const other = this.#byId.get(id)
        const j = other === undefined ? undefined : index.get(other)
        if (j === undefined || j <= i) continue
        if (other!.net.neighbours.includes(n.id)) edges.push([i, j])
      }
    }
    return new Graph(nodes.length, edges)
  }

  /**
   * Settled: every alive node has `desired` neighbours (or all the others, in a smaller
   * network) that are not bootstrap links, holds no bootstrap link, every link is seen from
   * both ends (none half closed), and the overlay is one component.
   */
  settled(): boolean {
    const want = Math.min(this.desired, this.#alive.size - 1)
    let ends = 0
    for (const n of this.#alive) {
      if (n.net.bootstrapLinks > 0 || n.net.degree < want) return false
      ends += n.net.degree
    }
    const graph = this.overlay()
    return ends === 2 * graph.edges.length && graph.components().length <= 1
  }

  /**
   * Runs until {@link settled} holds, checking every `step` ms; returns when it first held
   * (virtual ms since the start), or undefined when `limit` ms passed first.
   */
  async runUntilSettled(limit: number, step = 100): Promise<number | undefined> {
    const end = this.now + limit
    for (;;) {
      if (this.settled()) return this.now
      if (this.now >= end) return undefined
      await this.runFor(Math.min(step, end - this.now))
    }
  }

  /** Sum of a flood counter over every node that ever ran. */
  #total(counter: (n: SimNode) => number): number {
    let sum = 0
    for (const n of this.nodes) sum += counter(n)
    return sum
  }

  /**
   * Has `from` broadcast one message and runs `window` virtual ms; the receivers expected
   * are the nodes alive all that time that had a floodnet link when it was sent.
   */
  async broadcast(from: SimNode, window: number): Promise<BroadcastResult> {
    const pending = this.send(from)
    await this.runFor(window)
    return pending.result()
  }

  /**
   * Has `from` broadcast one message now, without running the clock; `result()`, called
   * later, reports what it achieved by then. Broadcasts may overlap; their transmissions
   * are then not told apart (`transmissions` is null).
   */
  send(from: SimNode): PendingBroadcast {
    const start = this.now
    const before = this.alive
    const graph = this.overlay(before)
    const signature = edgeSignature(this, before)
    const linked = new Set(before.filter((n) => n.net.degree > 0))
    const sent = this.#total((n) => n.net.engine.stats.sent)
    const hopDrops = this.#total((n) => n.net.engine.stats.dropped['last-hop'])
    const id = from.net.write(Buffer.from(`broadcast ${this.#messages++} from node ${from.index}`))
    const tracking: Tracking = { at: start, delivered: new Map(), overlapped: this.#tracking.size > 0 }
    for (const other of this.#tracking.values()) other.overlapped = true
    this.#tracking.set(id, tracking)
    return {
      id,
      result: (): BroadcastResult => {
        this.#tracking.delete(id)
        const stable = edgeSignature(this, before) === signature && this.#alive.size === before.length
        let receivers = 0
        let delivered = 0
        for (const n of linked) {
          if (n === from || n.diedAt !== undefined) continue
          receivers++
          if (tracking.delivered.has(n.index)) delivered++
        }
        const arrivals = [...tracking.delivered.values()]
        const latencies = arrivals.map((a) => a.at - start).sort((a, b) => a - b)
        const last = arrivals.reduce((l, a) => (a.at > l.at ? a : l), { hops: 0, at: -1 })
        return {
          origin: from.index,
          receivers,
          delivered,
          deliveredAll: arrivals.length,
          deliveryRatio: receivers === 0 ? 1 : round(delivered / receivers, 6),
          transmissions: tracking.overlapped ? null : this.#total((n) => n.net.engine.stats.sent) - sent,
          nodes: graph.n,
          links: graph.edges.length,
          floodCost: 2 * graph.edges.length - (graph.n - 1),
          originSkips: from.net.neighbours.filter((nid) => {
            const first = tracking.delivered.get(this.#byId.get(nid)?.index ?? -1)
            return first !== undefined && first.from !== from.id
          }).length,
          stable,
          lastDeliveryHop: last.hops,
          maxHops: arrivals.reduce((m, a) => Math.max(m, a.hops), 0),
          latencyMs: { p50: roundOrNull(quantile(latencies, 0.5)), p99: roundOrNull(quantile(latencies, 0.99)), max: roundOrNull(latencies.at(-1) ?? null) },
          hopLimitDrops: tracking.overlapped ? null : this.#total((n) => n.net.engine.stats.dropped['last-hop']) - hopDrops,
        }
      },
    }
  }
}

function roundOrNull(x: number | null): number | null {
  return x === null ? null : round(x, 1)
}

/** A fingerprint of the links among `nodes`: equal before and after when no link changed. */
function edgeSignature(sim: Simulation, nodes: SimNode[]): string {
  let sum = 0
  let count = 0
  for (const n of nodes) {
    for (const id of n.net.neighbours) {
      count++
      sum = (sum + mix(n.index, Number.parseInt(id.slice(0, 8), 16))) % 2 ** 48
    }
  }
  return `${count}:${sum}:${sim.aliveCount}`
}
