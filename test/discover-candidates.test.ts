// What the dialer will consume: table candidates, the random walk, and the dial-candidate
// queue, on a memory network with a virtual clock.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { VirtualClock } from '../lib/clock.js'
import type { Discovery } from '../lib/discover/discovery.js'
import { MemoryNetwork } from '../lib/discover/transport.js'
import { settle, startNode } from './support/disc.js'

async function network(n: number) {
  const clock = new VirtualClock()
  const net = new MemoryNetwork()
  const boot = await startNode(net, clock, '10.0.0.1', {}, 1)
  const nodes: Discovery[] = [boot]
  for (let i = 2; i <= n; i++) nodes.push(await startNode(net, clock, `10.0.0.${i}`, { bootnodes: [boot.enode] }, i))
  return { clock, net, nodes }
}

const stopAll = (nodes: Discovery[]): Promise<void[]> => Promise.all(nodes.map((d) => d.stop()))

test('candidates(n): table nodes with a TCP port, checked ones first, never ourselves', async () => {
  const { clock, nodes } = await network(8)
  const me = nodes[7]!
  await settle(clock, me.lookup())
  const all = me.candidates(100)
  assert.ok(all.length >= 2)
  assert.not.ok(all.some((n) => n.id === me.id))
  assert.ok(all.every((n) => n.tcp > 0))
  assert.is(me.candidates(1).length, 1)
  await stopAll(nodes)
})

test('nodes(): a random walk that finds the whole network', async () => {
  const { clock, net, nodes } = await network(12)
  const me = nodes[11]!
  const seen = new Set<string>()
  const walk = me.nodes()
  const t0 = clock.now()
  const startPackets = me.stats.sent['FINDNODE/v4'] ?? 0
  while (seen.size < 11 && clock.now() - t0 < 60_000) {
    const next = walk.next()
    const r = await settle(clock, next, 10)
    if (r.done) break
    seen.add(r.value.id)
  }
  await walk.return()
  assert.is(seen.size, 11, 'every other node')
  assert.not.ok(seen.has(me.id))
  const seconds = (clock.now() - t0) / 1000
  console.log(`# walk found 11 nodes in ${seconds.toFixed(1)} virtual s, ${(me.stats.sent['FINDNODE/v4'] ?? 0) - startPackets} FindNode sent; network carried ${net.packets} packets`)
  await stopAll(nodes)
})

test('dialCandidates(): next() never waits, the queue fills in the background and the walk pauses when it is full', async () => {
  const { clock, nodes } = await network(10)
  const me = nodes[9]!
  const source = me.dialCandidates(4)
  assert.is(source.next(), undefined, 'nothing queued yet, and no waiting')
  await clock.advance(5000)
  const first = source.next()
  assert.ok(first?.host && first.tcpPort, 'a dialable enode')
  await clock.advance(5000)
  // full queue: no lookups while nobody takes from it
  const before = me.stats.sent['FINDNODE/v4'] ?? 0
  await clock.advance(30_000)
  assert.is(me.stats.sent['FINDNODE/v4'] ?? 0, before)
  const got = [source.next(), source.next(), source.next(), source.next()]
  assert.ok(got.every((e) => e !== undefined && e.id !== me.id))
  source.close()
  await stopAll(nodes)
})

test.run()
