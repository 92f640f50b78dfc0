/**
 * Part `backlog`: what a flood costs a node whose neighbours stop reading. A floodnet node
 * (in a child process, `backlog-child.ts`) has a flooding neighbour, an honest one and four
 * more; 66 MiB of broadcasts (264 × 256 KiB) go through it, paced so the honest neighbour
 * keeps up. Ours: the four never read. Baseline: the same four read everything. The memory
 * the node grew by is compared; what the four non-readers may cost is bounded by the
 * engine's 1 MiB of relays each plus the server's 256 KiB of socket slack and one message.
 * @module
 */
import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { RLP } from '@ethereumjs/rlp'
import { generatePrivateKey, parseEnode, Server, type MsgReadWriter, type Protocol } from '../lib/index.js'
import { Floodnet, floodnetDefaults, FloodnetMsg } from '../protocols/floodnet/index.js'
import { encodeJoin, newToken } from '../protocols/floodnet/join.js'
import { WRITE_SLACK } from '../lib/peer.js'
import type { BacklogReport } from './backlog-child.js'
import { childModule, progress, stat, type Row } from './support.js'

const CHILD = childModule('./backlog-child.ts', import.meta.url)
const K = 4
const MESSAGES = 264
const SIZE = 256 * 1024 - 64
const MiB = 2 ** 20
/** The floodnet capability the node under test speaks, for the hand-driven neighbours. */
const { version, length } = new Floodnet().protocol

async function run(nonReaders: boolean): Promise<BacklogReport & { honest: number }> {
  const child = fork(CHILD.file, [], { execArgv: ['--expose-gc', ...CHILD.execArgv] })
  const next = <T>(): Promise<T> => new Promise((resolve) => child.once('message', (m) => resolve(m as T)))
  const { enode } = await next<{ enode: string }>()
  const servers: Server[] = []
  const node = async (run: Protocol['run']): Promise<Server> => {
    // Each asks to be an overlay neighbour (a one-hop JOIN_REQ of its own) before it does
    // its part: a session floodnet did not make is a contact, which floods neither way.
    const join: Protocol['run'] = async (peer, rw) => {
      await rw.writeMsg(FloodnetMsg.JoinReq, encodeJoin({ token: newToken(), requester: parseEnode(s.enode), hopsLeft: 1 }))
      return run(peer, rw)
    }
    const s = new Server({ privateKey: generatePrivateKey(), listenAddr: '127.0.0.1:0', discovery: false, protocols: [{ name: 'floodnet', version, length, run: join }] })
    servers.push(s)
    await s.start()
    await s.connect(enode)
    return s
  }
  let toY!: MsgReadWriter
  let honest = 0
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  try {
    await node(async (_p, rw) => {
      toY = rw
      for await (const m of rw) void m
    })
    await node(async (_p, rw) => {
      for await (const m of rw) if (m.code === FloodnetMsg.Message) honest++
    })
    for (let i = 0; i < K; i++) {
      await node(async (_p, rw) => {
        if (!nonReaders) for await (const m of rw) void m
        else await released
      })
    }
    await new Promise((r) => setTimeout(r, 300))
    child.send('base')
    await next()
    const origin = randomBytes(32)
    const deadline = Date.now() + 60_000
    for (let i = 0; i < MESSAGES; i++) {
      const id = Buffer.alloc(16)
      id.writeUInt32BE(i)
      await toY.writeMsg(1, RLP.encode([id, origin, 8, randomBytes(SIZE)]))
      // Paced so that the honest neighbour keeps up: what is measured is what the
      // non-readers cost, not an honest neighbour falling behind.
      if (i % 4 === 3) while (honest < i + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2))
    }
    while (honest < MESSAGES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    child.send('report')
    return { ...(await next<BacklogReport>()), honest }
  } finally {
    release()
    child.kill()
    await Promise.all(servers.map((s) => s.stop()))
  }
}

export async function runBacklog(): Promise<Row[]> {
  progress('backlog: 66 MiB through a node with four neighbours that read (baseline), then four that do not')
  const base = await run(false)
  const ours = await run(true)
  const bound = K * (floodnetDefaults.MAX_BACKLOG_BYTES + WRITE_SLACK + SIZE)
  const excess = ours.external - base.external
  const note = `honest neighbour got ${ours.honest}/${MESSAGES} (baseline ${base.honest}); ${ours.sendBacklogDrops} relays dropped (send-backlog); write backlogs ${ours.writeBacklogs
    .filter((b) => b > 0)
    .map((b) => (b / MiB).toFixed(2))
    .join(', ')} MiB; RSS +${(ours.rss / MiB).toFixed(1)} MiB (peak +${(ours.peakRss / MiB).toFixed(1)}) vs +${(base.rss / MiB).toFixed(1)}`
  return [
    {
      part: 'backlog',
      metric: `memory held under a 66 MiB flood with ${K} non-reading neighbours (Buffers, after GC)`,
      unit: 'MiB',
      ours: stat([ours.external / MiB]),
      baseName: `${K} reading`,
      base: stat([base.external / MiB]),
      pass: excess <= bound && ours.honest === MESSAGES,
      targetText: `≤ +${(bound / MiB).toFixed(1)} MiB`,
      note,
    },
  ]
}
