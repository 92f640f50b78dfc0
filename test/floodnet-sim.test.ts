// The simulator (sim/): real Servers, Peers and Floodnets on an in-memory network with a
// virtual clock. The overlay invariants at 1,000 nodes joined through one entry node, the
// same output for the same seed, the same results with and without the RLPx crypto, repair
// after a mass failure — and the in-memory stream those rest on. Assertions are on counts
// and virtual time, never on wall time.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { floodnetDefaults } from '../protocols/floodnet/index.js'
import { Direction } from '../sim/link.js'
import { contactsScenario, discoveryScenario, failureScenario, joinScenario, SCENARIO_DEFAULTS } from '../sim/scenarios.js'
import { Scheduler } from '../sim/scheduler.js'
import { Simulation } from '../sim/simulation.js'
import { streamPair } from '../sim/stream.js'

const MAX_DEGREE = 2 * floodnetDefaults.DESIRED

test('1,000 nodes joined through one entry node (seed 1): one component, every broadcast delivered at exactly 2E − (N − 1) transmissions, nobody above maxDegree', async () => {
  const sim = new Simulation({ seed: 1 })
  await sim.addNode()
  for (let i = 1; i < 1000; i++) {
    await sim.runUntil(i * 20)
    await sim.addNode()
  }
  const settledAt = await sim.runUntilSettled(300_000)
  assert.ok(settledAt !== undefined, 'the overlay settles: desired neighbours each, no bootstrap link left, one component')
  // Walks sent before it settled may still find an acceptor for a while.
  await sim.runFor(5000)
  const graph = sim.overlay()
  assert.equal(graph.components(), [1000], 'one component of all 1,000 nodes')
  const degrees = sim.alive.map((n) => n.net.degree)
  assert.ok(Math.max(...degrees) <= MAX_DEGREE, `max degree ${Math.max(...degrees)} ≤ maxDegree ${MAX_DEGREE}`)
  assert.ok(Math.min(...degrees) >= floodnetDefaults.DESIRED, `min degree ${Math.min(...degrees)} ≥ desired`)
  assert.ok(sim.entry!.net.degree <= MAX_DEGREE, `entry node degree ${sim.entry!.net.degree}: no hub`)
  const paths = graph.pathLengths()
  assert.ok(paths.max < floodnetDefaults.MAX_HOPS / 2, `diameter ${paths.max} well under the hop limit ${floodnetDefaults.MAX_HOPS}`)
  for (const origin of [0, 1, 499, 999]) {
    const r = await sim.broadcast(sim.nodes[origin]!, 5000)
    assert.is(r.delivered, 999, `broadcast from node ${origin} reaches the 999 others`)
    assert.is(r.deliveredAll, 999, 'and nobody twice')
    assert.ok(r.stable, 'the overlay did not change while it spread')
    // Every node sends each message once to every neighbour but the one it came from, and
    // never back to its origin: a neighbour of the origin that heard it first from
    // elsewhere saves one copy.
    assert.is(r.transmissions, r.floodCost - r.originSkips, `transmissions ${r.transmissions} = 2E − (N − 1) − ${r.originSkips} with E = ${r.links}`)
    assert.is(r.hopLimitDrops, 0, 'no relay cut short by the hop limit')
  }
})

test('same seed, same result, byte for byte: a 200-node join scenario run twice', async () => {
  const options = { ...SCENARIO_DEFAULTS, nodes: 200, messages: 3, seed: 7 }
  const a = JSON.stringify(await joinScenario(options))
  const b = JSON.stringify(await joinScenario(options))
  assert.is(a, b)
  const c = JSON.stringify(await joinScenario({ ...options, seed: 8 }))
  assert.is.not(a, c, 'and another seed gives another run')
})

test('the RLPx crypto path gives the same overlay and broadcasts as the plain one for the same seed (120 nodes)', async () => {
  const options = { ...SCENARIO_DEFAULTS, nodes: 120, messages: 3, seed: 3 }
  const plain = await joinScenario({ ...options, transport: 'plain' })
  const rlpx = await joinScenario({ ...options, transport: 'rlpx' })
  assert.equal(rlpx, plain)
  assert.is(plain.broadcasts.deliveryRatio, 1)
})

test('half the nodes crash at once (300 nodes): the survivors are one component again and broadcasts reach all of them', async () => {
  const { runs } = await failureScenario({ ...SCENARIO_DEFAULTS, nodes: 300, messages: 2, seed: 5, settleLimit: 120_000 }, [0.5])
  const run = runs[0]!
  assert.is(run.survivors, 150)
  assert.ok(run.oneComponentAfterMs !== null && run.oneComponentAfterMs <= 30_000, `one component again within 30 virtual s (after ${run.oneComponentAfterMs} ms)`)
  assert.is(run.broadcastsAfter.deliveryRatio, 1)
})

/**
 * Many more sessions than overlay links, yet one component within `maxDegree`, every
 * broadcast delivered at exactly the cost of the overlay's links (3 broadcasts).
 */
