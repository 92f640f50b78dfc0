/**
 * floodnet, visible: starts N real nodes on loopback, joins them through one entry node,
 * broadcasts K messages from random nodes and prints one JSON object with the topology and
 * delivery figures. `--svg FILE` also draws the mesh, nodes coloured by degree.
 *
 *   npm run sim -- --nodes 50 --messages 20 [--desired 5] [--seed 1] [--svg mesh.svg]
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { generatePrivateKey, Server } from '../lib/index.js'
import { Floodnet } from '../protocols/floodnet/index.js'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '30' },
    messages: { type: 'string', default: '10' },
    desired: { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
    svg: { type: 'string' },
    'settle-timeout': { type: 'string', default: '60000' },
    help: { type: 'boolean', default: false },
  },
})
if (values.help) {
  console.log('usage: npm run sim -- --nodes N --messages K [--desired D] [--seed S] [--svg FILE] [--settle-timeout MS]')
  process.exit(0)
}
const N = Number(values.nodes)
const K = Number(values.messages)
const desired = Number(values.desired)
if (!(N >= 2 && K >= 0 && desired >= 1)) throw new RangeError('--nodes must be >= 2, --messages >= 0, --desired >= 1')

/** mulberry32: the sim's choices (senders, join walks) repeat for a given --seed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const random = rng(Number(values.seed))

interface SimNode {
  server: Server
  net: Floodnet
}

async function startNode(bootnodes: string[], maxPeers: number): Promise<SimNode> {
  const net = new Floodnet({ desired, bootnodes, random })
  const server = new Server({ privateKey: generatePrivateKey(), listenAddr: '127.0.0.1:0', discovery: false, maxPeers, maxPendingPeers: 200, protocols: [net.protocol] })
  net.attach(server)
  await server.start()
  net.start()
  return { server, net }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const started = Date.now()
const entry = await startNode([], Math.max(50, N + 10))
const nodes: SimNode[] = [entry]
for (let i = 1; i < N; i++) nodes.push(await startNode([entry.server.enode], 4 * desired))

const want = Math.min(desired, N - 1)
const settleTimeout = Number(values['settle-timeout'])
const settled = (): boolean => nodes.every((n) => n.net.degree >= want) && !nodes.some((n) => n.server.peers.some((p) => !n.net.neighbours.includes(p.id)))
// Settled: every node at the wanted degree, unchanged for half a second (bootstrap links
// count until their joiner drops them, so a first glimpse is not enough).
const linkCount = (): number => nodes.reduce((sum, n) => sum + n.net.degree, 0)
let stableSince = Date.now()
let lastLinks = -1
while (Date.now() - started < settleTimeout) {
  const links = linkCount()
  if (!settled() || links !== lastLinks) stableSince = Date.now()
  lastLinks = links
  if (Date.now() - stableSince >= 500) break
  await sleep(50)
}
const settleMs = Date.now() - started - 500
const wasSettled = settled()

const index = new Map(nodes.map((n, i) => [n.server.id, i]))
const edges = new Set<string>()
for (const [i, n] of nodes.entries()) {
  for (const id of n.net.neighbours) {
    const j = index.get(id)
    if (j !== undefined) edges.add(i < j ? `${i}-${j}` : `${j}-${i}`)
  }
}
const degrees = nodes.map((n) => n.net.degree)
const components = countComponents(N, [...edges].map((e) => e.split('-').map(Number) as [number, number]))

const sentAt = new Map<string, number>()
const latencies: number[] = []
let delivered = 0
for (const n of nodes) {
  n.net.events.on('message', (d) => {
    delivered++
    latencies.push(performance.now() - sentAt.get(d.id)!)
  })
}
const sentBefore = nodes.reduce((s, n) => s + n.net.engine.stats.sent, 0)
for (let k = 0; k < K; k++) {
  const from = nodes[Math.floor(random() * N)]!
  const t = performance.now()
  const id = from.net.write(Buffer.from(`message ${k} from ${from.server.id.slice(0, 8)}`))
  sentAt.set(id, t)
  const deadline = Date.now() + 5000
  while (delivered < (k + 1) * (N - 1) && Date.now() < deadline) await sleep(2)
}
await sleep(100)
const transmissions = nodes.reduce((s, n) => s + n.net.engine.stats.sent, 0) - sentBefore

latencies.sort((a, b) => a - b)
const pct = (p: number): number | null => (latencies.length ? Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]! * 100) / 100 : null)
const histogram: Record<string, number> = {}
for (const d of degrees) histogram[d] = (histogram[d] ?? 0) + 1
const result = {
  nodes: N,
  messages: K,
  desired,
  settled: wasSettled,
  settleMs,
  degree: { min: Math.min(...degrees), mean: Math.round((degrees.reduce((a, b) => a + b, 0) / N) * 100) / 100, max: Math.max(...degrees), histogram },
  entryDegree: entry.net.degree,
  edges: edges.size,
  components,
  deliveryRatio: K === 0 ? null : delivered / (K * (N - 1)),
  latencyMs: { p50: pct(0.5), p99: pct(0.99) },
  transmissionsPerDelivery: delivered ? Math.round((transmissions / delivered) * 100) / 100 : null,
}
console.log(JSON.stringify(result))
if (values.svg) writeFileSync(values.svg, drawSvg(N, [...edges].map((e) => e.split('-').map(Number) as [number, number]), degrees))

for (const n of nodes) n.net.stop()
await Promise.all(nodes.map((n) => n.server.stop()))

function countComponents(n: number, links: [number, number][]): number {
  const parent = Array.from({ length: n }, (_, i) => i)
  const find = (x: number): number => (parent[x] === x ? x : (parent[x] = find(parent[x]!)))
  for (const [a, b] of links) parent[find(a)] = find(b)
  return new Set(parent.map((_, i) => find(i))).size
}

/** A force-directed layout (a few hundred spring iterations) drawn as SVG. */
function drawSvg(n: number, links: [number, number][], degree: number[]): string {
  const size = 800
  const pos = Array.from({ length: n }, (_, i) => ({ x: size / 2 + 300 * Math.cos((2 * Math.PI * i) / n), y: size / 2 + 300 * Math.sin((2 * Math.PI * i) / n) }))
  const k = Math.sqrt((size * size) / n) * 0.6
  for (let iter = 0; iter < 300; iter++) {
    const force = pos.map(() => ({ x: 0, y: 0 }))
    for (let a = 0; a < n; a++) {
      for (let b = a + 1; b < n; b++) {
        const dx = pos[a]!.x - pos[b]!.x, dy = pos[a]!.y - pos[b]!.y
        const d2 = Math.max(dx * dx + dy * dy, 1)
        const f = (k * k) / d2
        force[a]!.x += dx * f; force[a]!.y += dy * f; force[b]!.x -= dx * f; force[b]!.y -= dy * f
      }
    }
    for (const [a, b] of links) {
      const dx = pos[a]!.x - pos[b]!.x, dy = pos[a]!.y - pos[b]!.y
      const d = Math.max(Math.sqrt(dx * dx + dy * dy), 1)
      const f = d / k
      force[a]!.x -= dx * f; force[a]!.y -= dy * f; force[b]!.x += dx * f; force[b]!.y += dy * f
    }
    const step = 10 * (1 - iter / 300) + 0.5
    for (let i = 0; i < n; i++) {
      const m = Math.max(Math.hypot(force[i]!.x, force[i]!.y), 1e-9)
      pos[i]!.x = Math.min(size - 20, Math.max(20, pos[i]!.x + (force[i]!.x / m) * step))
      pos[i]!.y = Math.min(size - 20, Math.max(20, pos[i]!.y + (force[i]!.y / m) * step))
    }
  }
  const lo = Math.min(...degree)
  const span = Math.max(Math.max(...degree) - lo, 1)
  const colour = (d: number): string => `hsl(${Math.round(220 - (200 * (d - lo)) / span)}, 75%, 50%)`
  const lines = links.map(([a, b]) => `<line x1="${pos[a]!.x.toFixed(1)}" y1="${pos[a]!.y.toFixed(1)}" x2="${pos[b]!.x.toFixed(1)}" y2="${pos[b]!.y.toFixed(1)}" stroke="#999" stroke-width="1"/>`)
  const dots = pos.map((p, i) => `<circle cx="${p.x.toFixed(1)}" cy="${p.y.toFixed(1)}" r="${i === 0 ? 9 : 6}" fill="${colour(degree[i]!)}" stroke="${i === 0 ? '#000' : 'none'}"><title>node ${i} degree ${degree[i]}</title></circle>`)
  const legend = `<text x="10" y="20" font-family="sans-serif" font-size="14">floodnet, ${n} nodes, ${links.length} links; colour = degree (blue ${lo}, red ${lo + span}); outlined = entry node</text>`
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}"><rect width="100%" height="100%" fill="white"/>${legend}${lines.join('')}${dots.join('')}</svg>\n`
}
