/**
 * Timing, statistics and the result table shared by every benchmark part.
 *
 * Every figure is the median of at least three timed repetitions that follow an untimed
 * warm-up (so JIT compilation and lazy loading are not measured), shown with its min–max.
 * CPU time comes from `process.cpuUsage()` (user + system, every thread of this process).
 * @module
 */
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'

/** Median and spread of one figure over its repetitions. */
export interface Stat {
  median: number
  min: number
  max: number
}

/** One line of the final table: our figure next to a baseline measured in the same run. */
export interface Row {
  /** Benchmark part: handshake, throughput, memory, flood, primitives. */
  part: string
  /** What is measured, e.g. `100-byte messages`. */
  metric: string
  /** Unit of `ours` and `base`, e.g. `msg/s`. */
  unit: string
  ours?: Stat
  /** Name of what `base` measured, e.g. `ethereumjs`. */
  baseName?: string
  base?: Stat
  /** Target on ours ÷ base, e.g. `{ op: '>=', value: 30 }`. */
  target?: { op: '>=' | '<='; value: number }
  /** Replaces the figures when the part could not run, or adds a remark. */
  note?: string
  /** Overrides the PASS/MISS verdict (for targets that are not a ratio). */
  pass?: boolean
  /** Shown in the target column when `pass` is given directly. */
  targetText?: string
}

/** Median, min and max of `values`. */
export function stat(values: readonly number[]): Stat {
  if (values.length === 0) throw new RangeError('stat() of no values')
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! }
}

/** `s` with every value multiplied by `factor` (e.g. messages/s to MB/s). */
export function scale(s: Stat, factor: number): Stat {
  return { median: s.median * factor, min: s.min * factor, max: s.max * factor }
}

/** Wall and CPU time of one timed section, in milliseconds. */
export interface Timing {
  wallMs: number
  cpuMs: number
}

/** Runs `fn` once and returns its result with the wall and CPU time it took. */
export async function timed<T>(fn: () => Promise<T> | T): Promise<Timing & { result: T }> {
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const result = await fn()
  const wallMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  return { result, wallMs, cpuMs: (cpu.user + cpu.system) / 1000 }
}

/** Options of {@link measureRate}. */
export interface RateOptions {
  /** Units (messages, handshakes, calls) in the untimed warm-up, which also sizes the timed runs; per run, or one for all. */
  warmupUnits: number | Record<string, number>
  /** Aimed duration of one timed repetition, in ms; the unit count is chosen to fit it. */
  targetMs: number
  /** Timed repetitions (at least 3). @default 3 */
  reps?: number
  /** Fewest and most units in one repetition. */
  minUnits?: number
  maxUnits?: number
}

/** What {@link measureRate} reports: units per second and CPU ms per unit, each over the reps. */
export interface RateResult {
  perSecond: Stat
  cpuMsPerUnit: Stat
  /** Units in each timed repetition. */
  units: number
}

/**
 * Measures how many units per second `run(units)` processes. An untimed warm-up of
 * `warmupUnits` both warms the code and estimates the rate, from which each timed
 * repetition gets as many units as fit in `targetMs`: slow and fast implementations are
 * timed for about as long, and the whole bench stays within its time budget.
 */
export async function measureRate(run: (units: number) => Promise<void>, opts: RateOptions): Promise<RateResult> {
  return (await measureRates({ run }, opts)).run!
}

/**
 * {@link measureRate} for several runs whose repetitions alternate (a1 b1 a2 b2 …) after
 * all have warmed up, so that figures meant to be divided by each other are taken in the
 * same process state (heap size, allocator arenas) rather than one after the other.
 */
export async function measureRates<K extends string>(runs: Record<K, (units: number) => Promise<void>>, opts: RateOptions): Promise<Record<K, RateResult>> {
  const reps = Math.max(3, opts.reps ?? 3)
  const keys = Object.keys(runs) as K[]
  const units = {} as Record<K, number>
  for (const key of keys) {
    const warmup = typeof opts.warmupUnits === 'number' ? opts.warmupUnits : opts.warmupUnits[key]!
    const warm = await timed(() => runs[key](warmup))
    const estimate = warmup / Math.max(warm.wallMs, 0.001)
    units[key] = Math.round(Math.min(opts.maxUnits ?? Infinity, Math.max(opts.minUnits ?? 1, estimate * opts.targetMs)))
  }
  const rates = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<K, number[]>
  const cpus = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<K, number[]>
  for (let i = 0; i < reps; i++) {
    for (const key of keys) {
      const t = await timed(() => runs[key](units[key]))
      rates[key].push((units[key] * 1000) / t.wallMs)
      cpus[key].push(t.cpuMs / units[key])
    }
  }
  return Object.fromEntries(keys.map((k) => [k, { perSecond: stat(rates[k]), cpuMsPerUnit: stat(cpus[k]), units: units[k] }])) as Record<K, RateResult>
}

