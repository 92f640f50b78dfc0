/**
 * `npm run bench [-- part...]`: runs the named parts (all by default) and prints one table
 * in which every figure stands next to its baseline from the same run, with the ratio and,
 * where the benchmarks issue sets one, the target and PASS/MISS.
 *
 * Parts: handshake, throughput, frames, memory, scale, backlog, relay, flood, primitives. Progress
 * goes to stderr, the table to stdout. Other work on the machine skews every figure; the
 * parts that compare interleave their repetitions with their baselines', so a ratio stays
 * fair, and the load average at each part's start is printed above the table.
 * @module
 */
import { cpus, loadavg } from 'node:os'
import { runBacklog } from './backlog.js'
import { runFlood } from './flood.js'
import { runFrames } from './frames.js'
import { runHandshake } from './handshake.js'
import { runMemory } from './memory.js'
import { runPrimitives } from './primitives.js'
import { runRelay } from './relay.js'
import { runScale } from './scale.js'
import { renderTable, type Row } from './support.js'
import { runThroughput } from './throughput.js'

const PARTS: Record<string, () => Promise<Row[]>> = {
  handshake: runHandshake,
  throughput: runThroughput,
  frames: runFrames,
  memory: runMemory,
  scale: runScale,
  backlog: runBacklog,
  relay: runRelay,
  flood: runFlood,
  primitives: runPrimitives,
}

const args = process.argv.slice(2).filter((a) => a !== '--')
const unknown = args.filter((a) => !(a in PARTS))
if (unknown.length > 0) {
  console.error(`unknown part ${unknown.join(', ')}; parts are: ${Object.keys(PARTS).join(', ')}`)
  process.exit(2)
}
const selected = args.length > 0 ? args : Object.keys(PARTS)

const started = Date.now()
const loads: string[] = []
const rows: Row[] = []
for (const part of selected) {
  loads.push(`${part} ${loadavg()[0]!.toFixed(2)}`)
  try {
    rows.push(...(await PARTS[part]!()))
  } catch (err) {
    // One broken part should not cost the figures of the others.
    console.error(`[bench] ${part} failed:`, err)
    rows.push({ part, metric: '(part failed)', unit: '', note: `failed: ${(err as Error).message}` })
  }
}

const [one, five, fifteen] = loadavg().map((l) => l.toFixed(2))
console.log(`\n${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`)
console.log(`parts: ${selected.join(', ')}; ${((Date.now() - started) / 1000).toFixed(0)} s`)
console.log(`load average: 1-min at each part's start: ${loads.join(', ')}; at the end 1/5/15-min ${one}/${five}/${fifteen}\n`)
console.log(renderTable(rows))
// Baseline nodes keep timers (their refill interval, 2 s socket-end delays) that would hold the process open.
process.exit(0)
