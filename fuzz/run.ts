/**
 * `npm run fuzz`: every fuzz target with the full count of inputs, each in a worker thread
 * watched for hangs. Prints each target's inputs and inputs/s as it ends, every failure
 * with its replay command, and a summary; exits 1 when any target failed, 2 on bad flags.
 *
 *     npm run fuzz -- [--seed N] [--runs N] [--target NAME[,NAME…]] [--path P] [--jobs N] [--list]
 * @module
 */
import { performance } from 'node:perf_hooks'
import { Worker } from 'node:worker_threads'
import { describeFailure, type FuzzResult } from './harness.js'
import { targets } from './targets/index.js'
import type { WorkerJob } from './worker.js'

const DEFAULT_SEED = 1
const DEFAULT_RUNS = 100_000
/** An input that makes no progress for this long is reported as a hang; far above any time bound. */
const HANG_MS = 20_000
/** A worker that allocates past this dies with ERR_WORKER_OUT_OF_MEMORY, reported as a crash. */
const HEAP_LIMIT_MB = 2048

/** A worker thread does not inherit tsx's loader, so it registers it before loading worker.ts. */
const WORKER_BOOT = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)}) })`

const USAGE = `usage: npm run fuzz -- [--seed N] [--runs N] [--target NAME[,NAME…]] [--path P] [--jobs N] [--list]
  --seed N     fast-check seed (default ${DEFAULT_SEED}); the same seed gives the same inputs
  --runs N     inputs per target (default ${DEFAULT_RUNS})
  --target     run only these targets (see --list)
  --path P     replay the input at fast-check path P (one target only), as a failure prints it
  --jobs N     targets run at once, each in its own thread (default 1, whose timing
               other processes' load does not skew)
  --list       list the targets and the decoders they drive`

interface Flags {
  seed: number
  runs: number
  targets: string[]
  path?: string
  jobs: number
}

function parseFlags(argv: string[]): Flags | 'list' {
  const flags: Flags = { seed: DEFAULT_SEED, runs: DEFAULT_RUNS, targets: [], jobs: 1 }
  const count = (name: string, value: string | undefined, min: number): number => {
    const n = Number(value)
    if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name} needs an integer ≥ ${min}, got ${JSON.stringify(value)}`)
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!
    if (flag === '--list') return 'list'
    const value = argv[++i]
    if (flag === '--seed') flags.seed = count(flag, value, -(2 ** 31))
    else if (flag === '--runs') flags.runs = count(flag, value, 1)
    else if (flag === '--jobs') flags.jobs = count(flag, value, 1)
    else if (flag === '--path' && value) flags.path = value
    else if (flag === '--target' && value) flags.targets.push(...value.split(','))
    else throw new Error(`unknown or incomplete flag ${JSON.stringify(flag)}`)
  }
  const unknown = flags.targets.filter((name) => !targets.some((t) => t.name === name))
  if (unknown.length > 0) throw new Error(`no target ${unknown.join(', ')} (see --list)`)
  if (flags.path !== undefined && flags.targets.length !== 1) throw new Error('--path replays one input: give exactly one --target')
  return flags
}

/** Runs one target in a worker; a hang or a dead worker comes back as a failure. */
function runTarget(name: string, flags: Flags): Promise<FuzzResult> {
  const progress = new SharedArrayBuffer(8)
  const beats = new Int32Array(progress)
  const job: WorkerJob = { target: name, seed: flags.seed, runs: flags.runs, progress }
  if (flags.path !== undefined) job.path = flags.path
  const decoder = targets.find((t) => t.name === name)!.decoder
  const start = performance.now()
  return new Promise((resolve) => {
    const worker = new Worker(WORKER_BOOT, { eval: true, workerData: job, resourceLimits: { maxOldGenerationSizeMb: HEAP_LIMIT_MB } })
    let settled = false
    const finish = (result: FuzzResult): void => {
      if (settled) return
      settled = true
      clearInterval(watchdog)
      resolve(result)
    }
    const failed = (kind: 'hang' | 'crash', what: string): void => {
      const started = Atomics.load(beats, 0)
      const firstFailure = Atomics.load(beats, 1) - 1
      const index = firstFailure >= 0 ? firstFailure : started - 1
      const message =
        index < 0 ? `${what} before the first input` : firstFailure >= 0 ? `${what} while shrinking the failure of input ${index}` : `${what} on input ${index}`
      const path = flags.path ?? (index < 0 ? '' : String(index))
      finish({ target: name, decoder, runs: started, ms: performance.now() - start, failure: { kind, message, seed: flags.seed, path, shrinks: 0 } })
    }
    let lastCount = -1
    let lastChange = performance.now()
    const watchdog = setInterval(() => {
      const count = Atomics.load(beats, 0)
      if (count !== lastCount) {
        lastCount = count
        lastChange = performance.now()
      } else if (performance.now() - lastChange > HANG_MS) {
        failed('hang', `no progress for ${HANG_MS / 1000} s`)
        void worker.terminate()
      }
    }, 1000)
    worker.on('message', (result: FuzzResult) => finish(result))
    worker.on('error', (err) => failed('crash', `the worker died (${err.message})`))
    worker.on('exit', (code) => failed('crash', `the worker exited with code ${code}`))
  })
}

function line(r: FuzzResult): string {
  const rate = r.runs / (r.ms / 1000)
  const status = r.failure ? `FAIL (${r.failure.kind})` : 'ok'
  return `${r.target.padEnd(15)} ${String(r.runs).padStart(8)} ${`${(r.ms / 1000).toFixed(1)} s`.padStart(9)} ${String(Math.round(rate)).padStart(9)}   ${status.padEnd(6)}  ${r.decoder}`
}

async function main(): Promise<number> {
  let flags: Flags | 'list'
  try {
    flags = parseFlags(process.argv.slice(2))
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`)
    return 2
  }
  if (flags === 'list') {
    for (const t of targets) console.log(`${t.name.padEnd(15)} ${t.decoder}`)
    return 0
  }
  const selected = flags.targets.length > 0 ? targets.filter((t) => flags.targets.includes(t.name)) : targets
  console.log(`fuzzing ${selected.length} targets, ${flags.runs} inputs each, seed ${flags.seed}, ${flags.jobs} at a time`)
  console.log(`${'target'.padEnd(15)} ${'inputs'.padStart(8)} ${'time'.padStart(9)} ${'inputs/s'.padStart(9)}   result  decoder`)
  const start = performance.now()
  const queue = selected.map((t) => t.name)
  const results = new Map<string, FuzzResult>()
  const lane = async (): Promise<void> => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const result = await runTarget(name, flags as Flags)
      results.set(name, result)
      console.log(line(result))
      if (result.failure) console.log(describeFailure(result))
    }
  }
  await Promise.all(Array.from({ length: Math.min(flags.jobs, selected.length) }, lane))
  const all = selected.map((t) => results.get(t.name)!)
  const inputs = all.reduce((n, r) => n + r.runs, 0)
  const busy = all.reduce((ms, r) => ms + r.ms, 0)
  const failures = all.filter((r) => r.failure)
  console.log(
    `total: ${inputs} inputs over ${all.length} targets in ${(busy / 1000).toFixed(1)} s of fuzzing, ` +
      `${((performance.now() - start) / 1000).toFixed(1)} s wall: ${failures.length === 0 ? 'no failures' : `${failures.length} FAILED (${failures.map((r) => r.target).join(', ')})`}`,
  )
  return failures.length === 0 ? 0 : 1
}

process.exitCode = await main()
