/**
 * The experiments of `npm run sim`: each builds a {@link Simulation}, drives it, and returns
 * one JSON-ready object. Everything in it is virtual time and counts — wall time and memory
 * are the caller's to print elsewhere — so the same seed gives the same object, byte for
 * byte.
 * @module
 */
import { seededRandom, type Random } from '../lib/random.js'
import { joinPolicies, type JoinPolicy } from '../protocols/floodnet/index.js'
import { round, summary } from './graph.js'
import { mix, type LinkModel } from './link.js'
import { Simulation, type BroadcastResult, type PendingBroadcast, type SimNode, type SimTransport, type SimulationOptions } from './simulation.js'

/** What every scenario is told. */
export interface ScenarioOptions {
  nodes: number
  seed: number
  transport: SimTransport
  link: Partial<LinkModel>
  floodnet: NonNullable<SimulationOptions['floodnet']>
  /** Arrivals per virtual second while the overlay grows. @default 100 */
  rate: number
  /** Broadcasts measured on the grown overlay. @default 10 */
  messages: number
  /** Virtual ms each broadcast is given to spread. @default 5000 */
  window: number
  /** Virtual ms to wait for the overlay to settle before giving up. @default 600000 */
  settleLimit: number
}

/** What a scenario is told when the caller says nothing. */
export const SCENARIO_DEFAULTS: ScenarioOptions = {
  nodes: 1000,
  seed: 1,
  transport: 'plain',
  link: {},
  floodnet: {},
  rate: 100,
  messages: 10,
  window: 5000,
  settleLimit: 600_000,
}

/** Virtual ms between settling and measuring: longer than a walk, a dial and a handshake. */
const QUIET_AFTER_SETTLE = 5000

/** The scenario's own randomness (who writes, who dies): apart from the nodes'. */
function scenarioRandom(seed: number, salt: number): Random {
  return seededRandom(mix(seed, 0x5ce9, salt))
}

function simulation(o: ScenarioOptions, floodnet = o.floodnet, discovery = false): Simulation {
  return new Simulation({ seed: o.seed, transport: o.transport, link: o.link, floodnet, discovery })
}

/** Starts the entry node, then `n − 1` nodes at the given virtual times (ms, ascending). */
async function arrive(sim: Simulation, times: number[], onEntry: (entry: SimNode) => void): Promise<void> {
  onEntry(await sim.addNode())
  for (const t of times) {
    await sim.runUntil(t)
    await sim.addNode()
  }
}

/** Arrival times of `n − 1` nodes, one every 1/rate s. */
function steadyArrivals(n: number, rate: number): number[] {
  return Array.from({ length: n - 1 }, (_, i) => Math.round(((i + 1) * 1000) / rate))
}

/** The overlay's figures: degrees, components, path lengths against ln N / ln(mean degree). */
export function describeOverlay(sim: Simulation, withPaths = true) {
  const nodes = sim.alive
  const graph = sim.overlay(nodes)
  const degrees = nodes.map((n) => n.net.degree)
  const d = summary(degrees)
  const components = graph.components()
  const paths = withPaths ? graph.pathLengths() : undefined
  const randomGraph = d.mean > 1 ? Math.log(nodes.length) / Math.log(d.mean) : null
  return {
    nodes: nodes.length,
    links: graph.edges.length,
    degree: { mean: round(d.mean), variance: round(d.variance), min: d.min, max: d.max, histogram: d.histogram },
    entryDegree: sim.entry && sim.entry.diedAt === undefined ? sim.entry.net.degree : null,
    components: components.length,
    largestComponent: components[0] ?? 0,
    pathLength: paths && {
      mean: round(paths.mean),
      max: paths.max,
      /** ln N / ln(mean degree): the typical distance in a random graph of this size and degree. */
      randomGraph: randomGraph === null ? null : round(randomGraph),
      meanOverRandomGraph: randomGraph === null ? null : round(paths.mean / randomGraph),
      histogram: paths.histogram,
    },
  }
}

