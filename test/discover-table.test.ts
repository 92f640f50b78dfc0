import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { DistinctNetSet, relayIpError } from '../lib/discover/ip.js'
import { isLAN } from '../lib/netutil.js'
import { distanceCompare, logDistance, NodesByDistance, type NodeInfo } from '../lib/discover/node.js'
import { N_BUCKETS, Table } from '../lib/discover/table.js'
import { seededRandom, type Random } from '../lib/random.js'

/** A node whose id lies at log-distance `d` from `self` (ids need no key here, as in geth's tests). */
function nodeAtDistance(self: Buffer, d: number, ip: string, random: Random): NodeInfo {
  const id = Buffer.from(self)
  if (d > 0) {
    const bit = d - 1
    const byte = 31 - (bit >> 3)
    id[byte]! ^= 1 << (bit & 7)
    // randomise everything below the flipped bit so nodes at one distance differ
    for (let b = 0; b < bit; b++) if (random() < 0.5) id[31 - (b >> 3)]! ^= 1 << (b & 7)
  }
  return { id: id.toString('hex'), idBytes: id, publicKey: Buffer.alloc(64), ip, udp: 30303, tcp: 30303 }
}

const SELF = Buffer.alloc(32, 0x55)
const NOW = 1_000_000

function setup(seed = 1): { table: Table; random: Random; added: string[]; removed: string[] } {
  const random = seededRandom(seed)
  const added: string[] = []
  const removed: string[] = []
  const table = new Table(SELF, random, {}, { added: (e) => added.push(e.node.id), removed: (e) => removed.push(e.node.id) })
  return { table, random, added, removed }
}

test('log distance and distance order match geth’s definitions', () => {
  const a = Buffer.alloc(32)
  const b = Buffer.alloc(32)
  assert.is(logDistance(a, b), 0)
  b[31] = 1
  assert.is(logDistance(a, b), 1)
  b[0] = 0x80
  assert.is(logDistance(a, b), 256)
  const c = Buffer.alloc(32)
  c[31] = 2
  assert.ok(distanceCompare(a, b, c) > 0, 'c (distance 2) is closer to zero than b')
  assert.is(distanceCompare(a, c, c), 0)
})

test('buckets: log-distance 256 is the last bucket, ≤ 240 all share bucket 0', () => {
  const { table, random } = setup()
  assert.is(table.bucketIndex(nodeAtDistance(SELF, 256, '1.1.1.1', random).idBytes), N_BUCKETS - 1)
  assert.is(table.bucketIndex(nodeAtDistance(SELF, 241, '1.1.1.1', random).idBytes), 1)
  assert.is(table.bucketIndex(nodeAtDistance(SELF, 240, '1.1.1.1', random).idBytes), 0)
  assert.is(table.bucketIndex(nodeAtDistance(SELF, 3, '1.1.1.1', random).idBytes), 0)
})

test('our own id is never added', () => {
  const { table } = setup()
  assert.is(table.addSeenNode({ id: SELF.toString('hex'), idBytes: SELF, publicKey: Buffer.alloc(64), ip: '1.2.3.4', udp: 1, tcp: 1 }, NOW), 'self')
  assert.is(table.size, 0)
})

test('IP limit: at most 2 per /24 in one bucket (TestTable_BucketIPLimit)', () => {
  const { table, random } = setup()
  const results = [1, 2, 3].map((i) => table.addSeenNode(nodeAtDistance(SELF, 256, `8.8.8.${i}`, random), NOW))
  assert.equal(results, ['added', 'added', 'ip-limit'])
  assert.is(table.size, 2)
  // another /24 in the same bucket is fine
  assert.is(table.addSeenNode(nodeAtDistance(SELF, 256, '8.8.9.1', random), NOW), 'added')
})

test('IP limit: at most 10 per /24 in the table (TestTable_IPLimit)', () => {
  const { table, random } = setup()
  let added = 0
  for (let d = 256; d > 240; d--) {
    if (table.addSeenNode(nodeAtDistance(SELF, d, `9.9.9.${d - 200}`, random), NOW) === 'added') added++
  }
  assert.is(added, 10)
  assert.is(table.size, 10)
})

test('loopback and LAN addresses are exempt from the IP limits', () => {
  const { table, random } = setup()
  for (let i = 0; i < 16; i++) assert.is(table.addSeenNode(nodeAtDistance(SELF, 256, `10.0.0.${i + 1}`, random), NOW), 'added')
  for (let i = 0; i < 12; i++) assert.is(table.addSeenNode(nodeAtDistance(SELF, 255, '127.0.0.1', random), NOW), 'added')
  assert.is(table.size, 28)
})

