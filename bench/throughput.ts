/**
 * Part 2, session throughput: N messages one way over one established session, timed from
 * the first send until the receiver has counted all N. Sender and receiver share this
 * process (one thread), so every figure includes both ends' work.
 *
 * Payloads are random bytes (incompressible: snappy cannot shrink them, so every byte is
 * encrypted, MAC'd and copied). Compared: ours (a Protocol writing through `rw.writeMsg`, the
 * receiver iterating `rw`), @ethereumjs/devp2p (a minimal capability, see `ethjs.ts`), and
 * raw TCP with 4-byte length-prefixed frames. For 1 MiB messages the crypto ceiling — the
 * rate at which one message could pass through the frame path's primitives alone — is
 * measured in the same run, and ours is shown as a share of it.
 * @module
 */
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { aes256CtrStream, Keccak256 } from '../lib/crypto/index.js'
import type { MsgReadWriter, Protocol } from '../lib/index.js'
import { snappyCompress, snappyDecompress } from '../lib/rlpx/snappy.js'
import { benchCap, ethConnect, ethSocket, startEthNode, stopEthNode } from './ethjs.js'
import { ourConnect, startOurNode } from './ours.js'
import { rawSession } from './raw-tcp.js'
import { Counter, deferred, measureOps, measureRates, progress, scale, type Row, type Session, type Stat } from './support.js'

const MIB = 1024 * 1024
const TARGET_MS = 1000

async function ourSession(payload: Uint8Array): Promise<Session> {
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

/** Session factories, by baseline name. */
const SESSIONS: [name: string, open: (payload: Uint8Array) => Promise<Session>][] = [
  ['ours', ourSession],
  ['ethereumjs', ethSession],
  ['raw TCP', rawSession],
]

/** Messages per second of each implementation for one payload size, one session each. */
async function rates(size: number, warmup: Record<string, number>, extra?: Record<string, (n: number) => Promise<void>>): Promise<Map<string, Stat>> {
  const payload = randomBytes(size)
  const out = new Map<string, Stat>()
  for (const [name, open] of SESSIONS) {
    progress(`throughput: ${name}, ${size === MIB ? '1 MiB' : `${size}-byte`} messages`)
    const session = await open(payload)
    try {
      // Runs meant to be divided by ours (the crypto ceiling) alternate with ours.
      const runs = { [name]: (n: number) => session.send(n), ...(name === 'ours' ? extra : {}) }
      const results = await measureRates(runs, { warmupUnits: warmup[name]!, targetMs: TARGET_MS, minUnits: 3 })
      for (const [key, r] of Object.entries(results)) out.set(key, r.perSecond)
    } finally {
      await session.close()
    }
  }
  return out
}

/**
 * The crypto ceiling for 1 MiB: one message's pass through the frame path's primitives
 * alone — snappy compress, AES-256-CTR encrypt, keccak256 absorb into the egress and the
 * ingress MAC, AES-256-CTR decrypt, snappy uncompress — as a run for `measureRates`, so
 * that it alternates with our session's repetitions. Timed as a sequence rather than as a
 * sum of primitives timed alone: a primitive repeated alone allocates 1 MiB buffers in a
 * rhythm that makes the allocator return and re-fault pages, which a session does less.
 */
function ceilingRun(): (n: number) => Promise<void> {
  const payload = randomBytes(MIB)
  const key = randomBytes(32)
  const encrypt = aes256CtrStream(key)
  const decrypt = aes256CtrStream(key)
  const egress = new Keccak256()
  const ingress = new Keccak256()
  return async (n) => {
    for (let i = 0; i < n; i++) {
      const ciphertext = encrypt.update(snappyCompress(payload))
      egress.update(ciphertext)
      ingress.update(ciphertext)
      // Same key, same position: this decrypts, and uncompress would throw if it did not.
      snappyDecompress(decrypt.update(ciphertext), 16 * MIB)
    }
  }
}

/** Each primitive of the 1 MiB frame path timed alone, in MB/s, for the note. */
async function primitivesAlone(): Promise<string> {
  progress('throughput: 1 MiB primitives alone')
  const payload = randomBytes(MIB)
  const compressed = snappyCompress(payload)
  const cipher = aes256CtrStream(randomBytes(32))
  const sponge = new Keccak256()
  const alone = {
    'snappy compress': await measureOps(() => snappyCompress(payload)),
    'AES-CTR': await measureOps(() => cipher.update(compressed)),
    'keccak absorb': await measureOps(() => sponge.update(compressed)),
    'snappy uncompress': await measureOps(() => snappyDecompress(compressed, 16 * MIB)),
  }
  return Object.entries(alone)
    .map(([k, s]) => `${k} ${Math.round((s.median * MIB) / 1e6)}`)
    .join(', ')
}

/** 1 MiB messages per second to MB/s (10^6 bytes) of payload. */
const toMBps = (s: Stat): Stat => scale(s, MIB / 1e6)

/** Runs the throughput part; returns its table rows. */
export async function runThroughput(): Promise<Row[]> {
  const small = await rates(100, { ours: 5000, ethereumjs: 1000, 'raw TCP': 20000 })
  const large = await rates(MIB, { ours: 10, ethereumjs: 2, 'raw TCP': 20 }, { ceiling: ceilingRun() })
  const alone = await primitivesAlone()
  const ours = toMBps(large.get('ours')!)
  const rows: Row[] = []
  for (const base of ['ethereumjs', 'raw TCP']) {
    const isEth = base === 'ethereumjs'
    rows.push({
      part: 'throughput',
      metric: '100-byte messages',
      unit: 'msg/s',
      ours: small.get('ours')!,
      baseName: base,
      base: small.get(base)!,
      ...(isEth ? { target: { op: '>=', value: 10 } } : {}),
    })
    rows.push({
      part: 'throughput',
      metric: '1 MiB messages (random)',
      unit: 'MB/s',
      ours,
      baseName: base,
      base: toMBps(large.get(base)!),
      ...(isEth ? { target: { op: '>=', value: 15 } } : {}),
    })
  }
  rows.push({
    part: 'throughput',
    metric: '1 MiB messages: share of crypto ceiling',
    unit: 'MB/s',
    ours,
    baseName: 'crypto ceiling',
    base: toMBps(large.get('ceiling')!),
    target: { op: '>=', value: 0.7 },
    note: `ceiling = compress→AES→keccak×2→AES→uncompress per message, alternating with ours; alone, MB/s: ${alone}`,
  })
  return rows
}