/** A summary of broadcasts: delivery, cost against 2E − (N − 1), hops, latency, hop-limit drops. */
export function describeBroadcasts(results: BroadcastResult[]) {
  const stable = results.filter((r) => r.stable && r.transmissions !== null)
  const counted = results.filter((r) => r.transmissions !== null)
  const countedDelivered = counted.reduce((s, r) => s + r.deliveredAll, 0)
  const receivers = results.reduce((s, r) => s + r.receivers, 0)
  const delivered = results.reduce((s, r) => s + r.delivered, 0)
  return {
    count: results.length,
    deliveryRatio: receivers === 0 ? null : round(delivered / receivers, 6),
    minDeliveryRatio: results.length === 0 ? null : Math.min(...results.map((r) => r.deliveryRatio)),
    allDelivered: results.every((r) => r.delivered === r.receivers),
    /** Broadcasts over an unchanged overlay whose transmissions were exactly 2E − (N − 1) − originSkips. */
    floodCostExact: `${stable.filter((r) => r.transmissions === r.floodCost - r.originSkips).length}/${stable.length}`,
    transmissionsPerBroadcast: counted.length === 0 ? null : round(counted.reduce((s, r) => s + r.transmissions!, 0) / counted.length, 1),
    /** Transmissions per delivery, minus one (RMR): 0 for a tree, mean degree − 2 for a flood. */
    relativeMessageRedundancy: countedDelivered === 0 ? null : round(counted.reduce((s, r) => s + r.transmissions!, 0) / countedDelivered - 1),
    lastDeliveryHop: results.length === 0 ? null : Math.max(...results.map((r) => r.lastDeliveryHop)),
    maxHops: results.length === 0 ? null : Math.max(...results.map((r) => r.maxHops)),
    latencyMs: {
      p50: results.length === 0 ? null : round(results.reduce((s, r) => s + (r.latencyMs.p50 ?? 0), 0) / results.length, 1),
      p99: results.length === 0 ? null : round(results.reduce((s, r) => s + (r.latencyMs.p99 ?? 0), 0) / results.length, 1),
      max: results.length === 0 ? null : Math.max(...results.map((r) => r.latencyMs.max ?? 0)),
    },
    hopLimitDrops: counted.reduce((s, r) => s + r.hopLimitDrops!, 0),
    each: results.map((r) => ({ origin: r.origin, delivered: `${r.delivered}/${r.receivers}`, transmissions: r.transmissions, floodCost: r.floodCost, originSkips: r.originSkips, stable: r.stable, ldh: r.lastDeliveryHop })),
  }
}

/** `k` broadcasts one after the other, each from a random linked node. */
async function broadcasts(sim: Simulation, k: number, window: number, random: Random): Promise<BroadcastResult[]> {
  const results: BroadcastResult[] = []
  for (let i = 0; i < k; i++) {
    const linked = sim.alive.filter((n) => n.net.degree > 0)
    if (linked.length === 0) break
    results.push(await sim.broadcast(linked[Math.floor(random() * linked.length)]!, window))
  }
  return results
}

/** Connections made, refused, and how many never became a session (a handshake or Hello that failed, or an admission refused). */
function connections(sim: Simulation) {
  const stats = sim.network?.stats
  return stats ? { ...stats, sessions: sim.sessions, failedSetups: stats.accepted - sim.sessions } : { sessions: sim.sessions }
}

/** Per-node join times: from start to a first real neighbour, p50 and max, virtual ms. */
function joinTimes(nodes: SimNode[]) {
  const times = nodes.filter((n) => n.joinedAt !== undefined).map((n) => n.joinedAt! - n.startedAt).sort((a, b) => a - b)
  return { joined: `${times.length}/${nodes.length}`, p50: times.length ? round(times[Math.floor(times.length / 2)]!, 1) : null, max: times.length ? round(times.at(-1)!, 1) : null }
}

