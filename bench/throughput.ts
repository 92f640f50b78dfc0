/**
 * Part `throughput`: N messages one way over one established session, timed from the
 * first send until the receiver has counted all N. Sender and receiver share this process
 * (one thread), so every figure includes both ends' work.
 *
 * Payloads are random bytes (incompressible: every byte is encrypted, MAC'd and copied).
 * Compared in one run, with the repetitions of all of them interleaved (ours, theirs, raw,
 * ours, theirs, raw, …) so that load on the machine weighs on each alike: ours (a Protocol
 * writing through `rw.writeMsg`, the receiver iterating `rw`), @ethereumjs/devp2p (a
 * minimal capability, see `ethjs.ts`), raw TCP with one write per frame, and raw TCP with
 * small frames batched into 64 KiB writes. For 1 MiB messages, ours is also shown against
 * the ceiling its primitives allow: one message's pass through them alone.
 * @module
 */
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { aes256CtrStream, Keccak256 } from '../lib/crypto/index.js'
import type { MsgReadWriter, Protocol } from '../lib/index.js'
import { benchCap, ethConnect, ethSocket, startEthNode, stopEthNode } from './ethjs.js'
import { ourConnect, startOurNode } from './ours.js'
import { rawSession } from './raw-tcp.js'
import { Counter, deferred, measureRates, progress, scale, type RateResult, type Row, type Session, type Stat } from './support.js'

const MIB = 1024 * 1024
/** The piece size in which the frame codec en- and decrypts large frames. */
const SLICE = 64 * 1024
const TARGET_MS = 1000

/** One session of ours between two Servers: `send(n)` writes n copies of `payload` with `rw.writeMsg` and waits until the receiver has read them. */
export async function ourSession(payload: Uint8Array): Promise<Session> {
  const counter = new Counter()
  const writer = deferred<MsgReadWriter>()
  const protocol: Protocol = {
    name: 'tput',
    version: 1,
    length: 1,
    async run(peer, rw) {
      if (!peer.inbound) writer.resolve(rw)
      for await (const _msg of rw) counter.hit()
    },
  }
  const [a, b] = await Promise.all([startOurNode([protocol]), startOurNode([protocol])])
  await ourConnect(a, b)
  const rw = await writer.promise
  return {
    async send(n) {
      const done = counter.expect(n)
      for (let i = 0; i < n; i++) await rw.writeMsg(0, payload)
      await done
    },
    close: () => Promise.all([a.stop(), b.stop()]).then(() => {}),
  }
}

async function ethSession(payload: Uint8Array): Promise<Session> {
  const counter = new Counter()
  const [a, b] = await Promise.all([startEthNode(), startEthNode()])
  const [sender, receiver] = await ethConnect(a, b)
  benchCap(receiver).onMessage = () => counter.hit()
  const cap = benchCap(sender)
  const socket = ethSocket(sender)
  return {
    async send(n) {
      const done = counter.expect(n)
      for (let i = 0; i < n; i++) {
        cap.send(payload)
        // Their send has no back-pressure; waiting for drain as a careful user would keeps
        // memory bounded and lets the receiver run.
        if (socket.writableNeedDrain) await once(socket, 'drain')
      }
      await done
    },
    close: async () => {
      stopEthNode(a)
      stopEthNode(b)
    },
  }
}

const RAW = 'raw TCP'
const CEILING = 'primitives alone'
const RAW_BATCHED = 'raw TCP, 64 KiB writes'

/** Session factories, by name. */
const SESSIONS: Record<string, (payload: Uint8Array) => Promise<Session>> = {
  ours: ourSession,
  ethereumjs: ethSession,
  [RAW]: (payload) => rawSession(payload),
  [RAW_BATCHED]: (payload) => rawSession(payload, true),
}

/** Messages per second of the sessions named in `warmup` (with their warm-up sizes) for one payload size, repetitions interleaved. */
async function rates(size: number, warmup: Record<string, number>): Promise<Record<string, RateResult>> {
  const label = size === MIB ? '1 MiB' : `${size}-byte`
  progress(`throughput: ${label} messages, ${Object.keys(warmup).join(', ')} interleaved`)
  const payload = randomBytes(size)
  const sessions: Record<string, Session> = {}
  try {
    for (const name of Object.keys(warmup)) if (name !== CEILING) sessions[name] = await SESSIONS[name]!(payload)
    const runs: Record<string, (n: number) => Promise<void>> = Object.fromEntries(Object.entries(sessions).map(([name, s]) => [name, (n: number) => s.send(n)]))
    if (CEILING in warmup) runs[CEILING] = ceilingRun()
    return await measureRates(runs, { warmupUnits: warmup, targetMs: TARGET_MS, minUnits: 3, reps: 5 })
  } finally {
    await Promise.all(Object.values(sessions).map((s) => s.close()))
  }
}

