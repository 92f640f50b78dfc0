// floodnet as an overlay over real loopback sockets: 30 nodes joining through one entry
// node form a connected mesh of `desired`-degree nodes, every broadcast reaches every other
// node exactly once, the mesh heals after nodes leave, and join requests die out instead of
// circulating.
import { test } from 'uvu'
import { VirtualClock } from '../lib/clock.js'
import * as assert from 'uvu/assert'
import { generatePrivateKey, publicKeyOf } from '../lib/crypto/index.js'
import { nodeId } from '../lib/enode.js'
import type { MsgReadWriter } from '../lib/message.js'
import type { Protocol } from '../lib/protocol.js'
import { JOIN_WINDOW } from '../protocols/floodnet/constants.js'
import { FloodnetMsg } from '../protocols/floodnet/index.js'
import { decodeJoin, encodeJoin, newToken } from '../protocols/floodnet/join.js'
import { waitFor, within } from './support/net.js'
import {
  components,
  describe,
  edges,
  quiescent,
  QUICK,
  settle,
  startCluster,
  startNode,
  startRawFloodnet,
  stopAll,
  type FloodNode,
} from './support/floodnet-cluster.js'

test.after.each(stopAll)

const N = 30
const DESIRED = 5
/**
 * Join rounds every 50–500 ms instead of 250–5000 ms, and an unanswered JOIN_REQ given up
 * after 500 ms instead of 2 s (a walk and a dial take a few ms on loopback): the same
 * protocol, settled sooner.
 */
const FAST = { joinBackoff: [50, 500] as [number, number], joinWindow: 500 }

/** Asserts the settled-mesh properties of (a): degree, connectivity, the entry node's degree. */
function assertMesh(cluster: FloodNode[], desired: number): void {
  const want = Math.min(desired, cluster.length - 1)
  for (const [i, n] of cluster.entries()) assert.ok(n.net.degree >= want, `node ${i} has ${n.net.degree} neighbours, wants ≥ ${want} (${describe(cluster)})`)
  assert.is(components(cluster), 1, `the floodnet graph is connected (${edges(cluster).size} links)`)
  const entry = cluster[0]!.net.degree
  assert.ok(entry <= 2 * desired, `entry node degree ${entry} ≤ 2 × desired (${describe(cluster)})`)
}

/**
 * Has each writer broadcast one message and waits until all of it has been handled
 * everywhere; returns, per node, how often each message id was delivered to it, and the
 * ids written with their writers.
 */
async function broadcast(cluster: FloodNode[], writers: FloodNode[]): Promise<{ counts: Map<string, number>[]; written: Map<string, FloodNode>; ownDeliveries: number }> {
  const counts = cluster.map(() => new Map<string, number>())
  let ownDeliveries = 0
  const offs = cluster.map((n, i) =>
    n.net.events.on('message', (d) => {
      if (d.origin === n.server.id) ownDeliveries++
      counts[i]!.set(d.id, (counts[i]!.get(d.id) ?? 0) + 1)
    }),
  )
  const written = new Map<string, FloodNode>()
  try {
    for (const [k, w] of writers.entries()) written.set(w.net.write(Buffer.from(`message ${k} from ${w.server.id.slice(0, 8)}`)), w)
    const expected = writers.length * (cluster.length - 1)
    const total = (): number => counts.reduce((s, m) => s + [...m.values()].reduce((a, b) => a + b, 0), 0)
    await waitFor(() => total() >= expected && quiescent(cluster), 10_000, `${expected} deliveries of ${writers.length} broadcasts, network quiet`)
  } finally {
    for (const off of offs) off()
  }
  return { counts, written, ownDeliveries }
}

/** Asserts each written message was delivered exactly once at every node but its writer, and never to it. */
function assertExactlyOnce(cluster: FloodNode[], result: Awaited<ReturnType<typeof broadcast>>): void {
  assert.is(result.ownDeliveries, 0, 'no node is delivered a message it wrote')
  for (const [id, writer] of result.written) {
    for (const [i, n] of cluster.entries()) {
      const got = result.counts[i]!.get(id) ?? 0
      if (n === writer) assert.is(got, 0, `node ${i} wrote ${id.slice(0, 8)} and must not receive it`)
      else assert.is(got, 1, `node ${i} received ${id.slice(0, 8)} ${got} times`)
    }
  }
}