/** Grows an overlay through one entry node at `rate` arrivals a second and lets it settle. */
async function grow(o: ScenarioOptions, sim: Simulation, times = steadyArrivals(o.nodes, o.rate)) {
  let peers = 0
  let links = 0
  await arrive(sim, times, (entry) => {
    entry.server.events.on('peer:added', () => (peers = Math.max(peers, entry.server.peerCount)))
    entry.net.events.on('neighbour:added', () => (links = Math.max(links, entry.net.degree)))
  })
  const lastArrival = sim.now
  const settledAt = await sim.runUntilSettled(o.settleLimit)
  // Walks sent before it settled may still find an acceptor for a while: let them, so the
  // broadcasts measured next see an overlay that stands still.
  await sim.runFor(QUIET_AFTER_SETTLE)
  return {
    lastArrivalMs: lastArrival,
    /** Virtual ms from the last arrival until {@link Simulation.settled}; null when it did not within the limit. */
    settleMs: settledAt === undefined ? null : settledAt - lastArrival,
    /** Most peers the entry node held at once (newcomers' links to it included), and most floodnet links it counted. */
    entryPeak: { peers, links },
  }
}

/**
 * `join`: nodes arrive through one entry node, `rate` a second (or at the given virtual
 * times); once the overlay settles, its figures and `messages` broadcasts.
 */
export async function joinScenario(o: ScenarioOptions, times = steadyArrivals(o.nodes, o.rate)) {
  const sim = simulation(o)
  const growth = await grow(o, sim, times)
  const overlay = describeOverlay(sim)
  const measured = await broadcasts(sim, o.messages, o.window, scenarioRandom(o.seed, 1))
  return { ...growth, joinTimes: joinTimes(sim.nodes), overlay, broadcasts: describeBroadcasts(measured), connections: connections(sim) }
}

/** `flash-crowd`: every node but the entry arrives at a random instant of the first 10 virtual seconds. */
export function flashCrowdScenario(o: ScenarioOptions) {
  const random = scenarioRandom(o.seed, 2)
  return joinScenario(o, Array.from({ length: o.nodes - 1 }, () => Math.floor(random() * 10_000)).sort((a, b) => a - b))
}

/**
 * `contacts`: a grown overlay, then every node dials `perNode` random others, as a server's
 * dialer fills its outbound slots from discovery. Those sessions are floodnet contacts: the
 * overlay's degree and flood cost should not move, whatever the session count. Reported:
 * sessions, contacts and floodnet degree per node, broadcasts, and the flood cost had every
 * session been flooded over (floodnet before it owned its links).
 */
export async function contactsScenario(o: ScenarioOptions, perNode: number) {
  const sim = simulation(o)
  const growth = await grow(o, sim)
  const before = describeOverlay(sim, false)
  const random = scenarioRandom(o.seed, 6)
  const nodes = sim.alive
  for (const n of nodes) {
    for (let i = 0; i < perNode; i++) {
      const target = nodes[Math.floor(random() * nodes.length)]!
      // A full target refuses (too many peers), as it would a dialer's candidate.
      if (target !== n) n.server.connect(target.enode).catch(() => {})
    }
  }
  await sim.runFor(30_000)
  return {
    ...growth,
    contactsPerNode: perNode,
    before: { links: before.links, degree: stripHistogram(before.degree) },
    ...(await sessionsAndOverlay(sim, o, 7)),
  }
}

const stripHistogram = ({ histogram: _, ...rest }: ReturnType<typeof summary>) => rest

/**
 * Sessions against floodnet's overlay on them, and broadcasts: what the contacts and
 * discovery scenarios report once every node holds more sessions than overlay links.
 */
async function sessionsAndOverlay(sim: Simulation, o: ScenarioOptions, salt: number) {
  const sessions = sim.alive.map((n) => n.server.peerCount)
  const sessionLinks = sessions.reduce((a, b) => a + b, 0) / 2
  const overlay = describeOverlay(sim)
  const measured = await broadcasts(sim, o.messages, o.window, scenarioRandom(o.seed, salt))
  return {
    sessions: stripHistogram(summary(sessions)),
    contacts: stripHistogram(summary(sim.alive.map((n) => n.net.contacts.length))),
    overlay,
    broadcasts: describeBroadcasts(measured),
    /** 2E − (N − 1) over every session: what a broadcast would cost were every session flooded over. */
    floodCostIfEverySession: 2 * sessionLinks - (sim.alive.length - 1),
    connections: connections(sim),
  }
}

/**
 * `discovery`: every server runs discv4 on the simulated network (the entry node its
 * bootnode) and its dialer fills the outbound slots from what discovery finds, while
 * floodnet grows its overlay through joins. Once the overlay has settled, `runMs` more
 * virtual ms for the dialers, then what `contacts` reports, with discovery's table sizes
 * and traffic per node.
 */