test('a full bucket keeps newcomers as replacements, the newest 10', () => {
  const { table, random } = setup()
  const nodes = Array.from({ length: 30 }, (_, i) => nodeAtDistance(SELF, 256, `10.1.${i}.1`, random))
  const results = nodes.map((n) => table.addSeenNode(n, NOW))
  assert.equal(results.slice(0, 16), Array(16).fill('added'))
  assert.equal(results.slice(16), Array(14).fill('replacement'))
  const bucket = N_BUCKETS - 1
  assert.is(table.bucketEntries(bucket).length, 16)
  assert.equal(table.bucketReplacements(bucket).map((e) => e.node.id), nodes.slice(20).reverse().map((n) => n.id))
  // offering a replacement again changes nothing
  assert.is(table.addSeenNode(nodes[29]!, NOW), 'present')
})

test('replacement IPs count against the limits and are released when they fall off', () => {
  const { table, random } = setup()
  for (let i = 0; i < 16; i++) table.addSeenNode(nodeAtDistance(SELF, 256, `20.${i}.0.1`, random), NOW)
  assert.is(table.addSeenNode(nodeAtDistance(SELF, 256, '30.0.0.1', random), NOW), 'replacement')
  assert.is(table.addSeenNode(nodeAtDistance(SELF, 256, '30.0.0.2', random), NOW), 'replacement')
  assert.is(table.addSeenNode(nodeAtDistance(SELF, 256, '30.0.0.3', random), NOW), 'ip-limit')
  for (let i = 0; i < 10; i++) table.addSeenNode(nodeAtDistance(SELF, 256, `40.${i}.0.1`, random), NOW)
  // the two 30.0.0.x replacements fell off, so their /24 has room again
  assert.is(table.addSeenNode(nodeAtDistance(SELF, 256, '30.0.0.3', random), NOW), 'replacement')
})

test('seen nodes go to the back, verified nodes to the front; a verified node present is bumped', () => {
  const { table, random } = setup()
  const a = nodeAtDistance(SELF, 256, '10.0.0.1', random)
  const b = nodeAtDistance(SELF, 256, '10.0.0.2', random)
  const c = nodeAtDistance(SELF, 256, '10.0.0.3', random)
  table.addSeenNode(a, NOW)
  table.addSeenNode(b, NOW)
  assert.is(table.addVerifiedNode(c, NOW), 'added')
  const ids = (): string[] => table.bucketEntries(N_BUCKETS - 1).map((e) => e.node.id)
  assert.equal(ids(), [c.id, a.id, b.id])
  assert.is(table.addVerifiedNode(b, NOW), 'bumped')
  assert.equal(ids(), [b.id, c.id, a.id])
  assert.is(table.addSeenNode(a, NOW), 'present')
})

test('a verified node with a new IP is moved only when the new IP fits the limits', () => {
  const { table, random } = setup()
  const a = nodeAtDistance(SELF, 256, '50.0.0.1', random)
  table.addSeenNode(a, NOW)
  table.addSeenNode(nodeAtDistance(SELF, 256, '60.0.0.1', random), NOW)
  table.addSeenNode(nodeAtDistance(SELF, 256, '60.0.0.2', random), NOW)
  assert.is(table.addVerifiedNode({ ...a, ip: '60.0.0.3' }, NOW), 'ip-limit')
  assert.is(table.get(a.id)!.node.ip, '50.0.0.1')
  assert.is(table.addVerifiedNode({ ...a, ip: '70.0.0.1' }, NOW), 'bumped')
  assert.is(table.get(a.id)!.node.ip, '70.0.0.1')
  // the old /24 was released
  assert.is(table.addSeenNode(nodeAtDistance(SELF, 256, '50.0.0.2', random), NOW), 'added')
})

test('revalidation picks the last entry of a bucket; a miss swaps in a random replacement (TestTable_pingReplace)', () => {
  const { table, random, added, removed } = setup(7)
  const nodes = Array.from({ length: 18 }, (_, i) => nodeAtDistance(SELF, 256, `10.2.${i}.1`, random))
  for (const n of nodes) table.addSeenNode(n, NOW)
  const last = table.nodeToRevalidate()!
  assert.is(last.node.id, nodes[15]!.id)
  const r = table.revalidationFailed(last.node.id)!
  assert.ok([nodes[16]!.id, nodes[17]!.id].includes(r.node.id))
  assert.is(table.get(last.node.id), undefined)
  assert.is(table.bucketEntries(N_BUCKETS - 1).at(-1)!.node.id, r.node.id)
  assert.is(table.bucketReplacements(N_BUCKETS - 1).length, 1)
  assert.ok(removed.includes(last.node.id) && added.includes(r.node.id))
  // a node that is no longer last (it answered meanwhile) is not replaced
  table.revalidated(nodes[14]!)
  assert.is(table.revalidationFailed(nodes[14]!.id), undefined)
  assert.ok(table.get(nodes[14]!.id))
  assert.is(table.get(nodes[14]!.id)!.livenessChecks, 1)
})

