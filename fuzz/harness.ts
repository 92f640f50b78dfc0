/**
 * The fuzzing property and its runner. A decoder of network bytes must, for every input,
 * return or throw a {@link Devp2pError}, within {@link timeBoundMs}. Anything else — another
 * error escaping, a target's own invariant broken, an input slower than its bound — is a
 * failure, shrunk by fast-check and reported with the seed and path that replay it.
 * @module
 */
import { performance } from 'node:perf_hooks'
import fc from 'fast-check'
import { Devp2pError } from '../lib/errors.js'

/** One decoder (or a decoder and what reads its result) driven by generated inputs. */
export interface Target<T = Uint8Array> {
  readonly name: string
  /** The functions it drives, for the report. */
  readonly decoder: string
  readonly arbitrary: fc.Arbitrary<T>
  /** Feeds one input to the decoder: returns, or throws what the decoder threw. */
  run(input: T): void
  /** The network bytes in `input`: they size its time bound and a failure prints them. */
  bytes(input: T): Uint8Array
  /** Inputs the decoder must accept: proof that the fuzzing reaches past its first check. */
  readonly valid: readonly T[]
}

/** A target's own invariant does not hold (e.g. a round trip); thrown by `run`. */
export class PropertyViolation extends Error {}

/** Runs `fn`, swallowing the typed errors a decoder may throw: for decoders a target calls on the side. */
export function ignoreTyped(fn: () => void): void {
  try {
    fn()
  } catch (err) {
    if (!(err instanceof Devp2pError)) throw err
  }
}

/** How an input failed the property. */
export type FailureKind = 'untyped error' | 'property violated' | 'too slow' | 'hang' | 'crash'

/** The input failed; `kind` says how. */
class FuzzFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/**
 * The time one input may take: 50 ms, an event-loop stall a user notices, plus 0.1 ms per
 * KiB (10 MB/s). Receiving the same bytes — AES-CTR and keccak over every byte — runs at
 * hundreds of MB/s, so a decoder linear in its input stays far below the bound, while one
 * that does quadratic work, or builds an object per input byte, over a message of a few
 * hundred KiB exceeds it.
 */
function timeBoundMs(size: number): number {
  return 50 + size / 10_240
}

/** An input over its bound is timed this many times more; the fastest run counts (GC pauses). */
const RETRIES = 3

function runTyped<T>(target: Target<T>, input: T): void {
  try {
    target.run(input)
  } catch (err) {
    if (err instanceof Devp2pError) return
    if (err instanceof PropertyViolation) throw new FuzzFailure('property violated', err.message, { cause: err })
    const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
    throw new FuzzFailure('untyped error', `escaped the decoder: ${what}`, { cause: err })
  }
}

function wallTime<T>(target: Target<T>, input: T): number {
  const start = performance.now()
  runTyped(target, input)
  return performance.now() - start
}

/**
 * The time of one run as the lesser of wall time and the process's CPU time. Other
 * processes competing for the CPU stretch the first, not the second, so a loaded machine
 * does not fail an input; with one target running (`--jobs 1`) the process's CPU time is
 * the decoder's own, GC included.
 */
function retryTime<T>(target: Target<T>, input: T): number {
  const cpu = process.cpuUsage()
  const wall = wallTime(target, input)
  const used = process.cpuUsage(cpu)
  return Math.min(wall, (used.user + used.system) / 1000)
}

/** Checks the property on one input. @throws {FuzzFailure} */
function checkInput<T>(target: Target<T>, input: T, timeBound = true): void {
  let ms = wallTime(target, input)
  if (!timeBound) return
  const size = target.bytes(input).length
  const bound = timeBoundMs(size)
  for (let i = 0; i < RETRIES && ms > bound; i++) ms = Math.min(ms, retryTime(target, input))
  if (ms > bound) throw new FuzzFailure('too slow', `took ${ms.toFixed(1)} ms on ${size} bytes (the fastest of ${RETRIES + 1} runs); the bound is ${bound.toFixed(1)} ms`)
}

/** Options of {@link fuzz}. */
export interface FuzzOptions {
  seed: number
  runs: number
  /** A fast-check path: replays that input (and shrinks on from it). */
  path?: string
  /** Enforce {@link timeBoundMs}; off in the test suite, where timing is not asserted. */
  timeBound?: boolean
  /** Called before each input, with its index: the hang watchdog's heartbeat. */
  onInput?: (index: number) => void
  /** Called once, when the first input fails (later calls are shrinking). */
  onFailure?: (index: number) => void
}

/** A failure as it is reported: kind, message, replay coordinates and the shrunk input. */
export interface FailureReport {
  kind: FailureKind
  message: string
  seed: number
  path: string
  shrinks: number
  input?: Uint8Array
  stack?: string
}

/** What one target's run did. */
export interface FuzzResult {
  target: string
  decoder: string
  runs: number
  ms: number
  failure?: FailureReport
}

/** Runs `options.runs` inputs through `target`; a failure is shrunk before it is returned. */
export function fuzz<T>(target: Target<T>, options: FuzzOptions): FuzzResult {
  let index = 0
  let failed = false
  const property = fc.property(target.arbitrary, (input) => {
    options.onInput?.(index)
    try {
      checkInput(target, input, options.timeBound ?? true)
    } catch (err) {
      if (!failed) options.onFailure?.(index)
      failed = true
      throw err
    } finally {
      index++
    }
  })
  const start = performance.now()
  const details = fc.check(property, { seed: options.seed, numRuns: options.runs, path: options.path })
  const ms = performance.now() - start
  const result: FuzzResult = { target: target.name, decoder: target.decoder, runs: details.numRuns, ms }
  if (!details.failed) return result
  const err = details.errorInstance
  const failure = err instanceof FuzzFailure ? err : new FuzzFailure('crash', `the harness failed: ${String(err)}`, { cause: err })
  const cause = failure.cause instanceof Error ? failure.cause : undefined
  const report: FailureReport = {
    kind: failure.kind,
    message: failure.message,
    seed: details.seed,
    path: details.counterexamplePath ?? '',
    shrinks: details.numShrinks,
  }
  if (details.counterexample) report.input = target.bytes(details.counterexample[0])
  if (cause?.stack) report.stack = cause.stack
  return { ...result, failure: report }
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex')
}

/** A failure in lines a developer can act on: what, where, the input, how to replay it. */
export function describeFailure(result: FuzzResult): string {
  const f = result.failure!
  const lines = [`${result.target} (${result.decoder}): ${f.kind}: ${f.message}`]
  if (f.input) {
    const shown = f.input.length <= 4096 ? hex(f.input) : `${hex(f.input.subarray(0, 512))}…${hex(f.input.subarray(-64))}`
    lines.push(`  input (${f.input.length} bytes, after ${f.shrinks} shrinks): ${shown}`)
  }
  lines.push(`  replay: npm run fuzz -- --target ${result.target} --seed ${f.seed}${f.path ? ` --path ${f.path}` : ''}`)
  if (f.stack) lines.push(...f.stack.split('\n').slice(0, 8).map((line) => `  ${line}`))
  return lines.join('\n')
}
