// Discovery against go-ethereum 1.11.6's own discv4 (../shared/gethpeer), over real UDP on
// loopback: bootstrapping both ways, ENR resolution both ways, connect by address.
import { createSocket } from 'node:dgram'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generatePrivateKey } from '../lib/crypto/index.js'
import { Discovery } from '../lib/discover/discovery.js'
import { IdentityChangedError, NoDiscoveryError } from '../lib/discover/errors.js'
import { Enr } from '../lib/enr.js'
import { GethPeer, haveGethpeer } from './support/gethpeer.js'
import { until } from './support/net.js'

const started: { geth: GethPeer[]; ours: Discovery[] } = { geth: [], ours: [] }
const t0 = Date.now()

async function ours(bootnodes: string[], options: { revalidateInterval?: number } = {}): Promise<Discovery> {
  const d = new Discovery({ privateKey: generatePrivateKey(), bind: { host: '127.0.0.1', port: 0 }, bootnodes, ...options })
  await d.start()
  started.ours.push(d)
  return d
}

async function geth(extra: string[] = []): Promise<GethPeer> {
  const g = await GethPeer.listen(extra)
  started.geth.push(g)
  return g
}


const has = (ids: Set<string>, want: string[]): boolean => want.every((id) => ids.has(id))

let g1: GethPeer, g2: GethPeer, g3: GethPeer
let o1: Discovery, o2: Discovery, o3: Discovery

test('a mixed network forms around a gethpeer bootnode (two more gethpeers, two of ours)', async () => {
  g1 = await geth()
  ;[g2, g3] = await Promise.all([geth(['-bootnodes', g1.enode]), geth(['-bootnodes', g1.enode])])
  ;[o2, o3] = await Promise.all([ours([g1.enode]), ours([g1.enode])])
  // geth takes pinging nodes into its table only after its first refresh (~4 s), so the
  // others ping it again until it lists them all
  const ms = await until('gethpeer bootnode to list the other four', 20_000, async () => {
    await Promise.all([g2.ping(g1.enode), g3.ping(g1.enode), o2.ping(g1.enode).catch(() => {}), o3.ping(g1.enode).catch(() => {})])
    return has(new Set((await g1.table()).map((n) => n.id)), [g2.id, g3.id, o2.id, o3.id])
  })
  console.log(`# gethpeer bootnode lists 2 gethpeers and 2 of ours after ${ms} ms`)
})

test('our node bootstraps from the gethpeer bootnode and finds, by lookup, two more gethpeers and two more of ours', async () => {
  const start = Date.now()
  o1 = await ours([g1.enode], { revalidateInterval: 300 })
  const want = [g1.id, g2.id, g3.id, o2.id, o3.id]
  let lookups = 0
  await until('our table to hold all five', 20_000, async () => {
    lookups++
    await o1.lookup()
    return has(new Set(o1.tableEntries().map((e) => e.node.id)), want)
  })
  const s = o1.stats
  console.log(`# ours found 3 gethpeers + 2 of ours in ${Date.now() - start} ms, ${lookups} lookups, sent ${Object.values(s.sent).reduce((a, b) => a + b, 0)} packets (${s.bytesSent} bytes): ${JSON.stringify(s.sent)}`)
  // the entries carry the endpoints geth advertises: loopback, UDP = TCP port
  const g2entry = o1.tableEntries().find((e) => e.node.id === g2.id)!.node
  assert.is(g2entry.ip, '127.0.0.1')
  assert.is(g2entry.udp, g2.port)
  assert.is(g2entry.tcp, g2.port)
})