test('a miss with no replacement removes the node', () => {
  const { table, random } = setup()
  const a = nodeAtDistance(SELF, 200, '10.3.0.1', random)
  table.addSeenNode(a, NOW)
  assert.is(table.nodeToRevalidate()!.node.id, a.id)
  assert.is(table.revalidationFailed(a.id), undefined)
  assert.is(table.size, 0)
  assert.is(table.nodeToRevalidate(), undefined)
})

test('closest: sorted by distance, capped; preferLive returns only confirmed nodes when any exist', () => {
  const { table, random } = setup()
  const nodes = Array.from({ length: 40 }, (_, i) => nodeAtDistance(SELF, 240 + (i % 17), `10.4.${i}.1`, random))
  for (const n of nodes) table.addSeenNode(n, NOW)
  const target = nodeAtDistance(SELF, 250, '0.0.0.0', random).idBytes
  const got = table.closest(target, 16)
  assert.is(got.length, 16)
  const want = [...table.entries().map((e) => e.node)].sort((x, y) => distanceCompare(target, x.idBytes, y.idBytes)).slice(0, 16)
  assert.equal(got.map((n) => n.id), want.map((n) => n.id))
  assert.is(table.closest(target, 16, true).length, 16, 'no live node yet: all nodes')
  table.revalidated(got[5]!)
  assert.equal(table.closest(target, 16, true).map((n) => n.id), [got[5]!.id])
})

test('randomNodes: distinct, at most n, deterministic for a seed', () => {
  const a = setup(3)
  const b = setup(3)
  for (const t of [a, b]) for (let i = 0; i < 20; i++) t.table.addSeenNode(nodeAtDistance(SELF, 240 + (i % 17), `10.5.${i}.1`, t.random), NOW)
  const ra = a.table.randomNodes(8).map((n) => n.id)
  assert.is(new Set(ra).size, 8)
  assert.equal(ra, b.table.randomNodes(8).map((n) => n.id))
  assert.is(a.table.randomNodes(100).length, 20)
})

test('NodesByDistance keeps the closest max entries in order', () => {
  const random = seededRandom(9)
  const target = Buffer.alloc(32)
  const list = new NodesByDistance<NodeInfo>(target, 5)
  const nodes = Array.from({ length: 30 }, () => nodeAtDistance(target, 1 + Math.floor(random() * 256), '1.1.1.1', random))
  for (const n of nodes) list.push(n)
  const want = [...nodes].sort((x, y) => distanceCompare(target, x.idBytes, y.idBytes)).slice(0, 5)
  assert.equal(list.entries.map((n) => n.id), want.map((n) => n.id))
})

test('relay check (TestCheckRelayIP)', () => {
  const cases: [string, string, string | undefined][] = [
    ['127.0.0.1', '0.0.0.0', 'zero address'],
    ['127.0.0.1', '192.0.2.1', 'special network'],
    ['127.0.0.1', '224.0.0.1', 'special network'],
    ['127.0.0.1', '255.255.255.255', 'special network'],
    ['8.8.8.8', '127.0.0.1', 'loopback address from non-loopback host'],
    ['8.8.8.8', '10.0.0.1', 'LAN address from WAN host'],
    ['10.0.0.1', '127.0.0.1', 'loopback address from non-loopback host'],
    ['127.0.0.1', '127.0.0.1', undefined],
    ['127.0.0.1', '10.0.0.1', undefined],
    ['10.0.0.1', '10.0.0.2', undefined],
    ['8.8.8.8', '8.8.4.4', undefined],
    ['8.8.8.8', '2001:db8::1', 'special network'],
    ['8.8.8.8', 'fe80::1', 'LAN address from WAN host'],
  ]
  for (const [sender, addr, want] of cases) assert.is(relayIpError(sender, addr), want, `${sender} relays ${addr}`)
})

test('LAN classes and /24 counting (TestIsLAN, TestDistinctNetSet)', () => {
  for (const ip of ['127.0.0.1', '10.0.1.1', '172.16.0.1', '192.168.9.9', 'fe80::1', 'fd00::1', '::1', '0.1.2.3']) assert.ok(isLAN(ip), ip)
  for (const ip of ['8.8.8.8', '172.32.0.1', '2001:4860::8888']) assert.not.ok(isLAN(ip), ip)
  const set = new DistinctNetSet(24, 2)
  assert.ok(set.add('1.2.3.1'))
  assert.ok(set.add('1.2.3.200'))
  assert.not.ok(set.add('1.2.3.7'))
  assert.ok(set.add('1.2.4.1'))
  set.remove('1.2.3.1')
  assert.ok(set.add('1.2.3.9'))
  assert.is(set.size, 3)
  // IPv6 uses the same 24 bits, so a whole /24 is one group
  assert.ok(set.add('2001:4800::1'))
  assert.ok(set.add('2001:48ff::1'))
  assert.not.ok(set.add('2001:4801::1'))
})

test.run()
