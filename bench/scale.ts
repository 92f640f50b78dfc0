/**
 * Part `scale`: one Server at thousands of peers, with the hub in a child process of its
 * own (so its figures are its own) and its peers in two dialer processes (see
 * `scale-child.ts`).
 *
 * - 5,000 idle peers: once all are connected, the hub's event-loop delay (max and p99)
 *   and its CPU are taken over 31 s, two keep-alive rounds at the default 15 s interval.
 * - Broadcast: the hub writes one message to each of the 5,000 peers in one synchronous
 *   pass; the dialers count what arrives.
 * - 200 simultaneous dials: a fresh hub with default options (50 pending connections)
 *   and 200 clients dialling it at once, none retried.
 *
 * The dialers share the machine's two cores with the hub, and so does anything else
 * running: the load average is in the notes.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { loadavg } from 'node:os'
import type { BroadcastReport, DialReport, Observation, ScaleCommand } from './scale-child.js'
import { childModule, num, progress, sleep, stat, within, type Row } from './support.js'

const CHILD = childModule('./scale-child.ts', import.meta.url)
const PEERS = 5000
const DIALERS = 2
/** Dials in flight per dialer process: together below the hub's 50 pending connections. */
const DIAL_CONCURRENCY = 16
/** Two keep-alive rounds at the default 15 s ping interval, and a second more. */
const OBSERVE_MS = 31_000
const BURST = 200
const SETUP_MS = 300_000

/** A child process and its IPC messages, in order. */
class Child {
  readonly process: ChildProcess
  #messages: unknown[] = []
  #waiting: ((message: unknown) => void) | undefined

  constructor(args: string[]) {
    this.process = spawn(process.execPath, [...CHILD.execArgv, CHILD.file, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.process.on('message', (message) => {
      if (this.#waiting) {
        const resolve = this.#waiting
        this.#waiting = undefined
        resolve(message)
      } else this.#messages.push(message)
    })
  }

  /** The next message from the child. */
  next<T>(): Promise<T> {
    if (this.#messages.length > 0) return Promise.resolve(this.#messages.shift() as T)
    return new Promise((resolve) => (this.#waiting = resolve as (message: unknown) => void))
  }

  /** Sends `command` and resolves with the answer. */
  ask<T>(command: ScaleCommand, ms = 60_000): Promise<T> {
    this.process.send(command)
    return within(this.next<T>(), ms, `the answer to ${command.cmd}`)
  }

  kill(): void {
    this.process.kill('SIGKILL')
  }
}

const load = (): string => `1-min load ${loadavg()[0]!.toFixed(2)}`

async function idleAndBroadcast(): Promise<Row[]> {
  const children: Child[] = []
  try {
    progress(`scale: a hub and ${PEERS} peers from ${DIALERS} dialer processes`)
    // Inbound peers may fill maxPeers − ⌊maxPeers / 3⌋ slots (dialRatio 3).
    const hub = new Child(['hub', String(Math.ceil((PEERS * 3) / 2) + 100)])
    children.push(hub)
    const { enode } = await within(hub.next<{ enode: string }>(), 30_000, 'the hub to start')
    const dialers = Array.from({ length: DIALERS }, () => new Child(['dial', enode, String(PEERS / DIALERS), String(DIAL_CONCURRENCY), '5']))
    children.push(...dialers)
    const setup = await within(Promise.all(dialers.map((d) => d.next<DialReport>())), SETUP_MS, `${PEERS} sessions`)
    const retries = setup.reduce((n, r) => n + r.retries, 0)
    let peers = 0
    for (let i = 0; i < 100 && peers < PEERS; i++) {
      peers = (await hub.ask<{ peers: number }>({ cmd: 'count' })).peers
      if (peers < PEERS) await sleep(100)
    }
    await sleep(2000)
    progress(`scale: ${peers} peers connected (${retries} dial retries); observing the hub for ${OBSERVE_MS / 1000} s`)
    const loadBefore = load()
    const idle = await hub.ask<Observation>({ cmd: 'observe', ms: OBSERVE_MS }, OBSERVE_MS + 30_000)
    progress('scale: broadcast to every peer')
    const t0 = performance.now()
    const broadcast = await hub.ask<BroadcastReport>({ cmd: 'broadcast' })
    let received = 0
    while (received < broadcast.peers && performance.now() - t0 < 10_000) {
      received = 0
      for (const d of dialers) received += (await d.ask<{ received: number }>({ cmd: 'received' })).received
      if (received < broadcast.peers) await sleep(20)
    }
    const deliveredMs = performance.now() - t0
    const setupNote = `${idle.peers} peers (${retries} retries while dialling them); ${loadBefore}`
    return [
      {
        part: 'scale',
        metric: `${PEERS.toLocaleString('en-US')} idle peers: event-loop delay max`,
        unit: 'ms',
        ours: stat([idle.delayMaxMs]),
        pass: idle.peers >= PEERS && idle.delayMaxMs <= 20,
        targetText: '≤ 20 ms',
        note: `p99 ${num(idle.delayP99Ms)} ms over ${OBSERVE_MS / 1000} s; ${setupNote}`,
      },
      {
        part: 'scale',
        metric: `${PEERS.toLocaleString('en-US')} idle peers: hub CPU`,
        unit: '% of a core',
        ours: stat([idle.cpuShare * 100]),
        pass: idle.peers >= PEERS && idle.cpuShare <= 0.05,
        targetText: '≤ 5 %',
        note: `${setupNote}; heap used ${num(idle.heapUsed / 2 ** 20)} MiB, frame codec's WebAssembly memory ${num(idle.wasmMemory / 2 ** 20)} MiB`,
      },
      {
        part: 'scale',
        metric: `broadcast to ${PEERS.toLocaleString('en-US')} peers in one pass`,
        unit: 'delivered',
        ours: stat([received]),
        pass: broadcast.peers >= PEERS && received === broadcast.peers && broadcast.failed === 0,
        targetText: `all ${PEERS.toLocaleString('en-US')}`,
        note: `pass ${num(broadcast.passMs)} ms, all writes accepted after ${num(broadcast.acceptedMs)} ms, all delivered after ${num(deliveredMs)} ms; ${load()}`,
      },
    ]
  } finally {
    for (const child of children) child.kill()
  }
}

async function burst(): Promise<Row> {
  const children: Child[] = []
  try {
    progress(`scale: ${BURST} simultaneous dials to a hub with default options`)
    const hub = new Child(['hub', String(BURST * 2 + 10)])
    children.push(hub)
    const { enode } = await within(hub.next<{ enode: string }>(), 30_000, 'the hub to start')
    const dialer = new Child(['dial', enode, String(BURST), String(BURST), '0'])
    children.push(dialer)
    const report = await within(dialer.next<DialReport>(), SETUP_MS, `${BURST} dials`)
    return {
      part: 'scale',
      metric: `${BURST} simultaneous dials established, no retry`,
      unit: 'sessions',
      ours: stat([report.established]),
      pass: report.established === BURST,
      targetText: `all ${BURST}`,
      note: `${report.failed} failed${report.errors.length > 0 ? `: ${[...new Set(report.errors)].join(' / ')}` : ''}; ${load()}`,
    }
  } finally {
    for (const child of children) child.kill()
  }
}

/** Runs the scale part; returns its table rows. */
export async function runScale(): Promise<Row[]> {
  return [...(await idleAndBroadcast()), await burst()]
}