export async function discoveryScenario(o: ScenarioOptions, runMs: number) {
  if (o.transport === 'tcp') throw new Error('the discovery scenario runs on the in-memory network only')
  const sim = simulation(o, o.floodnet, true)
  const growth = await grow(o, sim)
  await sim.runFor(runMs)
  const tables = sim.alive.map((n) => n.server.discovery?.tableSize ?? 0)
  const { packets, bytes } = sim.network!.datagrams
  const nodes = sim.nodes.length
  return {
    ...growth,
    discovery: {
      tableSize: stripHistogram(summary(tables)),
      /** Over the whole run, every node's datagrams sent. */
      packetsPerNode: round(packets / nodes, 1),
      bytesPerNode: Math.round(bytes / nodes),
      /** Outbound slots a server fills from discovery: maxPeers / dialRatio. */
      outboundSlots: sim.alive[1]?.server.maxOutbound ?? null,
    },
    ...(await sessionsAndOverlay(sim, o, 8)),
  }
}

/** Offsets after a mass failure at which broadcasts measure delivery, virtual ms. */
export const FAILURE_CHECKPOINTS = [0, 1000, 5000, 30_000]

/**
 * `failure`: for each fraction, the same grown overlay (same seed), then that fraction of
 * the nodes — the entry node spared, as a bootnode would be — crashes at once. Reported:
 * the survivors' components at fixed offsets with the delivery of a broadcast sent then,
 * how long until the survivors form one component, and broadcasts once they do.
 */
export async function failureScenario(o: ScenarioOptions, fractions: number[]) {
  const runs = []
  for (const fraction of fractions) {
    const sim = simulation(o)
    const growth = await grow(o, sim)
    const before = describeOverlay(sim, false)
    const random = scenarioRandom(o.seed, 3)
    const candidates = sim.alive.filter((n) => n !== sim.entry)
    shuffle(candidates, random)
    const victims = candidates.slice(0, Math.round(fraction * o.nodes))
    const failedAt = sim.now
    for (const v of victims) sim.kill(v)
    const survivors = sim.aliveCount
    const bRandom = scenarioRandom(o.seed, 4)
    const timeline: { atMs: number; components: number; largest: number; deliveryRatio: number }[] = []
    const waiting: { atMs: number; components: number; largest: number; due: number; pending: PendingBroadcast }[] = []
    const checkpoints = [...FAILURE_CHECKPOINTS]
    let oneComponentAfterMs: number | null = null
    // Looked at every 100 ms for the first 10 s, every second after.
    while (sim.now - failedAt < o.settleLimit && (oneComponentAfterMs === null || checkpoints.length > 0 || waiting.length > 0)) {
      const since = sim.now - failedAt
      const components = sim.overlay().components()
      if (oneComponentAfterMs === null && components.length === 1) oneComponentAfterMs = since
      if (checkpoints.length > 0 && since >= checkpoints[0]!) {
        const linked = sim.alive.filter((n) => n.net.degree > 0)
        const from = linked[Math.floor(bRandom() * linked.length)]
        if (from) waiting.push({ atMs: checkpoints[0]!, components: components.length, largest: round(components[0]! / survivors, 4), due: sim.now + o.window, pending: sim.send(from) })
        checkpoints.shift()
      }
      while (waiting.length > 0 && waiting[0]!.due <= sim.now) {
        const { atMs, components: c, largest, pending } = waiting.shift()!
        timeline.push({ atMs, components: c, largest, deliveryRatio: pending.result().deliveryRatio })
      }
      await sim.runFor(since < 10_000 ? 100 : 1000)
    }
    // Once one component again, or at the limit: what a broadcast reaches now.
    const after = await broadcasts(sim, o.messages, o.window, bRandom)
    runs.push({
      fraction,
      killed: victims.length,
      survivors,
      settleMs: growth.settleMs,
      overlayBefore: { links: before.links, degreeMean: before.degree.mean, components: before.components },
      timeline,
      oneComponentAfterMs,
      overlayAfter: describeOverlay(sim, false),
      broadcastsAfter: describeBroadcasts(after),
    })
  }
  return { runs }
}

