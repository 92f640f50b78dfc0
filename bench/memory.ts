/**
 * Part `memory`, memory per session: marginal RSS and heap of one node per established, idle
 * session at 200 sessions, ours vs @ethereumjs/devp2p. Each implementation's node runs in
 * a fresh child process (`memory-child.ts hub`) that forces garbage collection, samples
 * with 0 sessions, then again with 200 sessions dialled from yet another process, and
 * reports the difference; this part divides it by 200. Three children per implementation,
 * alternating, give the median and range: RSS in particular moves with V8's heap sizing
 * and malloc's arenas, by more than 200 sessions' worth between runs.
 * @module
 */
import { spawn } from 'node:child_process'
import type { MemoryReport, MemorySample } from './memory-child.js'
import { childModule, progress, stat, type Row, type Stat } from './support.js'

const SESSIONS = 200
const RUNS = 3
const CHILD = childModule('./memory-child.ts', import.meta.url)

/** Runs one hub child and returns its report. */
function runHub(impl: string): Promise<MemoryReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', ...CHILD.execArgv, CHILD.file, 'hub', impl, String(SESSIONS)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? ''
      try {
        resolve(JSON.parse(line) as MemoryReport)
      } catch {
        reject(new Error(`memory child for ${impl} exited with ${code} and printed ${JSON.stringify(out.slice(-200))}`))
      }
    })
  })
}

/** KiB per session of one memory field, over the runs. */
function perSession(reports: MemoryReport[], field: keyof MemorySample): Stat {
  return stat(reports.map((r) => (r.loaded[field] - r.empty[field]) / r.sessions / 1024))
}

/** Runs the memory part; returns its table rows. */
export async function runMemory(): Promise<Row[]> {
  const ours: MemoryReport[] = []
  const eth: MemoryReport[] = []
  for (let run = 1; run <= RUNS; run++) {
    progress(`memory: ours, ${SESSIONS} sessions, run ${run}/${RUNS}`)
    ours.push(await runHub('ours'))
    progress(`memory: ethereumjs, ${SESSIONS} sessions, run ${run}/${RUNS}`)
    eth.push(await runHub('ethereumjs'))
  }
  const row = (metric: string, field: keyof MemorySample, extra: Partial<Row> = {}): Row => ({
    part: 'memory',
    metric,
    unit: 'KiB/session',
    ours: perSession(ours, field),
    baseName: 'ethereumjs',
    base: perSession(eth, field),
    ...extra,
  })
  return [
    row(`heap used per session (${SESSIONS} sessions)`, 'heapUsed', { target: { op: '<=', value: 0.5 } }),
    row(`RSS per session (${SESSIONS} sessions)`, 'rss', { note: 'noisy: moves with V8 heap sizing and malloc arenas' }),
    row(`V8 heap committed per session`, 'heapTotal', { note: 'heap reserved, part of RSS' }),
    row(`external (Buffers, native) per session`, 'external'),
  ]
}