function assertOverlayOwnsItsLinks(r: Awaited<ReturnType<typeof discoveryScenario>> | Awaited<ReturnType<typeof contactsScenario>>): void {
  assert.ok(r.sessions.mean > r.overlay.degree.mean + 5, `sessions per node ${r.sessions.mean} well above the overlay degree ${r.overlay.degree.mean}`)
  assert.ok(r.overlay.degree.max <= MAX_DEGREE, `max degree ${r.overlay.degree.max} ≤ maxDegree`)
  assert.is(r.overlay.components, 1)
  assert.is(r.broadcasts.deliveryRatio, 1)
  assert.is(r.broadcasts.floodCostExact, '3/3', 'every broadcast cost exactly 2E − (N − 1) over overlay links')
  assert.ok(r.floodCostIfEverySession > 2 * r.broadcasts.transmissionsPerBroadcast!, 'flooding every session would cost over twice as much')
}

test('sessions the dialer adds (8 per node, 300 nodes) are contacts: the overlay keeps its links, degrees stay within maxDegree, floods cost 2E − (N − 1) of overlay links only', async () => {
  const r = await contactsScenario({ ...SCENARIO_DEFAULTS, nodes: 300, messages: 3, seed: 4 }, 8)
  assert.is(r.overlay.links, r.before.links, 'no overlay link came or went')
  assertOverlayOwnsItsLinks(r)
})

test('discv4 on the simulated network fills the servers\' outbound slots (80 nodes): those sessions are contacts; degrees stay within maxDegree, floods cost overlay links only', async () => {
  const r = await discoveryScenario({ ...SCENARIO_DEFAULTS, nodes: 80, messages: 3, seed: 2 }, 30_000)
  assert.ok(r.discovery.tableSize.min > 10, `every node's table holds nodes it found (min ${r.discovery.tableSize.min})`)
  assertOverlayOwnsItsLinks(r)
})

test('stream: chunks arrive in order after the link delay, corked writes as one chunk, a FIN after the data written before it', async () => {
  const scheduler = new Scheduler()
  const clock = scheduler.clock
  const model = { latency: [10, 10] as [number, number], jitter: 50, loss: 0, rto: 200 }
  const [a, b] = streamPair<Buffer>({
    clock,
    merge: (chunks) => Buffer.concat(chunks),
    ab: new Direction(model, 10, 1),
    ba: new Direction(model, 10, 2),
    addressOfB: ['10.0.0.2', 30303],
    addressOfA: ['10.0.0.1', 40000],
    onGone: [() => {}, () => {}],
  })
  const got: { at: number; data: string }[] = []
  let bClosedAt: number | undefined
  b.on('data', (chunk: Buffer) => got.push({ at: scheduler.elapsed, data: chunk.toString() }))
  b.on('close', () => (bClosedAt = scheduler.elapsed))
  b.resume()
  for (const word of ['one', 'two', 'three', 'four']) a.write(Buffer.from(word))
  a.cork()
  a.write(Buffer.from('fi'))
  a.write(Buffer.from('ve'))
  a.uncork()
  a.end()
  await scheduler.runFor(1000)
  assert.equal(
    got.map((g) => g.data),
    ['one', 'two', 'three', 'four', 'five'],
    'in order, whatever the jitter; corked writes as one chunk',
  )
  assert.ok(got.every((g, i) => g.at >= 10 && (i === 0 || g.at >= got[i - 1]!.at)), 'no earlier than the latency, never overtaking')
  assert.ok(bClosedAt !== undefined && bClosedAt >= got.at(-1)!.at, 'the FIN closes b after the data')

})

test('stream: a crashed end reads nothing more; its peer reads what was already on the way, then a FIN', async () => {
  const scheduler = new Scheduler()
  const model = { latency: [10, 10] as [number, number], jitter: 0, loss: 0, rto: 200 }
  let gone = 0
  const [a, b] = streamPair<Buffer>({
    clock: scheduler.clock,
    merge: (chunks) => Buffer.concat(chunks),
    ab: new Direction(model, 10, 1),
    ba: new Direction(model, 10, 2),
    addressOfB: ['10.0.0.2', 30303],
    addressOfA: ['10.0.0.1', 40000],
    onGone: [() => gone++, () => gone++],
  })
  const atA: string[] = []
  const atB: string[] = []
  let bClosed = false
  a.on('data', (c: Buffer) => atA.push(c.toString()))
  b.on('data', (c: Buffer) => atB.push(c.toString()))
  b.on('close', () => (bClosed = true))
  a.resume()
  b.resume()
  a.write(Buffer.from('in flight'))
  b.write(Buffer.from('too late'))
  a.crash()
  await scheduler.runFor(100)
  assert.equal(atB, ['in flight'], 'what a wrote before it died still arrives')
  assert.equal(atA, [], 'a dead end reads nothing')
  assert.ok(bClosed, 'b sees the FIN of the dead end and closes')
  assert.is(gone, 2)
})

test('loss delays, never drops: a lost chunk comes after the retransmission timeout, and the ones behind it wait', async () => {
  const model = { latency: [10, 10] as [number, number], jitter: 0, loss: 0.5, rto: 200 }
  const d = new Direction(model, 10, 42)
  const arrivals = Array.from({ length: 200 }, (_, i) => d.arrival(i))
  assert.ok(arrivals.every((t, i) => i === 0 || t >= arrivals[i - 1]!), 'in order')
  assert.ok(arrivals.some((t, i) => t - i >= 210), 'some chunks were retransmitted')
  assert.ok(arrivals.every((t, i) => t - i >= 10), 'none early')
})

test.run()
