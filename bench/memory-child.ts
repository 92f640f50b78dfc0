/**
 * Child process of the memory part. Two roles:
 *
 * - `hub <impl> <sessions>`: runs one listening node of `impl` (`ours` or `ethereumjs`),
 *   measures its memory with 0 sessions and with `sessions` established ones, and prints
 *   one JSON line. Needs `--expose-gc`.
 * - `dial <impl> <address> <count>`: runs `count` client nodes of `impl` that each hold one
 *   session with the hub, until killed. They live in their own process so that only the
 *   hub's side of each session is measured.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { generatePrivateKey, Server } from '../lib/index.js'
import { startEthNode, type EthNode } from './ethjs.js'
import { IDLE_PROTOCOL, startOurNode } from './ours.js'
import { childModule, sleep, within } from './support.js'

/** Memory figures of one moment, in bytes. */
export interface MemorySample {
  rss: number
  /** V8 heap committed; the part of RSS that is V8's sizing, not live objects. */
  heapTotal: number
  heapUsed: number
  external: number
  arrayBuffers: number
}

/** What the hub prints. */
export interface MemoryReport {
  impl: string
  sessions: number
  empty: MemorySample
  loaded: MemorySample
}

type Impl = 'ours' | 'ethereumjs'
/** Parallel dials per dialer process: below our default maxPendingPeers (50), so none is refused. */
const DIAL_CONCURRENCY = 16

/** Collects garbage until the heap stops shrinking, then samples. */
async function sample(): Promise<MemorySample> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) throw new Error('memory-child needs node --expose-gc')
  // Several rounds with pauses: finalizers (sockets, native buffers) run between them.
  for (let i = 0; i < 4; i++) {
    gc()
    await sleep(100)
  }
  const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage()
  return { rss, heapTotal, heapUsed, external, arrayBuffers }
}

async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(20)
  }
}

/** Dialer processes still running; killed when the hub exits, however it exits. */
const liveDialers = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of liveDialers) child.kill('SIGKILL')
})

function spawnDialers(impl: Impl, address: string, count: number): ChildProcess {
  const self = childModule('./memory-child.ts', import.meta.url)
  const child = spawn(process.execPath, [...self.execArgv, self.file, 'dial', impl, address, String(count)], { stdio: ['ignore', 'ignore', 'inherit'] })
  liveDialers.add(child)
  child.on('exit', () => liveDialers.delete(child))
  return child
}

/** Starts dialers for `count` sessions, waits until the hub has them, and returns the dialer process. */
async function withSessions(impl: Impl, address: string, count: number, peerCount: () => number): Promise<ChildProcess> {
  const dialers = spawnDialers(impl, address, count)
  await waitFor(() => peerCount() >= count, 120_000, `${count} ${impl} sessions`)
  return dialers
}

async function stopDialers(dialers: ChildProcess, peerCount: () => number): Promise<void> {
  dialers.kill('SIGKILL')
  await waitFor(() => peerCount() === 0, 30_000, 'sessions to close')
}

async function hub(impl: Impl, sessions: number): Promise<void> {
  let address: string
  let peerCount: () => number
  if (impl === 'ours') {
    const server = await startOurNode([IDLE_PROTOCOL], { maxPeers: sessions * 3 })
    address = server.enode
    peerCount = () => server.peerCount
  } else {
    const node = await startEthNode({ maxPeers: sessions * 3 })
    address = `${Buffer.from(node.id).toString('hex')}:${node.port}`
    peerCount = () => node.rlpx.getPeers().length
  }
  // A few sessions come and go first, so that code loaded and compiled for the first
  // sessions is in the baseline and not charged to the measured ones.
  await stopDialers(await withSessions(impl, address, 10, peerCount), peerCount)
  const empty = await sample()
  await withSessions(impl, address, sessions, peerCount)
  await sleep(500)
  const loaded = await sample()
  const report: MemoryReport = { impl, sessions, empty, loaded }
  process.stdout.write(`${JSON.stringify(report)}\n`)
  process.exit(0) // the exit handler kills the dialers
}

/** Runs `task` for every index with at most `limit` in flight; retries a failed task. */
async function pool(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++
      for (let attempt = 0; ; attempt++) {
        try {
          await task(i)
          break
        } catch (err) {
          if (attempt >= 5) throw err
          await sleep(50)
        }
      }
    }
  }
  await Promise.all(Array.from({ length: limit }, worker))
}

async function dial(impl: Impl, address: string, count: number): Promise<void> {
  if (impl === 'ours') {
    await pool(count, DIAL_CONCURRENCY, async () => {
      const client = new Server({ privateKey: generatePrivateKey(), listenAddr: null, discovery: false, maxPeers: 1, protocols: [IDLE_PROTOCOL] })
      await client.start()
      await client.connect(address)
    })
  } else {
    const [idHex, port] = address.split(':') as [string, string]
    const target = { id: Buffer.from(idHex, 'hex'), address: '127.0.0.1', tcpPort: Number(port) }
    const clients: EthNode[] = []
    await pool(count, DIAL_CONCURRENCY, async () => {
      const client = await startEthNode({ maxPeers: 1 })
      clients.push(client)
      const added = new Promise((resolve) => client.rlpx.events.once('peer:added', resolve))
      await client.rlpx.connect(target)
      await within(added, 10_000, 'peer:added')
    })
  }
  // Hold the sessions until the hub kills this process.
  setInterval(() => {}, 1 << 30)
}

const [role, impl, arg, count] = process.argv.slice(2)
if ((impl !== 'ours' && impl !== 'ethereumjs') || !arg) {
  console.error('usage: memory-child.ts hub <ours|ethereumjs> <sessions> | dial <ours|ethereumjs> <address> <count>')
  process.exit(2)
}
if (role === 'hub') await hub(impl, Number(arg))
else if (role === 'dial') await dial(impl, arg, Number(count))