test('a gethpeer bootstraps from our node and finds them all through our Neighbours', async () => {
  // our answers prefer nodes that passed revalidation (as geth's do); o1 revalidates fast
  await until('our table to have revalidated its nodes', 15_000, async () => o1.tableEntries().filter((e) => e.livenessChecks > 0).length >= 5)
  const start = Date.now()
  const g4 = await geth(['-bootnodes', o1.enode])
  const want = [o1.id, g1.id, g2.id, g3.id, o2.id, o3.id]
  await until('gethpeer to list every node', 20_000, async () => has(new Set((await g4.table()).map((n) => n.id)), want))
  console.log(`# gethpeer bootstrapped from ours lists all 6 after ${Date.now() - start} ms`)
  const self = (await g4.table()).find((n) => n.id === o1.id)!
  assert.is(self.tcp, o1.address.port, 'geth took our TCP port from our Ping')
})

test('ENR both ways: gethpeer resolves our current record (seq follows our changes); we fetch its record', async () => {
  const first = await g1.resolve(o1.localRecord.toString())
  assert.ok('enr' in first, String((first as { error?: string }).error))
  if (!('enr' in first)) return
  assert.is(first.enr, o1.localRecord.toString())
  assert.is(first.seq, o1.localRecord.seq)
  const before = o1.localRecord.seq
  o1.setEndpoint({ tcpPort: o1.address.port + 1 })
  assert.is(o1.localRecord.seq, before + 1n)
  const second = await g1.resolve(o1.enode)
  assert.ok('enr' in second, String((second as { error?: string }).error))
  assert.is((second as { seq: bigint }).seq, before + 1n)
  assert.is(Enr.parse((second as { enr: string }).enr).tcp, o1.address.port + 1)

  const record = await o1.requestENR(g1.enode)
  const printed = Enr.parse(g1.enr)
  assert.is(record.id, g1.id)
  assert.ok(record.seq >= printed.seq)
  assert.is(record.ip, '127.0.0.1')
  assert.is(record.tcp, g1.port)
  assert.is(record.udp, g1.port)
})

test('connect by address, discovery half: the key behind host:port of a gethpeer and of ours', async () => {
  const asker = await ours([])
  const g = await asker.resolveAddress('127.0.0.1', g2.port)
  assert.is(g.enode.id, g2.id)
  assert.is(g.enode.tcpPort, g2.port)
  assert.is(g.tcpPortSource, 'record')
  assert.is(g.trust, 'first-use')
  const o = await asker.resolveAddress('127.0.0.1', o2.address.port)
  assert.is(o.enode.id, o2.id)
  assert.is(o.enode.tcpPort, o2.address.port)
  assert.is((await asker.resolveAddress('localhost', g2.port)).trust, 'known')
})

test('connect by address: a changed key is a typed error (trust on first use); silence is "no discovery"', async () => {
  const asker = await ours([])
  const first = await ours([])
  const port = first.address.port
  await asker.resolveAddress('127.0.0.1', port)
  await first.stop()
  const second = new Discovery({ privateKey: generatePrivateKey(), bind: { host: '127.0.0.1', port } })
  await second.start()
  started.ours.push(second)
  try {
    await asker.resolveAddress('127.0.0.1', port)
    assert.unreachable('accepted another key at a known address')
  } catch (err) {
    assert.instance(err, IdentityChangedError)
    assert.is((err as IdentityChangedError).knownId, first.id)
    assert.is((err as IdentityChangedError).newId, second.id)
  }
  asker.forgetAddress('127.0.0.1', port)
  assert.is((await asker.resolveAddress('127.0.0.1', port)).enode.id, second.id)

  const silent = createSocket('udp4')
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r))
  const silentPort = silent.address().port
  try {
    await asker.resolveAddress('127.0.0.1', silentPort)
    assert.unreachable('resolved an address where nothing answers')
  } catch (err) {
    assert.instance(err, NoDiscoveryError)
    assert.is((err as Error).message, `no discovery at 127.0.0.1:${silentPort}; ask for its enode`)
  } finally {
    silent.close()
  }
})

test.after(async () => {
  await Promise.all([...started.ours.map((d) => d.stop()), ...started.geth.map((g) => g.stop())])
  console.log(`# gethpeer interop suite: ${Date.now() - t0} ms`)
})

if (haveGethpeer) test.run()
else console.log('SKIP discover-gethpeer: ../shared/gethpeer/gethpeer not found')
