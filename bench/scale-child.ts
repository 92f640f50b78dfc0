/**
 * Child process of the scale part, driven over IPC by `scale.ts`. Two roles:
 *
 * - `hub <maxPeers>`: one listening Server (default options but `maxPeers`) whose protocol
 *   keeps every peer's writer. Answers `observe` (event-loop delay and CPU over a window,
 *   with every peer idle), `broadcast` (one message to every peer in one synchronous pass)
 *   and `count`.
 * - `dial <enode> <count> <concurrency> <retries>`: `count` client Servers, each holding one
 *   session with the hub, dialled `concurrency` at a time (all at once when it equals
 *   `count`), each retried at most `retries` times. Reports what it established and how
 *   many retries that took, then answers `received` (broadcasts seen) until killed.
 * @module
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { wasm } from '../lib/crypto/wasm.js'
import { generatePrivateKey, Server, type MsgReadWriter, type Protocol } from '../lib/index.js'

/** Messages from the parent. */
export type ScaleCommand = { cmd: 'observe'; ms: number } | { cmd: 'broadcast' } | { cmd: 'count' } | { cmd: 'received' }

/** What the hub reports for `observe`. */
export interface Observation {
  peers: number
  /** Event-loop delay over the window, ms. */
  delayMaxMs: number
  delayP99Ms: number
  /** CPU of the hub process over the window, as a share of one core. */
  cpuShare: number
  /** Heap used and the frame codec's WebAssembly memory, bytes. */
  heapUsed: number
  wasmMemory: number
}

/** What the hub reports for `broadcast`. */
export interface BroadcastReport {
  peers: number
  /** Time the synchronous pass over all peers took, ms. */
  passMs: number
  /** Time until every write had been accepted (back-pressure included), ms. */
  acceptedMs: number
  /** Writes that failed. */
  failed: number
}

/** What a dialer reports once its dials have settled. */
export interface DialReport {
  established: number
  failed: number
  retries: number
  /** The first few failure messages, for the note. */
  errors: string[]
}

const send = (message: unknown): void => {
  process.send!(message)
}

async function hub(maxPeers: number): Promise<void> {
  const writers = new Set<MsgReadWriter>()
  const protocol: Protocol = {
    name: 'scale',
    version: 1,
    length: 1,
    async run(_peer, rw) {
      writers.add(rw)
      try {
        for await (const _msg of rw) {
          // the dialers send nothing on this protocol
        }
      } finally {
        writers.delete(rw)
      }
    },
  }
  const server = new Server({ privateKey: generatePrivateKey(), listenAddr: '127.0.0.1:0', discovery: false, maxPeers, protocols: [protocol] })
  await server.start()
  process.on('message', async (message: ScaleCommand) => {
    if (message.cmd === 'count') send({ peers: server.peerCount })
    else if (message.cmd === 'observe') {
      const histogram = monitorEventLoopDelay({ resolution: 1 })
      histogram.enable()
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      await new Promise((resolve) => setTimeout(resolve, message.ms))
      const cpu = process.cpuUsage(cpu0)
      const wall = performance.now() - t0
      histogram.disable()
      const report: Observation = {
        peers: server.peerCount,
        delayMaxMs: histogram.max / 1e6,
        delayP99Ms: histogram.percentile(99) / 1e6,
        cpuShare: (cpu.user + cpu.system) / 1000 / wall,
        heapUsed: process.memoryUsage().heapUsed,
        wasmMemory: wasm.memory.buffer.byteLength,
      }
      send(report)
    } else if (message.cmd === 'broadcast') {
      const payload = Buffer.from('one message to every peer')
      const t0 = performance.now()
      // One synchronous pass: every connection queues its frame and flushes it in the same
      // turn of the event loop.
      const written = [...writers].map((rw) => rw.writeMsg(0, payload))
      const passMs = performance.now() - t0
      const results = await Promise.allSettled(written)
      const report: BroadcastReport = {
        peers: writers.size,
        passMs,
        acceptedMs: performance.now() - t0,
        failed: results.filter((r) => r.status === 'rejected').length,
      }
      send(report)
    }
  })
  send({ enode: server.enode })
}

async function dial(enode: string, count: number, concurrency: number, retries: number): Promise<void> {
  let received = 0
  const protocol: Protocol = {
    name: 'scale',
    version: 1,
    length: 1,
    async run(_peer, rw) {
      for await (const _msg of rw) received++
    },
  }
  const report: DialReport = { established: 0, failed: 0, retries: 0, errors: [] }
  const clients: Server[] = []
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++
      const client = new Server({ privateKey: generatePrivateKey(), listenAddr: null, discovery: false, maxPeers: 1, protocols: [protocol] })
      await client.start()
      clients.push(client)
      for (let attempt = 0; ; attempt++) {
        try {
          await client.connect(enode)
          report.established++
          break
        } catch (err) {
          if (attempt >= retries) {
            report.failed++
            if (report.errors.length < 3) report.errors.push((err as Error).message)
            break
          }
          report.retries++
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  process.on('message', (message: ScaleCommand) => {
    if (message.cmd === 'received') send({ received })
  })
  send(report)
}

const [role, ...args] = process.argv.slice(2)
if (role === 'hub') await hub(Number(args[0]))
else if (role === 'dial') await dial(args[0]!, Number(args[1]), Number(args[2]), Number(args[3]))
else {
  console.error('usage: scale-child.ts hub <maxPeers> | dial <enode> <count> <concurrency> <retries>')
  process.exit(2)
}
