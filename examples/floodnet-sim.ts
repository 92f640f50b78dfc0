/**
 * The floodnet simulator: real Servers, Peers and Floodnets on an in-memory network with a
 * virtual clock, seeded keys and seeded randomness. Prints one JSON object (the same for the
 * same arguments, byte for byte) and, with --out, draws SVG pictures into a directory. Wall
 * time and memory go to stderr, on a line of their own.
 *
 *   npm run sim -- --scenario join|failure|churn|flash-crowd|compare-rules|contacts|discovery --nodes N --seed S [--out DIR]
 *
 * `--transport rlpx` runs the real RLPx handshake and frames in memory (same results as the
 * default `plain`, slower); `--transport tcp` runs real nodes on loopback sockets on the real
 * clock (join and flash-crowd only; not deterministic).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { joinPolicies, type FloodnetOptions, type JoinPolicy } from '../protocols/floodnet/index.js'
import { churnScenario, compareRulesScenario, contactsScenario, discoveryScenario, FAILURE_CHECKPOINTS, failureScenario, flashCrowdScenario, joinScenario, SCENARIO_DEFAULTS, type ScenarioOptions } from '../sim/scenarios.js'
import type { SimTransport } from '../sim/simulation.js'
import { barChart, lineChart } from '../sim/svg.js'

const USAGE = `usage: npm run sim -- --scenario join|failure|churn|flash-crowd|compare-rules|contacts|discovery [options]

  --nodes N[,N…]      nodes, the entry node included (a list runs join once per size)   1000
  --seed S            seed of keys, latencies and every random choice                   1
  --out DIR           write SVG pictures there
  --transport T       plain | rlpx | tcp                                                 plain
  --rate R            arrivals per virtual second while the overlay grows               100
  --messages K        broadcasts measured                                               10
  --window MS         virtual ms given to each broadcast                                5000
  --latency A-B       one-way latency of a pair of nodes, uniform in [A, B] ms          10-50
  --jitter MS         extra delay per chunk, uniform in [0, MS]                         5
  --loss P            chunk loss probability (resent after 200 ms, as TCP would)        0
  --desired D         floodnet neighbours per node                                      5
  --join-hops H       hops of a join walk                                               floodnet's
  --join-mix-hops H   hops a join walk travels before it may stop                       floodnet's
  --spares on|off     spare addresses for repairs (off: floodnet before them)           on
  --policy P          join policy: degree (floodnet's), seed, walk, fixed, exact        degree
  --max-hops H        hops of a broadcast                                               floodnet's
  --fractions F,…     failure: fractions of the nodes that crash at once                0.2,0.5,0.8
  --churn P           churn: fraction of the nodes replaced each virtual second         0.01
  --minutes M         churn: virtual minutes                                            30
  --every MS          churn: virtual ms between broadcasts                              10000
  --contacts K        contacts: sessions each node dials once the overlay stands         8
  --run MS            discovery: virtual ms the dialers run after the overlay settled    60000
  --settle-limit MS   virtual ms to wait for the overlay to settle                      600000`

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'join' },
    nodes: { type: 'string', default: String(SCENARIO_DEFAULTS.nodes) },
    seed: { type: 'string', default: String(SCENARIO_DEFAULTS.seed) },
    out: { type: 'string' },
    transport: { type: 'string', default: 'plain' },
    rate: { type: 'string', default: String(SCENARIO_DEFAULTS.rate) },
    messages: { type: 'string', default: String(SCENARIO_DEFAULTS.messages) },
    window: { type: 'string', default: String(SCENARIO_DEFAULTS.window) },
    latency: { type: 'string' },
    jitter: { type: 'string' },
    loss: { type: 'string' },
    desired: { type: 'string' },
    'join-hops': { type: 'string' },
    'join-mix-hops': { type: 'string' },
    spares: { type: 'string' },
    policy: { type: 'string' },
    'max-hops': { type: 'string' },
    fractions: { type: 'string', default: '0.2,0.5,0.8' },
    churn: { type: 'string', default: '0.01' },
    minutes: { type: 'string', default: '30' },
    every: { type: 'string', default: '10000' },
    contacts: { type: 'string', default: '8' },
    run: { type: 'string', default: '60000' },
    'settle-limit': { type: 'string', default: String(SCENARIO_DEFAULTS.settleLimit) },
    help: { type: 'boolean', default: false },
  },
})
if (values.help) {
  console.log(USAGE)
  process.exit(0)
}

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`)
  process.exit(2)
}

function number(name: string, value: string | undefined, min: number, max = Infinity): number {
  const n = Number(value)
  if (value === undefined || !Number.isFinite(n) || n < min || n > max) fail(`--${name} must be a number from ${min} to ${max}, got ${JSON.stringify(value)}`)
  return n
}

const scenario = values.scenario!
if (!['join', 'failure', 'churn', 'flash-crowd', 'compare-rules', 'contacts', 'discovery'].includes(scenario)) fail(`unknown scenario ${JSON.stringify(scenario)}`)
const transport = values.transport as SimTransport
if (!['plain', 'rlpx', 'tcp'].includes(transport)) fail(`--transport must be plain, rlpx or tcp`)
if (transport === 'tcp' && !['join', 'flash-crowd'].includes(scenario)) fail('--transport tcp runs the join and flash-crowd scenarios only')
const sizes = values.nodes!.split(',').map((n) => number('nodes', n, 2))
if (sizes.length > 1 && scenario !== 'join') fail('a list of --nodes is for the join scenario')

const link: ScenarioOptions['link'] = {}
if (values.latency !== undefined) {
  const [a, b] = values.latency.split('-').map((x) => number('latency', x, 0))
  link.latency = [a!, b ?? a!]
}
if (values.jitter !== undefined) link.jitter = number('jitter', values.jitter, 0)
if (values.loss !== undefined) link.loss = number('loss', values.loss, 0, 0.5)
const floodnet: FloodnetOptions = {}
if (values.desired !== undefined) floodnet.desired = number('desired', values.desired, 1)
if (values['join-hops'] !== undefined) floodnet.joinHops = number('join-hops', values['join-hops'], 1)
if (values['join-mix-hops'] !== undefined) floodnet.joinMixHops = number('join-mix-hops', values['join-mix-hops'], 0)
if (values.spares !== undefined) {
  if (values.spares !== 'on' && values.spares !== 'off') fail('--spares must be on or off')
  floodnet.spares = values.spares === 'on'
}
if (values.policy !== undefined) {
  const policies: Record<string, JoinPolicy> = { degree: joinPolicies.degree, seed: joinPolicies.seed, walk: joinPolicies.walk, fixed: joinPolicies.fixed(0.5), exact: joinPolicies.exact }
  const policy = policies[values.policy]
  if (!policy) fail(`--policy must be one of ${Object.keys(policies).join(', ')}`)
  floodnet.joinPolicy = policy
}
if (values['max-hops'] !== undefined) floodnet.maxHops = number('max-hops', values['max-hops'], 1, 255)

const options = (nodes: number): ScenarioOptions => ({
  nodes,
  seed: number('seed', values.seed, 0, 2 ** 32 - 1),
  transport,
  link,
  floodnet,
  rate: number('rate', values.rate, 0.001),
  messages: number('messages', values.messages, 0),
  window: number('window', values.window, 1),
  settleLimit: number('settle-limit', values['settle-limit'], 1),
})

const wallStart = performance.now()
let peakRss = process.memoryUsage.rss()
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 200)
sampler.unref()

const pictures: Record<string, string> = {}
let result: unknown
switch (scenario) {
  case 'join': {
    const runs = []
    for (const n of sizes) runs.push({ nodes: n, ...(await joinScenario(options(n))) })
    result = sizes.length === 1 ? runs[0] : { runs }
    const last = runs.at(-1)!
    pictures['degree-histogram.svg'] = degreeHistogram(last.overlay.degree.histogram, `floodnet degrees, ${last.nodes} nodes joined through one entry node`)
    if (runs.length > 1) {
      pictures['settle-time.svg'] = lineChart({
        title: `settle time after the last arrival (${values.rate} arrivals/s)`,
        xLabel: 'nodes',
        yLabel: 'virtual seconds',
        logX: true,
        series: [{ name: 'settle time', points: runs.filter((r) => r.settleMs !== null).map((r) => [r.nodes, r.settleMs! / 1000]) }],
      })
      pictures['path-length.svg'] = lineChart({
        title: 'path length against a random graph',
        xLabel: 'nodes',
        yLabel: 'hops',
        logX: true,
        series: [
          { name: 'mean path length', points: runs.map((r) => [r.nodes, r.overlay.pathLength!.mean]) },
          { name: 'diameter', points: runs.map((r) => [r.nodes, r.overlay.pathLength!.max]) },
          { name: 'ln N / ln(mean degree)', points: runs.map((r) => [r.nodes, r.overlay.pathLength!.randomGraph ?? 0]), dashed: true },
        ],
      })
    }
    break
  }
  case 'flash-crowd': {
    const r = await flashCrowdScenario(options(sizes[0]!))
    result = { nodes: sizes[0], ...r }
    pictures['flash-crowd-degree-histogram.svg'] = degreeHistogram(r.overlay.degree.histogram, `floodnet degrees, ${sizes[0]} nodes arriving within 10 s`)
    break
  }
  case 'failure': {
    const fractions = values.fractions!.split(',').map((f) => number('fractions', f, 0, 0.99))
    const r = await failureScenario(options(sizes[0]!), fractions)
    result = { nodes: sizes[0], ...r }
    pictures['failure-delivery.svg'] = lineChart({
      title: `delivery among survivors after a mass failure (${sizes[0]} nodes)`,
      xLabel: 'fraction of nodes crashed at once',
      yLabel: 'delivery ratio',
      yMin: 0,
      yMax: 1,
      series: [
        ...FAILURE_CHECKPOINTS.map((at) => ({ name: `broadcast ${at / 1000} s after`, points: r.runs.map((run) => [run.fraction, run.timeline.find((t) => t.atMs === at)!.deliveryRatio] as [number, number]) })),
        { name: 'once one component again', points: r.runs.map((run) => [run.fraction, run.broadcastsAfter.deliveryRatio ?? 0] as [number, number]) },
      ],
    })
    break
  }
  case 'churn': {
    const r = await churnScenario(options(sizes[0]!), {
      perSecond: number('churn', values.churn, 0, 0.5),
      minutes: number('minutes', values.minutes, 0.1),
      every: number('every', values.every, 100),
    })
    result = { nodes: sizes[0], ...r }
    pictures['churn-delivery.svg'] = lineChart({
      title: `delivery under churn: ${r.churn.perSecond} of ${sizes[0]} nodes replaced per second`,
      xLabel: 'virtual minutes',
      yLabel: 'delivery ratio',
      yMin: Math.min(0.9, ...r.series.map((s) => s.deliveryRatio)),
      yMax: 1,
      series: [{ name: 'delivery ratio per broadcast', points: r.series.map((s) => [s.atS / 60, s.deliveryRatio]) }],
    })
    break
  }
  case 'contacts': {
    const r = await contactsScenario(options(sizes[0]!), number('contacts', values.contacts, 0))
    result = { nodes: sizes[0], ...r }
    break
  }
  case 'discovery': {
    const r = await discoveryScenario(options(sizes[0]!), number('run', values.run, 0))
    result = { nodes: sizes[0], ...r }
    break
  }
  case 'compare-rules': {
    const r = await compareRulesScenario(options(sizes[0]!))
    result = { nodes: sizes[0], ...r }
    break
  }
}

const output = {
  scenario,
  seed: options(sizes[0]!).seed,
  transport,
  rate: options(sizes[0]!).rate,
  link,
  floodnet: { ...floodnet, ...(values.policy ? { joinPolicy: values.policy } : {}) },
  result,
}
console.log(JSON.stringify(output))
if (values.out) {
  mkdirSync(values.out, { recursive: true })
  for (const [name, svg] of Object.entries(pictures)) writeFileSync(join(values.out, name), svg)
}
peakRss = Math.max(peakRss, process.memoryUsage.rss())
console.error(`wall ${((performance.now() - wallStart) / 1000).toFixed(1)} s, peak rss ${Math.round(peakRss / 2 ** 20)} MiB`)
// Real sockets (--transport tcp) would keep the process alive; the in-memory network would not.
process.exit(0)

function degreeHistogram(histogram: number[], title: string): string {
  return barChart({ title, xLabel: 'floodnet neighbours', yLabel: 'nodes', bars: histogram.map((count, degree) => [String(degree), count]) })
}