/**
 * The primitives' ceiling for 1 MiB, as a run interleaved with the sessions: one message's
 * pass through the cryptographic primitives alone, on the same buffers and as the frame
 * codec calls them — AES-256-CTR to encrypt (in 64 KiB pieces), keccak absorb into the
 * egress MAC and into the ingress MAC, AES-256-CTR to decrypt. (Snappy costs nothing here:
 * an incompressible payload is sent and read as one literal block.) No session can beat
 * it, since a session does all of this and more.
 */
function ceilingRun(): (n: number) => Promise<void> {
  const block = randomBytes(MIB)
  const key = randomBytes(32)
  const encrypt = aes256CtrStream(key)
  const decrypt = aes256CtrStream(key)
  const egress = new Keccak256()
  const ingress = new Keccak256()
  return async (n) => {
    for (let i = 0; i < n; i++) {
      for (let offset = 0; offset < MIB; offset += SLICE) {
        const ciphertext = encrypt.update(block.subarray(offset, offset + SLICE))
        egress.update(ciphertext)
        ingress.update(ciphertext)
        decrypt.update(ciphertext)
      }
    }
  }
}

/** 1 MiB messages per second to MB/s (10^6 bytes) of payload. */
const toMBps = (s: Stat): Stat => scale(s, MIB / 1e6)

/** Runs the throughput part; returns its table rows. */
export async function runThroughput(): Promise<Row[]> {
  const small = await rates(100, { ours: 5000, ethereumjs: 1000, [RAW]: 20000, [RAW_BATCHED]: 20000 })
  // For 1 MiB frames one write per frame is already a 1 MiB write: no batched variant.
  const large = await rates(MIB, { ours: 10, ethereumjs: 2, [RAW]: 20, [CEILING]: 10 })
  const part = 'throughput'
  const ours = toMBps(large.ours!.perSecond)
  const targets: Record<string, { small?: number; large?: number }> = { ethereumjs: { small: 20, large: 25 }, [RAW]: { small: 0.25 } }
  const rows: Row[] = []
  for (const base of ['ethereumjs', RAW, RAW_BATCHED]) {
    const target = targets[base] ?? {}
    rows.push({
      part,
      metric: '100-byte messages',
      unit: 'msg/s',
      ours: small.ours!.perSecond,
      baseName: base,
      base: small[base]!.perSecond,
      ...(target.small ? { target: { op: '>=', value: target.small } } : {}),
    })
  }
  // CPU per message weighs the work itself: on a loaded machine it moves less than a rate.
  for (const base of ['ethereumjs', RAW]) {
    rows.push({
      part,
      metric: '100-byte messages: CPU per message',
      unit: 'µs',
      ours: scale(small.ours!.cpuMsPerUnit, 1000),
      baseName: base,
      base: scale(small[base]!.cpuMsPerUnit, 1000),
      note: 'both ends; lower is better',
    })
  }
  for (const base of ['ethereumjs', RAW]) {
    const target = targets[base] ?? {}
    rows.push({
      part,
      metric: '1 MiB messages (random)',
      unit: 'MB/s',
      ours,
      baseName: base,
      base: toMBps(large[base]!.perSecond),
      ...(target.large ? { target: { op: '>=', value: target.large } } : {}),
    })
  }
  rows.push({
    part,
    metric: '1 MiB messages: CPU per message',
    unit: 'ms',
    ours: large.ours!.cpuMsPerUnit,
    baseName: 'ethereumjs',
    base: large.ethereumjs!.cpuMsPerUnit,
    note: 'both ends; lower is better',
  })
  rows.push({
    part,
    metric: '1 MiB messages: share of the primitives’ ceiling',
    unit: 'MB/s',
    ours,
    baseName: CEILING,
    base: toMBps(large[CEILING]!.perSecond),
    note: 'ceiling = AES-256-CTR, keccak absorb ×2, AES-256-CTR per message, interleaved with the sessions',
  })
  return rows
}
