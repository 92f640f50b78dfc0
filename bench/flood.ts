/**
 * Part `flood`, flood latency: runs the floodnet simulator (`examples/floodnet-sim.ts`) with
 * real sockets (`--transport tcp`: real nodes on loopback in one child process), 100 nodes
 * joining through one entry node and 20 broadcasts, with seeds 1, 2 and 3, and reads the
 * JSON object it prints: delivery ratio, latency p50/p99, transmissions per delivered
 * message. There is no baseline implementation, so the rows carry the absolute targets
 * instead of ratios. When the simulator is missing the part reports so instead of failing.
 * @module
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { childModule, progress, stat, type Row } from './support.js'

const SIM = childModule('../examples/floodnet-sim.ts', import.meta.url)
const NODES = 100
const MESSAGES = 20
const RUNS = 3
/** A run takes about 110 s on 2 cores: 100 real nodes join one by one, then settle. */
const RUN_TIMEOUT_MS = 300_000

/** The simulator's figures this part reads. */
interface SimResult {
  result: {
    settleMs: number | null
    broadcasts: {
      deliveryRatio: number | null
      latencyMs: { p50: number | null; p99: number | null }
      transmissionsPerBroadcast: number | null
    }
  }
}

/** Runs the simulator once and parses the last JSON object it prints. */
function runSim(seed: number): Promise<SimResult> {
  return new Promise((resolve, reject) => {
    const args = [...SIM.execArgv, SIM.file, '--scenario', 'join', '--transport', 'tcp', '--nodes', String(NODES), '--messages', String(MESSAGES), '--seed', String(seed)]
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const line = out
        .split('\n')
        .reverse()
        .find((l) => l.trimStart().startsWith('{'))
      try {
        if (!line) throw new Error('no JSON line')
        resolve(JSON.parse(line) as SimResult)
      } catch {
        reject(new Error(`simulator exited with ${signal ?? code} without a JSON result: ${err.trim().split('\n').slice(-3).join(' / ')}`))
      }
    })
  })
}

/** Runs the flood part; returns its table rows. */
export async function runFlood(): Promise<Row[]> {
  const part = 'flood'
  if (!existsSync(SIM.file)) return [{ part, metric: `${NODES} nodes, ${MESSAGES} messages`, unit: '', note: 'flood: simulator not available' }]
  const results: SimResult[] = []
  for (let run = 1; run <= RUNS; run++) {
    progress(`flood: simulator, ${NODES} nodes, ${MESSAGES} messages, run ${run}/${RUNS}`)
    results.push(await runSim(run))
  }
  const figure = (pick: (r: SimResult['result']) => number | null): number[] => results.map((r) => pick(r.result)).map((v) => v ?? NaN)
  const ratios = figure((r) => r.broadcasts.deliveryRatio)
  const p99 = stat(figure((r) => r.broadcasts.latencyMs.p99))
  const unsettled = results.filter((r) => r.result.settleMs === null).length
  const runs = `${RUNS} runs of ${NODES} nodes, ${MESSAGES} messages`
  return [
    {
      part,
      metric: 'delivery ratio',
      unit: 'delivered/expected',
      ours: stat(ratios),
      pass: ratios.every((r) => r === 1),
      targetText: '= 1 every run',
      note: unsettled > 0 ? `${runs}; mesh not settled in ${unsettled}` : runs,
    },
    { part, metric: 'latency p50', unit: 'ms', ours: stat(figure((r) => r.broadcasts.latencyMs.p50)) },
    { part, metric: 'latency p99', unit: 'ms', ours: p99, pass: p99.median < 100, targetText: '< 100 ms' },
    { part, metric: 'transmissions per delivered message', unit: 'msgs', ours: stat(figure((r) => (r.broadcasts.transmissionsPerBroadcast === null ? null : r.broadcasts.transmissionsPerBroadcast / (NODES - 1)))) },
  ]
}
