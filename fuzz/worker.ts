/**
 * Runs one target in a worker thread, so that the runner can stop an input that never
 * returns and still report which one it was: before each input the worker counts it in
 * shared memory, and it marks the first failing one (what follows is shrinking).
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads'
import { fuzz } from './harness.js'
import { targets } from './targets/index.js'

/** What the runner asks of a worker. */
export interface WorkerJob {
  target: string
  seed: number
  runs: number
  path?: string
  /** Int32 × 2: inputs started; 1 + index of the first failing input (0: none yet). */
  progress: SharedArrayBuffer
}

const job = workerData as WorkerJob
const progress = new Int32Array(job.progress)
const target = targets.find((t) => t.name === job.target)!
const options = {
  seed: job.seed,
  runs: job.runs,
  onInput: () => void Atomics.add(progress, 0, 1),
  onFailure: (index: number) => void Atomics.store(progress, 1, index + 1),
}
parentPort!.postMessage(fuzz(target, job.path === undefined ? options : { ...options, path: job.path }))
