// A flood towards neighbours that never read, over real loopback sockets: what a node keeps
// for each of them stays within the engine's 1 MiB per neighbour plus the server's socket
// slack, an honest neighbour receives every message, and once the write deadline passes
// (virtual clock) the non-readers are disconnected while the honest one stays.
import { randomBytes } from 'node:crypto'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { VirtualClock } from '../lib/clock.js'
import { DiscReason } from '../lib/disconnect.js'
import { parseEnode } from '../lib/enode.js'
import { WriteTimeoutError } from '../lib/errors.js'
import { generatePrivateKey } from '../lib/crypto/index.js'
import { WRITE_SLACK } from '../lib/peer.js'
import type { Protocol } from '../lib/protocol.js'
import { Server, type PeerRemoved } from '../lib/server.js'
import { Floodnet, floodnetDefaults, FloodnetMsg } from '../protocols/floodnet/index.js'
import { encodeJoin, newToken } from '../protocols/floodnet/join.js'

/** The floodnet capability of the node under test, for the hand-driven neighbours. */
const { version, length } = new Floodnet().protocol
import { waitFor, within } from './support/net.js'
import { encodeFlood, QUICK, startNode, startRawFloodnet, stopAll } from './support/floodnet-cluster.js'

const stalled: Server[] = []
let release!: () => void
let released = new Promise<void>((resolve) => (release = resolve))
test.after.each(async () => {
  release()
  await stopAll()
  await Promise.all(stalled.splice(0).map((s) => s.stop()))
  released = new Promise<void>((resolve) => (release = resolve))
})

/** A server whose floodnet reads one message and then nothing until the test is over. */
async function nonReader(): Promise<Server> {
  const protocol: Protocol = {
    name: 'floodnet',
    version,
    length,
    async run(_peer, rw) {
      // Asks to be an overlay neighbour (a one-hop JOIN_REQ of its own), reads the answer,
      // and then nothing more.
      await rw.writeMsg(FloodnetMsg.JoinReq, encodeJoin({ token: newToken(), requester: parseEnode(server.enode), hopsLeft: 1 }))
      await rw.readMsg().catch(() => {})
      await released
    },
  }
  const server = new Server({ privateKey: generatePrivateKey(), listenAddr: '127.0.0.1:0', discovery: false, protocols: [protocol] })
  stalled.push(server)
  await server.start()
  return server
}

const K = 4
const BATCHES = 20
const PER_BATCH = 200
const SIZE = 4096

test(`a 16 MiB flood with ${K} non-reading neighbours: each costs at most 1 MiB of relays plus the socket slack, the honest neighbour gets everything, the write deadline then drops the non-readers`, async () => {
  const clock = new VirtualClock()
  const y = await startNode({ server: { clock, maxPeers: 20 }, floodnet: { desired: 20, rateLimit: { rate: 1e9, burst: 1e9 } } })
  const flooder = await startRawFloodnet()
  const honest = await startRawFloodnet()
  const toY = await flooder.link(y)
  await honest.link(y)
  const readers = await Promise.all(Array.from({ length: K }, nonReader))
  for (const r of readers) await within(r.connect(y.server.enode), QUICK, 'a non-reader links to Y')
  await waitFor(() => y.net.degree === K + 2, QUICK, 'Y to have every neighbour')
  const removed: PeerRemoved[] = []
  y.server.events.on('peer:removed', (e) => removed.push(e))
  const stuck = readers.map((r) => r.id)
  const origin = randomBytes(32)
  let maxEngine = 0
  let maxSocket = 0
  for (let b = 0; b < BATCHES; b++) {
    for (let i = 0; i < PER_BATCH; i++) {
      const id = Buffer.alloc(16)
      id.writeUInt32BE(b * PER_BATCH + i)
      await toY.writeMsg(FloodnetMsg.Message, encodeFlood(id, origin, 8, randomBytes(SIZE)))
      for (const n of stuck) {
        maxEngine = Math.max(maxEngine, y.net.engine.backlog(n))
        maxSocket = Math.max(maxSocket, y.server.peer(n)?.writeBacklog ?? 0)
      }
    }
    const want = (b + 1) * PER_BATCH
    await waitFor(() => honest.received.filter((r) => r.msg.code === FloodnetMsg.Message).length === want, 4 * QUICK, `the honest neighbour to receive ${want} messages`)
  }
  assert.ok(maxEngine <= floodnetDefaults.MAX_BACKLOG_BYTES, `engine backlog per non-reader peaked at ${maxEngine} bytes`)
  assert.ok(maxSocket <= floodnetDefaults.MAX_BACKLOG_BYTES + WRITE_SLACK + 2 * SIZE, `write backlog per non-reader peaked at ${maxSocket} bytes`)
  assert.ok(y.net.engine.stats.dropped['send-backlog'] > 0, 'relays to the non-readers were dropped')
  assert.is(removed.length, 0, 'nobody was dropped before the write deadline')
  await clock.advance(20_000)
  await waitFor(() => removed.length === K, QUICK, 'the non-readers to be dropped')
  for (const e of removed) {
    assert.ok(stuck.includes(e.peer.id))
    assert.is(e.reason, DiscReason.NetworkError)
    assert.is(e.remote, false)
    assert.instance(e.error, WriteTimeoutError)
  }
  assert.ok(y.net.neighbours.includes(honest.server.id), 'the honest neighbour stays')
})

test.run()