/**
 * Operations per second of a synchronous `op`, called in a loop so that the timer's own
 * cost stays out of the figure. One timed call sizes the warm-up to about 50 ms, so slow
 * operations (1 MiB in pure JS) do not spend seconds warming up; otherwise the same rules
 * as {@link measureRate}.
 */
export async function measureOps(op: () => unknown, targetMs = 250): Promise<Stat> {
  const first = await timed(op)
  const warmupUnits = Math.max(1, Math.min(5000, Math.round(50 / Math.max(first.wallMs, 0.001))))
  const result = await measureRate(
    async (units) => {
      for (let i = 0; i < units; i++) op()
    },
    { warmupUnits, targetMs, minUnits: 3 },
  )
  return result.perSecond
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Rejects with a message naming `what` when `promise` has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
    }),
  ])
}

/** A promise and the function that resolves it. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (err: Error) => void } {
  let resolve!: (value: T) => void
  let reject!: (err: Error) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** An established session of the throughput part. */
export interface Session {
  /** Sends `n` copies of the session's payload; resolves once the receiver has counted all `n`. */
  send(n: number): Promise<void>
  close(): Promise<void>
}

/** Counts received messages and resolves once the expected number has arrived. */
export class Counter {
  #count = 0
  #target = 0
  #done = deferred()

  /** Starts a new count of `n` messages; resolves when the n-th arrives. */
  expect(n: number): Promise<void> {
    this.#count = 0
    this.#target = n
    this.#done = deferred()
    return this.#done.promise
  }

  /** Records one received message. */
  hit(): void {
    if (++this.#count === this.#target) this.#done.resolve()
  }
}

/** Formats a number with 3 significant figures, grouping thousands: 123456 → `123,456`, 0.01234 → `0.0123`; integers whole. */
export function num(n: number): string {
  if (!Number.isFinite(n)) return String(n)
  if (Number.isInteger(n)) return n.toLocaleString('en-US')
  const abs = Math.abs(n)
  if (abs >= 1000) return Math.round(n).toLocaleString('en-US')
  if (abs >= 100) return n.toFixed(0)
  if (abs >= 10) return n.toFixed(1)
  if (abs >= 1) return n.toFixed(2)
  return n.toPrecision(3)
}

function fmtStat(s: Stat | undefined): string {
  if (!s) return ''
  return s.min === s.max ? num(s.median) : `${num(s.median)} (${num(s.min)}–${num(s.max)})`
}

/** Ours ÷ base of a row's medians. */
export function ratioOf(row: Row): number | undefined {
  if (!row.ours || !row.base || row.base.median === 0) return undefined
  return row.ours.median / row.base.median
}

/** PASS, MISS or '' for a row without a target. */
export function verdict(row: Row): string {
  if (row.pass !== undefined) return row.pass ? 'PASS' : 'MISS'
  if (!row.target) return ''
  const r = ratioOf(row)
  if (r === undefined) return 'MISS'
  return (row.target.op === '>=' ? r >= row.target.value : r <= row.target.value) ? 'PASS' : 'MISS'
}

/** Renders rows as one Markdown table: figures with min–max, ratio ours ÷ baseline, target, verdict, note. */
export function renderTable(rows: readonly Row[]): string {
  const header = ['part', 'metric', 'unit', 'ours: median (min–max)', 'baseline', 'baseline: median (min–max)', 'ours ÷ base', 'target', 'result', 'note']
  const lines = rows.map((row) => {
    const r = ratioOf(row)
    const target = row.targetText ?? (row.target ? `${row.target.op === '>=' ? '≥' : '≤'} ${row.target.value}×` : '')
    return [row.part, row.metric, row.unit, fmtStat(row.ours), row.baseName ?? '', fmtStat(row.base), r === undefined ? '' : `${num(r)}×`, target, verdict(row), row.note ?? '']
  })
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const fmt = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  return [fmt(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(fmt)].join('\n')
}

/** Logs progress to stderr so that stdout carries only the table. */
export function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`)
}

/**
 * How to start the module at `relative` to `base` (an `import.meta.url`) in a child process:
 * its compiled `.js` when the bench itself runs compiled (`npm run bench`, which measures the
 * code as it ships), else the `.ts` through tsx.
 */
export function childModule(relative: string, base: string): { file: string; execArgv: string[] } {
  const compiled = base.endsWith('.js')
  const file = fileURLToPath(new URL(compiled ? relative.replace(/\.ts$/, '.js') : relative, base))
  return { file, execArgv: compiled ? [] : ['--import', 'tsx'] }
}