test('(a, b) 30 nodes joining through one entry node: ≥ desired neighbours each, connected, entry degree ≤ 2 × desired; a write at any node reaches every other node exactly once, never its writer', async () => {
  // Default timings: this is the mesh a user gets.
  const cluster = await within(startCluster(N), 20_000, `${N} nodes to start`)
  await settle(cluster, Math.min(DESIRED, N - 1), 1000, 60_000)
  assertMesh(cluster, DESIRED)
  // Every node writes once, all at the same time, so copies of many messages cross.
  assertExactlyOnce(cluster, await broadcast(cluster, cluster))
  // And once more from a few writers, one after the other.
  for (const w of [cluster[0]!, cluster[7]!, cluster[N - 1]!]) assertExactlyOnce(cluster, await broadcast(cluster, [w]))
})

test('(c) 6 non-entry nodes stop: within 10 s the survivors are back to desired neighbours, and a broadcast reaches each of them once', async () => {
  const cluster = await within(startCluster(N), 20_000, `${N} nodes to start`)
  await settle(cluster, Math.min(DESIRED, N - 1), 1000, 60_000)
  const order = cluster.slice(1).map((n) => ({ n, key: Math.random() }))
  order.sort((a, b) => a.key - b.key)
  const victims = new Set(order.slice(0, 6).map((o) => o.n))
  const gone = new Set([...victims].map((n) => n.server.id))
  await within(Promise.all([...victims].map((n) => n.server.stop())), QUICK, '6 servers to stop')
  const survivors = cluster.filter((n) => !victims.has(n))
  const want = Math.min(DESIRED, survivors.length - 1)
  await waitFor(
    () => survivors.every((n) => n.net.degree >= want && n.net.bootstrapLinks === 0 && !n.net.neighbours.some((id) => gone.has(id))) && components(survivors) === 1,
    10_000,
    `${survivors.length} survivors back to ≥ ${want} neighbours, none of them gone, connected`,
  )
  // The exactly-once accounting below needs links that stay put while copies are on the
  // wire; late answers to repair walks may still add (or, beyond maxDegree, drop) a link.
  await settle(survivors, want, 1000, 30_000)
  const writer = survivors[Math.floor(Math.random() * survivors.length)]!
  assertExactlyOnce(survivors, await broadcast(survivors, [writer, survivors[0]!]))
})

test('(a) the network\'s first node answers the first joiner itself: their link is an overlay link at both ends, not a bootstrap link to drop', async () => {
  // E has no bootnodes and no neighbour; X's walk, sent over the bootstrap link, can go no
  // further: E accepts it with a JOIN_ACK on that link, so E is in the overlay from the start.
  const logE = { received: 0, sent: [] as { requester: string; hopsLeft: number }[] }
  const e = await startNode({ floodnet: { desired: 1, ...FAST }, wrap: countingJoins(logE) })
  const x = await startNode({ floodnet: { desired: 1, ...FAST, bootnodes: [e.server.enode] } })
  await waitFor(() => e.net.neighbours.includes(x.server.id) && x.net.neighbours.includes(e.server.id), QUICK, 'E and X to be neighbours')
  assert.ok(logE.received >= 1, "X's JOIN_REQ reached E")
  assert.is(x.net.bootstrapLinks, 0, 'the bootstrap link became the overlay link')
  assert.is(x.server.peerCount, 1, 'one session between them')
  assert.equal(x.net.contacts, [])
})

/**
 * `protocol` with every JOIN_REQ it receives and sends counted in `log`, decoded: what a
 * node handles and emits, seen from outside floodnet.
 */
function countingJoins(log: { received: number; sent: { requester: string; hopsLeft: number }[] }): (protocol: Protocol) => Protocol {
  return (protocol) => ({
    ...protocol,
    run(peer, rw) {
      const counted: MsgReadWriter = {
        readMsg: async () => {
          const msg = await rw.readMsg()
          if (msg.code === FloodnetMsg.JoinReq) log.received++
          return msg
        },
        async *[Symbol.asyncIterator]() {
          for await (const msg of rw) {
            if (msg.code === FloodnetMsg.JoinReq) log.received++
            yield msg
          }
        },
        writeMsg: (code, payload) => {
          if (code === FloodnetMsg.JoinReq) {
            const req = decodeJoin(payload)
            log.sent.push({ requester: req.requester.id, hopsLeft: req.hopsLeft })
          }
          return rw.writeMsg(code, payload)
        },
      }
      return protocol.run(peer, counted)
    },
  })
}