/**
 * `churn`: a grown overlay in which a fraction `perSecond` of the nodes (the entry node
 * spared) crashes every virtual second and as many new ones join, for `minutes`; a broadcast
 * every `every` ms from a random linked node, its delivery counted among the nodes that were
 * linked when it was sent and alive until its window closed.
 */
export async function churnScenario(o: ScenarioOptions, churn: { perSecond: number; minutes: number; every: number }) {
  const sim = simulation(o)
  const growth = await grow(o, sim)
  const random = scenarioRandom(o.seed, 5)
  const start = sim.now
  const end = start + churn.minutes * 60_000
  const perSecond = Math.max(1, Math.round(churn.perSecond * o.nodes))
  let replaced = 0
  const tick = (): void => {
    if (sim.now >= end) return
    const candidates = sim.alive.filter((n) => n !== sim.entry)
    shuffle(candidates, random)
    for (const v of candidates.slice(0, perSecond)) sim.kill(v)
    for (let i = 0; i < perSecond; i++) {
      const at = Math.floor(random() * 1000)
      sim.clock.setTimeout(() => void sim.addNode(), at)
    }
    replaced += perSecond
    sim.clock.setTimeout(tick, 1000)
  }
  sim.clock.setTimeout(tick, 1000)
  const series: { atS: number; deliveryRatio: number; delivered: string }[] = []
  const results: BroadcastResult[] = []
  const bRandom = scenarioRandom(o.seed, 6)
  for (let t = start + churn.every; t + o.window <= end; t += churn.every) {
    await sim.runUntil(t)
    const [b] = await broadcasts(sim, 1, o.window, bRandom)
    if (!b) continue
    results.push(b)
    series.push({ atS: round((t - start) / 1000, 1), deliveryRatio: b.deliveryRatio, delivered: `${b.delivered}/${b.receivers}` })
  }
  await sim.runUntil(end)
  const summaryOf = describeBroadcasts(results)
  const { each: _each, ...broadcastSummary } = summaryOf
  return {
    settleMs: growth.settleMs,
    churn: { perSecond, minutes: churn.minutes, replaced },
    broadcasts: { ...broadcastSummary, belowGoal: series.filter((s) => s.deliveryRatio < 0.999).length },
    series,
    overlayAtEnd: describeOverlay(sim, false),
  }
}

/** The seed tutorial's walks: 5 hops, any node on the way may accept. */
const SEED_WALKS = { joinHops: 5, joinMixHops: 0 }

/**
 * What `compare-rules` runs: the seed tutorial's rule and the alternatives it argues against,
 * all on its 5-hop walks, then floodnet's rule as shipped (walks that mix first).
 */
export const RULES: Record<string, { joinPolicy: JoinPolicy; joinHops?: number; joinMixHops?: number }> = {
  'accept 1/(n+1) (seed)': { joinPolicy: joinPolicies.seed, ...SEED_WALKS },
  'fixed-length walk, then accept': { joinPolicy: joinPolicies.walk, ...SEED_WALKS },
  'fixed probability 0.5': { joinPolicy: joinPolicies.fixed(0.5), ...SEED_WALKS },
  'exact degree d': { joinPolicy: joinPolicies.exact, ...SEED_WALKS },
  'mix 6 hops, then accept 1/((n+1)(n+1−d)) (shipped)': { joinPolicy: joinPolicies.degree },
}

/** `compare-rules`: the `join` scenario once per rule of {@link RULES}. */
export async function compareRulesScenario(o: ScenarioOptions) {
  const rules: Record<string, unknown> = {}
  for (const [name, rule] of Object.entries(RULES)) {
    const sim = simulation(o, { ...o.floodnet, ...rule })
    const growth = await grow(o, sim)
    const overlay = describeOverlay(sim)
    const measured = await broadcasts(sim, o.messages, o.window, scenarioRandom(o.seed, 1))
    const { each: _each, ...b } = describeBroadcasts(measured)
    rules[name] = { ...growth, joinTimes: joinTimes(sim.nodes), overlay, broadcasts: b }
  }
  return { rules }
}

/** Fisher–Yates with `random`. */
function shuffle<T>(items: T[], random: Random): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[items[i], items[j]] = [items[j]!, items[i]!]
  }
}
