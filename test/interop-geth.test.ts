// RLPx against go-ethereum 1.11.6's own p2p.Server (../shared/gethpeer), over real TCP on
// loopback, both dialling directions: the EIP-8 handshake, Hello with snappy, test/1
// messages (foo → bar, a 1 MiB echo), Ping/Pong keeping the session, and Disconnect reasons
// both ways (geth 1.11.6 writes its reason as a bare byte, which we read).
import { randomBytes } from 'node:crypto'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generatePrivateKey } from '../lib/crypto/index.js'
import { DiscReason } from '../lib/disconnect.js'
import { sendItems, utf8, type MsgReadWriter, type RlpItem } from '../lib/message.js'
import type { Protocol } from '../lib/protocol.js'
import { Server, type PeerRemoved } from '../lib/server.js'
import { GethPeer, haveGethpeer } from './support/gethpeer.js'
import { waitFor, within } from './support/net.js'

const started: { geth: GethPeer[]; ours: Server[] } = { geth: [], ours: [] }
const STEP = 15_000

/** test/1 as gethpeer speaks it: answers foo with bar and echoes an echo; hands its read-writer out. */
function test1(): { protocol: Protocol; rw: Promise<MsgReadWriter>; replies: RlpItem[][] } {
  const replies: RlpItem[][] = []
  let give!: (rw: MsgReadWriter) => void
  const rw = new Promise<MsgReadWriter>((resolve) => (give = resolve))
  const protocol: Protocol = {
    name: 'test',
    version: 1,
    length: 2,
    async run(_peer, r) {
      give(r)
      for await (const msg of r) {
        const items = msg.decode()
        if (msg.code === 1) replies.push(items)
        else if (utf8(items[0]) === 'foo') await sendItems(r, 1, 'bar')
        else if (utf8(items[0]) === 'echo') await sendItems(r, 1, 'echo', items[1] as Uint8Array)
      }
    },
  }
  return { protocol, rw, replies }
}

async function ours(protocol: Protocol): Promise<Server> {
  const server = new Server({ privateKey: generatePrivateKey(), name: 'devp2p-ts/interop', listenAddr: '127.0.0.1:0', discovery: false, protocols: [protocol] })
  started.ours.push(server)
  await server.start()
  return server
}

test.after.each(async () => {
  await Promise.all([...started.ours.splice(0).map((s) => s.stop()), ...started.geth.splice(0).map((g) => g.stop())])
})

test('our Server dials go-ethereum: handshake, Hello with snappy, foo → bar and a 1 MiB echo', async () => {
  const g = await GethPeer.listenPlain()
  started.geth.push(g)
  const t = test1()
  const server = await ours(t.protocol)
  const peer = await within(server.connect(g.enode), STEP, 'connect to gethpeer')
  assert.is(peer.version, 5)
  assert.match(peer.name, /^geth-peer|Geth|gethpeer/i)
  assert.equal(peer.protocols.map((p) => `${p.name}/${p.version}`), ['test/1'])
  await g.waitFor(/^PEER-ADD .*caps=\[test\/1\] inbound=true/, 0, STEP)
  const rw = await t.rw
  await sendItems(rw, 0, 'foo')
  await waitFor(() => t.replies.some((r) => utf8(r[0]) === 'bar'), STEP, 'bar from geth')
  const blob = randomBytes(1 << 20)
  await sendItems(rw, 0, 'echo', blob)
  await waitFor(() => t.replies.some((r) => utf8(r[0]) === 'echo'), STEP, 'the echo from geth')
  assert.ok(Buffer.from(t.replies.find((r) => utf8(r[0]) === 'echo')![1] as Uint8Array).equals(blob), 'the 1 MiB echo came back intact')
})

test('go-ethereum dials our Server: its script passes connect, foo → bar and a 1 MiB echo', async () => {
  const t = test1()
  const server = await ours(t.protocol)
  const g = GethPeer.dial(['-echo', String(1 << 20), '-timeout', '10', server.enode])
  started.geth.push(g)
  for (const step of ['connect', 'foo->bar', 'echo']) {
    const line = await g.waitFor(new RegExp(`^RESULT ${step.replace(/[>-]/g, '\\$&')} `), 0, STEP)
    assert.match(line, /PASS/, line)
  }
  assert.is(await within(g.exitCode(), STEP, 'gethpeer to exit'), 0)
})

test('Disconnect reasons both ways: geth reads ours; we read geth 1.11.6\'s bare-byte reason', async () => {
  const t = test1()
  const server = await ours(t.protocol)
  const g = await GethPeer.listenPlain()
  started.geth.push(g)
  const first = await within(server.connect(g.enode), STEP, 'connect')
  first.disconnect(DiscReason.TooManyPeers)
  const drop = await g.waitFor(/^PEER-DROP /, 0, STEP)
  assert.match(drop, /err="too many peers"/, drop)
  const removed = new Promise<PeerRemoved>((resolve) => server.events.on('peer:removed', (e) => e.peer !== first && resolve(e)))
  const before = g.lines.length
  await within(server.connect(g.enode), STEP, 'connect again')
  // geth lists the peer only once its own side has added it: disc before that reaches nobody.
  await g.waitFor(/^PEER-ADD /, before, STEP)
  const from = g.lines.length
  g.write('disc 4')
  await g.waitFor(/^DISC /, from, STEP)
  const end = await within(removed, STEP, 'peer:removed')
  assert.is(end.reason, DiscReason.TooManyPeers)
  assert.is(end.remote, true)
})

if (haveGethpeer) test.run()
else console.log('SKIP interop-geth: ../shared/gethpeer/gethpeer not found')
