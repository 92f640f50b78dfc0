// Discovery under the Server against go-ethereum 1.11.6 (../shared/gethpeer), over real UDP
// and TCP on loopback: (c) a mixed network of three gethpeers and three of ours started from
// one bootnode fills every table and forms test/1 sessions from discovery alone; (d)
// server.connect('host:port') reaches a gethpeer and one of ours.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generatePrivateKey } from '../lib/crypto/index.js'
import { sendItems, utf8 } from '../lib/message.js'
import type { Protocol } from '../lib/protocol.js'
import { Server, type ServerOptions } from '../lib/index.js'
import { GethPeer, haveGethpeer } from './support/gethpeer.js'
import { until, within } from './support/net.js'

const started: { geth: GethPeer[]; ours: Server[] } = { geth: [], ours: [] }

/** gethpeer's test/1: foo → bar. */
const test1: Protocol = {
  name: 'test',
  version: 1,
  length: 2,
  async run(_peer, rw) {
    for await (const msg of rw) if (msg.code === 0 && utf8(msg.decode()[0]) === 'foo') await sendItems(rw, 1, 'bar')
  },
}

async function ours(options: Partial<ServerOptions> = {}): Promise<Server> {
  const server = new Server({ privateKey: generatePrivateKey(), listenAddr: '127.0.0.1:0', protocols: [test1], ...options })
  started.ours.push(server)
  await server.start()
  return server
}

async function geth(extra: string[] = []): Promise<GethPeer> {
  const g = await GethPeer.listen(extra)
  started.geth.push(g)
  return g
}


test.after.each(async () => {
  await Promise.all([...started.ours.splice(0).map((s) => s.stop()), ...started.geth.splice(0).map((g) => g.stop())])
})

test('(c) three gethpeers and three of ours from one gethpeer bootnode: every table holds every other node, and test/1 sessions form from discovery alone', async () => {
  const t0 = Date.now()
  const boot = await geth(['-maxpeers', '10'])
  const gs = [boot, ...(await Promise.all([geth(['-bootnodes', boot.enode, '-maxpeers', '10']), geth(['-bootnodes', boot.enode, '-maxpeers', '10'])]))]
  const os = await Promise.all([0, 1, 2].map(() => ours({ bootnodes: [boot.enode] })))
  const ids = [...gs.map((g) => g.id), ...os.map((o) => o.id)]
  const others = (self: string): string[] => ids.filter((id) => id !== self)
  const tables = await until('every table to hold every other node', 30_000, async () => {
    for (const g of gs) {
      const table = new Set((await g.table()).map((n) => n.id))
      // geth takes a pinging node into its table only after its first refresh: ping it again meanwhile.
      if (!others(g.id).every((id) => table.has(id))) {
        await Promise.all(os.map((o) => o.discovery!.ping(g.enode).catch(() => {})))
        return false
      }
    }
    return os.every((o) => {
      const table = new Set(o.discovery!.tableEntries().map((e) => e.node.id))
      return others(o.id).every((id) => table.has(id))
    })
  })
  const sessions = await until('test/1 sessions: each of ours linked to a gethpeer and to one of ours', 30_000, () =>
    os.every((o) => o.peers.some((p) => gs.some((g) => g.id === p.id)) && o.peers.some((p) => os.some((x) => x.id === p.id))),
  )
  for (const o of os) assert.ok(o.peers.every((p) => p.protocols.some((c) => c.name === 'test')), 'every session runs test/1')
  const packets = os.map((o) => Object.values(o.discovery!.stats.sent).reduce((a, b) => a + b, 0))
  console.log(
    `# mixed network: tables full ${tables} ms after our nodes started (${Date.now() - t0} ms in all), sessions within ${sessions} ms more; ` +
      `packets sent per node of ours ${packets.join(', ')}; peers ${os.map((o) => o.peerCount).join(', ')}`,
  )
})

test('(d) server.connect(host:port) learns the key from discovery and opens an RLPx session, to a gethpeer and to one of ours', async () => {
  const g = await geth(['-maxpeers', '10', '-nodial'])
  const target = await ours()
  const asker = await ours()
  const toGeth = await within(asker.connect(`127.0.0.1:${g.port}`), 10_000, 'connect to the gethpeer by address')
  assert.is(toGeth.id, g.id)
  const port = Number(target.enode.split(':').pop()!.split('?')[0])
  const toOurs = await within(asker.connect(`127.0.0.1:${port}`), 10_000, 'connect to ours by address')
  assert.is(toOurs.id, target.id)
  assert.ok(toOurs.protocols.some((c) => c.name === 'test'))
})

if (haveGethpeer) test.run()
else console.log('SKIP discover-server: ../shared/gethpeer/gethpeer not found')