test('(d) two nodes alone: JOIN_REQs stay few and bounded over a virtual minute, none is passed on', async () => {
  const clock = new VirtualClock()
  const logA = { received: 0, sent: [] as { requester: string; hopsLeft: number }[] }
  const logB = { received: 0, sent: [] as { requester: string; hopsLeft: number }[] }
  const a = await startNode({ wrap: countingJoins(logA), server: { clock } })
  const b = await startNode({ floodnet: { bootnodes: [a.server.enode] }, wrap: countingJoins(logB), server: { clock } })
  await waitFor(() => a.net.degree === 1 && b.net.degree === 1, QUICK, 'the two nodes to link')
  // Rounds are counted where they are written, synchronously, as the clock fires them.
  const window = 60_000
  const before = { a: logA.sent.length, b: logB.sent.length }
  for (let t = 0; t < window; t += 1000) await clock.advance(1000)
  const sentA = logA.sent.length - before.a
  const sentB = logB.sent.length - before.b
  // A round sends at most desired + 1 walks and the next waits until they may be given up
  // (the join window), so a minute sees at most one round per window, plus one.
  const bound = (a.net.desired + 1) * (window / JOIN_WINDOW + 1)
  assert.ok(sentA <= bound, `A sent ${sentA} JOIN_REQs in a virtual minute, bound ${bound}`)
  assert.ok(sentB <= bound, `B sent ${sentB} JOIN_REQs in a virtual minute, bound ${bound}`)
  // And the backoff spaces them out: far fewer than the bound once it has grown to 5 s.
  assert.ok(sentA + sentB <= 2 * (a.net.desired + 1) * (window / 5000 + 6), `${sentA + sentB} JOIN_REQs: the backoff grows to 5 s`)
  // Nothing is passed on: each node only ever sends its own requests, at full hop count.
  for (const [name, node, log] of [['A', a, logA], ['B', b, logB]] as const) {
    for (const s of log.sent) {
      assert.is(s.requester, node.server.id, `${name} sent only its own JOIN_REQs`)
      assert.is(s.hopsLeft, node.net.joinHops, `${name}'s JOIN_REQs start at joinHops`)
    }
  }
})

test('(d) a JOIN_REQ walk loses one hop per node and ends at zero; its hop count is capped at joinHops', async () => {
  // P → A → B → Q: A and B are floodnet nodes at their maxDegree, so they pass every
  // request on; P and Q are raw peers that write and record JOIN_REQs. B joins through A,
  // which, alone, takes it as its first neighbour.
  const options = { desired: 2, maxDegree: 2 }
  const a = await startNode({ floodnet: options })
  const b = await startNode({ floodnet: { ...options, bootnodes: [a.server.enode] } })
  await waitFor(() => a.net.neighbours.includes(b.server.id) && b.net.neighbours.includes(a.server.id), QUICK, 'A and B linked')
  const p = await startRawFloodnet()
  const q = await startRawFloodnet()
  const toA = await p.link(a)
  await q.link(b)
  await waitFor(() => a.net.degree === 2 && b.net.degree === 2, QUICK, 'the chain P-A-B-Q')
  const key = publicKeyOf(generatePrivateKey())
  const requester = { publicKey: key, id: nodeId(key), host: '127.0.0.1', tcpPort: 9 }
  const arrivals = (): number[] =>
    q.received.filter((r) => r.msg.code === FloodnetMsg.JoinReq && decodeJoin(r.msg.payload).requester.id === requester.id).map((r) => decodeJoin(r.msg.payload).hopsLeft)
  // 3 hops: A passes it on with 2, B with 1, so Q sees it with 1.
  await toA.writeMsg(FloodnetMsg.JoinReq, encodeJoin({ token: newToken(), requester, hopsLeft: 3 }))
  await waitFor(() => arrivals().length === 1, QUICK, 'the 3-hop JOIN_REQ to reach Q')
  assert.equal(arrivals(), [1])
  // 2 hops: B receives it with 1 left and drops it; 1 and 0 hops: A drops them.
  for (const hopsLeft of [2, 1, 0]) await toA.writeMsg(FloodnetMsg.JoinReq, encodeJoin({ token: newToken(), requester, hopsLeft }))
  // 200 hops is capped at joinHops: Q sees it with joinHops − 2. It goes last, so once it
  // is in, the shorter ones, sent before it on the same links, would have been too.
  await toA.writeMsg(FloodnetMsg.JoinReq, encodeJoin({ token: newToken(), requester, hopsLeft: 200 }))
  await waitFor(() => arrivals().length >= 2, QUICK, 'the 200-hop JOIN_REQ to reach Q')
  assert.equal(arrivals(), [1, a.net.joinHops - 2])
  // Nothing came back to P.
  assert.is(p.received.filter((r) => r.msg.code === FloodnetMsg.JoinReq && decodeJoin(r.msg.payload).requester.id === requester.id).length, 0)
})

test.run()
