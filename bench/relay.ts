/**
 * Part `relay`: floodnet's relay path under load. A mesh of 16 nodes in this process
 * (joined through one entry node, as the simulator does) floods batches of 200 messages of
 * 100 bytes from random origins; a batch counts once every node has delivered all of it.
 * Figures: messages relayed per second per node, and CPU per wire transmission (both ends
 * of each transmission run here) beside the CPU of one 100-byte message over one plain
 * session, measured in the same run with the repetitions interleaved.
 *
 * The per-neighbour relay rate limit (200 msg/s by default) is lifted, since it would
 * otherwise be what is measured.
 * @module
 */
import { randomBytes } from 'node:crypto'
import { generatePrivateKey, Server } from '../lib/index.js'
import { seededRandom } from '../lib/random.js'
import { Floodnet } from '../protocols/floodnet/index.js'
import { ourSession } from './throughput.js'
import { deferred, num, progress, sleep, stat, timed, type Row } from './support.js'

const NODES = 16
const DESIRED = 5
const BATCH = 200
const PAYLOAD = 100
const REPS = 5
const TARGET_MS = 1000
const SETTLE_MS = 30_000

interface Node {
  server: Server
  net: Floodnet
}

/** The mesh, settled: every node at the desired degree, no link change for half a second. */
async function mesh(): Promise<Node[]> {
  const random = seededRandom(16)
  const start = async (bootnodes: string[], maxPeers: number): Promise<Node> => {
    const net = new Floodnet({ desired: DESIRED, bootnodes, random, rateLimit: { rate: 1e9, burst: 1e9 } })
    const server = new Server({ privateKey: generatePrivateKey(), listenAddr: '127.0.0.1:0', discovery: false, maxPeers, maxPendingPeers: 200, protocols: [net.protocol] })
    net.attach(server)
    await server.start()
    net.start()
    return { server, net }
  }
  const entry = await start([], NODES + 10)
  const nodes = [entry]
  for (let i = 1; i < NODES; i++) nodes.push(await start([entry.server.enode], 4 * DESIRED))
  const links = (): number => nodes.reduce((n, node) => n + node.net.degree, 0)
  const deadline = Date.now() + SETTLE_MS
  let stableSince = Date.now()
  let last = -1
  while (Date.now() < deadline) {
    const now = links()
    if (now !== last || nodes.some((n) => n.net.degree < DESIRED)) stableSince = Date.now()
    last = now
    if (Date.now() - stableSince >= 500) break
    await sleep(50)
  }
  return nodes
}

/** Runs the relay part; returns its table rows. */
export async function runRelay(): Promise<Row[]> {
  progress(`relay: a floodnet mesh of ${NODES} nodes, batches of ${BATCH} messages, interleaved with one plain session`)
  const nodes = await mesh()
  const session = await ourSession(randomBytes(PAYLOAD))
  const random = seededRandom(200)
  let delivered = 0
  let waiting = { target: Infinity, done: deferred() }
  for (const node of nodes) {
    node.net.events.on('message', () => {
      if (++delivered >= waiting.target) waiting.done.resolve()
    })
    // Deliveries are read, as an application would, so the receive buffer never overflows.
    void (async () => {
      while (await node.net.read()) {
        // counted by the 'message' listener above
      }
    })()
  }
  const flood = async (batches: number): Promise<void> => {
    for (let b = 0; b < batches; b++) {
      waiting = { target: delivered + BATCH * (NODES - 1), done: deferred() }
      for (let i = 0; i < BATCH; i++) nodes[Math.floor(random() * NODES)]!.net.write(randomBytes(PAYLOAD))
      await waiting.done.promise
    }
  }
  const counts = (): { sent: number; relayed: number } => {
    let sent = 0
    let relayed = 0
    for (const node of nodes) {
      sent += node.net.engine.stats.sent
      relayed += node.net.engine.stats.relayed
    }
    return { sent, relayed }
  }
  try {
    const warm = await timed(() => flood(2))
    const batches = Math.max(1, Math.round((2 * TARGET_MS) / warm.wallMs))
    const warmSession = await timed(() => session.send(5000))
    const messages = Math.max(1000, Math.round((5000 * TARGET_MS) / warmSession.wallMs))
    const relayRate: number[] = []
    const cpuPerTransmission: number[] = []
    const cpuPerMessage: number[] = []
    let transmissions = 0
    for (let rep = 0; rep < REPS; rep++) {
      const before = counts()
      const t = await timed(() => flood(batches))
      const after = counts()
      transmissions = after.sent - before.sent
      relayRate.push(((after.relayed - before.relayed) * 1000) / t.wallMs / NODES)
      cpuPerTransmission.push((t.cpuMs * 1000) / transmissions)
      const s = await timed(() => session.send(messages))
      cpuPerMessage.push((s.cpuMs * 1000) / messages)
    }
    const degrees = nodes.map((n) => n.net.degree)
    const meshNote = `${NODES} nodes, degree ${Math.min(...degrees)}–${Math.max(...degrees)}; ${num(transmissions / (batches * BATCH))} transmissions per message`
    return [
      { part: 'relay', metric: `messages relayed per second per node`, unit: 'msg/s', ours: stat(relayRate), note: meshNote },
      {
        part: 'relay',
        metric: 'CPU per transmission',
        unit: 'µs',
        ours: stat(cpuPerTransmission),
        baseName: 'one session, 100 B',
        base: stat(cpuPerMessage),
        note: 'both ends of each; lower is better; the baseline is one 100-byte message over one plain session',
      },
    ]
  } finally {
    await session.close()
    for (const node of nodes) node.net.stop()
    await Promise.all(nodes.map((n) => n.server.stop()))
  }
}
