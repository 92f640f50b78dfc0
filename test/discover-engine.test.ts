// The discv4 engine's rules, driven by hand-crafted packets on a memory network and a
// virtual clock: geth's conformance cases (cmd/devp2p/internal/v4test) and v4_udp_test.go.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { VirtualClock } from '../lib/clock.js'
import { generatePrivateKey, keccak256, publicKeyOf } from '../lib/crypto/index.js'
import { Enr } from '../lib/enr.js'
import { DiscTimeoutError, InvalidRecordResponseError } from '../lib/discover/errors.js'
import { makeNode } from '../lib/discover/node.js'
import { MemoryNetwork } from '../lib/discover/transport.js'
import { expirationFrom, MAX_PACKET_SIZE, PacketType, type Neighbors, type Pong } from '../lib/discover/wire.js'
import { RawPeer, recordItems, settle, startNode } from './support/disc.js'

const NODE = '10.0.0.1'

async function setup(options = {}) {
  const clock = new VirtualClock()
  const net = new MemoryNetwork()
  const node = await startNode(net, clock, NODE, options)
  const peer = new RawPeer(net, '10.0.0.2', 30303, clock)
  return { clock, net, node, peer, addr: node.address }
}

test('Ping/Basic: a ping from an unknown node gets one Pong and one Ping back', async () => {
  const { clock, node, peer, addr } = await setup()
  const hash = peer.ping(addr)
  await clock.advance(1)
  const [pong, ...morePongs] = peer.take(PacketType.Pong)
  assert.ok(pong)
  assert.is(morePongs.length, 0)
  const p = pong!.packet as Pong
  assert.equal(p.replyTok, hash)
  assert.equal(p.to, { ip: '10.0.0.2', udp: 30303, tcp: 30303 })
  assert.is(p.enrSeq, node.localRecord.seq)
  assert.is(pong!.id, node.id)
  assert.is(peer.take(PacketType.Ping).length, 1)
  assert.is(peer.inbox.length, 0)
  await node.stop()
})

test('Ping/WrongTo, WrongFrom, ExtraData: still answered, the facts come from the UDP source', async () => {
  const { clock, node, peer, addr } = await setup()
  peer.ping(addr, { to: { ip: '1.2.3.4', udp: 1, tcp: 1 } })
  peer.ping(addr, { from: { ip: '5.6.7.8', udp: 9, tcp: 4444 } })
  peer.ping(addr, { version: 555n, enrSeq: 3n })
  await clock.advance(1)
  const pongs = peer.take(PacketType.Pong).map((d) => d.packet as Pong)
  assert.is(pongs.length, 3)
  for (const p of pongs) assert.is(p.to.ip, '10.0.0.2')
  assert.is(pongs[1]!.to.tcp, 4444, 'the TCP port is the one the ping named')
  await node.stop()
})

test('Ping/PastExpiration and WrongPacketType: no answer at all', async () => {
  const { clock, node, peer, addr } = await setup()
  peer.ping(addr, { expiration: expirationFrom(clock.now()) - 30 })
  peer.send(addr, { type: PacketType.ENRRequest, expiration: 1 })
  await clock.advance(1000)
  assert.is(peer.inbox.length, 0)
  assert.is(node.stats.dropped.expired, 2)
  await node.stop()
})

test('Findnode/WithoutEndpointProof and ENRRequest without proof: dropped silently (no amplification)', async () => {
  const { clock, node, peer, addr } = await setup()
  peer.findnode(addr)
  peer.send(addr, { type: PacketType.ENRRequest, expiration: expirationFrom(clock.now()) })
  await clock.advance(1000)
  assert.is(peer.inbox.length, 0)
  assert.is(peer.bytesIn, 0)
  assert.is(node.stats.dropped['unknown-node'], 2)
  await node.stop()
})

test('Findnode/BasicFindnode and ENRRequest after the endpoint proof: answered', async () => {
  const { clock, node, peer, addr } = await setup()
  await peer.bond(addr)
  peer.findnode(addr)
  const reqHash = peer.send(addr, { type: PacketType.ENRRequest, expiration: expirationFrom(clock.now()) })
  await clock.advance(1)
  const [neighbors] = peer.take(PacketType.Neighbors)
  assert.ok(neighbors, 'a Neighbours packet, even with nothing to tell')
  const [resp] = peer.take(PacketType.ENRResponse)
  assert.ok(resp)
  if (resp!.packet.type !== PacketType.ENRResponse) return
  assert.equal(resp!.packet.replyTok, reqHash)
  const record = Enr.fromItem(resp!.packet.record)
  assert.is(record.toString(), node.localRecord.toString())
  assert.is(record.id, node.id)
  await node.stop()
})

test('the bond expires after 24 h: FindNode is dropped again', async () => {
  const { clock, node, peer, addr } = await setup()
  await peer.bond(addr)
  await clock.advance(24 * 3600 * 1000 + 1)
  peer.findnode(addr)
  await clock.advance(1)
  assert.is(peer.take(PacketType.Neighbors).length, 0)
  await node.stop()
})

test('Amplification/InvalidPongHash and WrongIP: a wrong or misplaced Pong proves nothing', async () => {
  const { clock, net, node, peer, addr } = await setup()
  peer.ping(addr)
  await clock.advance(1)
  const [pingBack] = peer.take(PacketType.Ping)
  peer.pong(addr, Buffer.alloc(32, 1)) // wrong hash
  // the right hash, but from another address of the same node (same key)
  const twin = Object.assign(new RawPeer(net, '10.0.0.3', 30303, clock), { key: peer.key })
  twin.pong(addr, pingBack!.hash)
  await clock.advance(1)
  peer.findnode(addr)
  await clock.advance(1000)
  assert.is(peer.take(PacketType.Neighbors).length, 0)
  assert.is(node.stats.dropped.unsolicited, 2)
  await node.stop()
})

test('Findnode/UnsolicitedNeighbors: nodes in a Neighbours nobody asked for never reach the table', async () => {
  const { clock, node, peer, addr } = await setup()
  await peer.bond(addr)
  const stranger = publicKeyOf(generatePrivateKey())
  peer.send(addr, { type: PacketType.Neighbors, nodes: [{ ip: '10.9.9.9', udp: 30303, tcp: 30303, publicKey: stranger }], expiration: expirationFrom(clock.now()) })
  await clock.advance(1000)
  assert.not.ok(node.tableEntries().some((e) => e.node.publicKey.equals(stranger)))
  assert.is(node.stats.dropped.unsolicited, 1)
  await node.stop()
})

test('a pinging node enters the table only after answering our ping back', async () => {
  const { clock, node, peer, addr } = await setup()
  peer.ping(addr)
  await clock.advance(1)
  assert.is(node.tableSize, 0)
  peer.answerPings(addr)
  await clock.advance(1)
  assert.equal(node.tableEntries().map((e) => [e.node.id, e.node.ip, e.node.udp, e.node.tcp]), [[peer.id, '10.0.0.2', 30303, 30303]])
  await node.stop()
})

test('Neighbours answers are split at 12 per packet, each within 1280 bytes', async () => {
  const { clock, node, net, peer, addr } = await setup()
  const others = Array.from({ length: 17 }, (_, i) => new RawPeer(net, `10.1.0.${i + 1}`, 30303, clock))
  for (const o of others) await o.bond(addr)
  await peer.bond(addr)
  assert.is(node.tableSize, 18)
  const sentBefore = node.stats.bytesSent
  peer.findnode(addr)
  await clock.advance(1)
  const packets = peer.take(PacketType.Neighbors)
  assert.equal(packets.map((p) => (p.packet as Neighbors).nodes.length), [12, 4])
  assert.is(new Set(packets.flatMap((p) => (p.packet as Neighbors).nodes.map((n) => n.ip))).size, 16)
  const sent = node.stats.bytesSent - sentBefore
  assert.ok(sent <= 2 * MAX_PACKET_SIZE && peer.bytesIn >= sent)
  await node.stop()
})

test('loopback nodes are not relayed to a LAN host, LAN nodes not to a WAN host (CheckRelayIP)', async () => {
  const { clock, node, net, addr } = await setup()
  const loop = new RawPeer(net, '127.0.0.1', 30303, clock)
  const lan = new RawPeer(net, '10.0.0.3', 30303, clock)
  const wan = new RawPeer(net, '8.8.8.8', 30303, clock)
  for (const p of [loop, lan, wan]) await p.bond(addr)
  assert.is(node.tableSize, 3)
  const relayed = async (asker: RawPeer): Promise<string[]> => {
    asker.findnode(addr)
    await clock.advance(1)
    return asker.take(PacketType.Neighbors).flatMap((p) => (p.packet as Neighbors).nodes.map((n) => n.ip!)).sort()
  }
  assert.equal(await relayed(loop), ['10.0.0.3', '127.0.0.1', '8.8.8.8'])
  assert.equal(await relayed(lan), ['10.0.0.3', '8.8.8.8'])
  assert.equal(await relayed(wan), ['8.8.8.8'])
  await node.stop()
})

test('our FindNode to a node that does not know us: ping, its Pong, a 500 ms pause, then FindNode', async () => {
  const clock = new VirtualClock()
  const net = new MemoryNetwork()
  const boot = new RawPeer(net, '10.0.0.50', 30303, clock)
  const node = await startNode(net, clock, NODE, { bootnodes: [`enode://${boot.publicKey.toString('hex')}@10.0.0.50:30303`] })
  const [ping] = boot.take(PacketType.Ping)
  assert.ok(ping, 'the first refresh pings the bootnode before asking it anything')
  assert.is(boot.inbox.length, 0)
  const t0 = clock.now()
  boot.pong(node.address, ping!.hash)
  await clock.advance(499)
  assert.is(boot.take(PacketType.FindNode).length, 0, 'no query during the pause')
  await clock.advance(1)
  const [fn] = boot.take(PacketType.FindNode)
  assert.ok(fn, 'the query follows the pause')
  assert.is(clock.now() - t0, 500)
  await node.stop()
})

test('ensureBond timing on the virtual clock', async () => {
  const { clock, node, peer, addr } = await setup()
  await peer.bond(addr) // the node now knows peer, so peer is in its table
  // forget that peer pinged us, as after 24 h, so the node must ping before querying
  await clock.advance(24 * 3600 * 1000 + 1)
  const t0 = clock.now()
  const lookup = node.lookup(peer.publicKey)
  await clock.advance(1)
  const [ping] = peer.take(PacketType.Ping)
  assert.ok(ping)
  peer.pong(node.address, ping!.hash)
  await clock.advance(499)
  assert.is(peer.take(PacketType.FindNode).length, 0, 'no query during the pause')
  await clock.advance(2)
  const [fn] = peer.take(PacketType.FindNode)
  assert.ok(fn, 'the query follows the pause')
  assert.ok(clock.now() - t0 >= 501)
  peer.send(node.address, { type: PacketType.Neighbors, nodes: [], expiration: expirationFrom(clock.now()) })
  await settle(clock, lookup)
  await node.stop()
})

test('Neighbours are taken only from the node and address we asked; bad entries are dropped', async () => {
  const { clock, net, node, peer, addr } = await setup()
  await peer.bond(addr)
  const good = publicKeyOf(generatePrivateKey())
  const lowPort = publicKeyOf(generatePrivateKey())
  const special = publicKeyOf(generatePrivateKey())
  const injected = publicKeyOf(generatePrivateKey())
  const lookup = node.lookup(publicKeyOf(generatePrivateKey()))
  await clock.advance(1)
  const [fn] = peer.take(PacketType.FindNode)
  assert.ok(fn, 'peer pinged us within 24 h, so no ping first')
  // the same key from another address is not the node we asked
  const impostor = Object.assign(new RawPeer(net, '10.0.0.66', 30303, clock), { key: peer.key })
  impostor.send(addr, { type: PacketType.Neighbors, nodes: [{ ip: '10.7.7.7', udp: 30303, tcp: 30303, publicKey: injected }], expiration: expirationFrom(clock.now()) })
  peer.send(addr, {
    type: PacketType.Neighbors,
    nodes: [
      { ip: '10.5.5.5', udp: 30303, tcp: 30303, publicKey: good },
      { ip: '10.5.5.6', udp: 1024, tcp: 30303, publicKey: lowPort },
      { ip: '192.0.2.1', udp: 30303, tcp: 30303, publicKey: special },
    ],
    expiration: expirationFrom(clock.now()),
  })
  // found nodes reach the table when the query ends (its 500 ms deadline, fewer than 16 came)
  await clock.advance(500)
  const ids = node.tableEntries().map((e) => e.node.publicKey.toString('hex'))
  assert.ok(ids.includes(good.toString('hex')))
  for (const k of [lowPort, special, injected]) assert.not.ok(ids.includes(k.toString('hex')))
  await settle(clock, lookup)
  await node.stop()
})

test('a Pong is accepted only for our ping and from the address we pinged', async () => {
  const { clock, net, node, peer } = await setup()
  const otherPort = Object.assign(new RawPeer(net, '10.0.0.2', 30304, clock), { key: peer.key })
  const result = node.ping(makeNode(peer.publicKey, '10.0.0.2', 30303, 0))
  await clock.advance(1)
  const [ping] = peer.take(PacketType.Ping)
  otherPort.pong(node.address, ping!.hash)
  await clock.advance(1)
  peer.pong(node.address, ping!.hash)
  const pong = await settle(clock, result)
  assert.is(pong.id, peer.id)
  assert.is(node.stats.dropped.unsolicited, 1)
  await node.stop()
})

test('a ping nobody answers times out after exactly 500 ms of virtual time', async () => {
  const { clock, node } = await setup()
  const t0 = clock.now()
  const p = node.ping(makeNode(publicKeyOf(generatePrivateKey()), '10.0.0.99', 30303, 0))
  let settledAt = 0
  p.catch(() => {
    settledAt = clock.now()
  })
  await clock.advance(499)
  assert.is(settledAt, 0)
  await clock.advance(1)
  await p.catch((err) => assert.instance(err, DiscTimeoutError))
  assert.is(settledAt - t0, 500)
  await node.stop()
})

test('requestENR: the record comes back verified; a record of another node is refused', async () => {
  const { clock, node, peer, addr } = await setup()
  await peer.bond(addr)
  const target = makeNode(peer.publicKey, '10.0.0.2', 30303, 30303)
  const own = Enr.create(peer.key, 5, { ip: '10.0.0.2', udp: 30303, tcp: 30303 })
  const answer = (record: Enr): void => {
    const [req] = peer.take(PacketType.ENRRequest)
    assert.ok(req, 'an ENRRequest')
    peer.send(addr, { type: PacketType.ENRResponse, replyTok: req!.hash, record: recordItems(record.encode()) })
  }
  const first = node.requestENR(target)
  await clock.advance(1)
  answer(own)
  assert.is((await settle(clock, first)).seq, 5n)
  const second = node.requestENR(target)
  await clock.advance(1)
  answer(Enr.create(generatePrivateKey(), 9, { ip: '10.0.0.2', udp: 30303 }))
  await settle(clock, second).then(
    () => assert.unreachable('accepted a foreign record'),
    (err) => assert.instance(err, InvalidRecordResponseError),
  )
  await node.stop()
})

test('pings arriving before the first refresh ends are answered but do not fill the table', async () => {
  const clock = new VirtualClock()
  const net = new MemoryNetwork()
  const boot = new RawPeer(net, '10.0.0.50', 30303, clock)
  // the bootnode never answers, so the first refresh takes a while (ping timeouts)
  const node = await startNode(net, clock, NODE, { bootnodes: [`enode://${boot.publicKey.toString('hex')}@10.0.0.50:30303`] })
  const peer = new RawPeer(net, '10.0.0.2', 30303, clock)
  peer.ping(node.address)
  await clock.advance(1)
  assert.is(peer.take(PacketType.Pong).length, 1)
  peer.answerPings(node.address)
  await clock.advance(1)
  assert.is(node.tableEntries().filter((e) => e.node.id === peer.id).length, 0)
  await clock.advance(10_000)
  peer.ping(node.address)
  await clock.advance(1)
  assert.is(node.tableEntries().filter((e) => e.node.id === peer.id).length, 1)
  await node.stop()
})

test('revalidation fetches a newer record announced in a Pong', async () => {
  const { clock, node, peer, addr } = await setup({ revalidateInterval: 1000 })
  await peer.bond(addr)
  const record = Enr.create(peer.key, 42, { ip: '10.0.0.2', udp: 30303, tcp: 30303 })
  for (let i = 0; i < 40 && !node.tableEntries()[0]?.node.record; i++) {
    await clock.advance(100)
    for (const ping of peer.take(PacketType.Ping)) {
      peer.send(addr, { type: PacketType.Pong, to: { ip: NODE, udp: 30303, tcp: 0 }, replyTok: ping.hash, expiration: expirationFrom(clock.now()), enrSeq: 42n })
    }
    for (const req of peer.take(PacketType.ENRRequest)) {
      peer.send(addr, { type: PacketType.ENRResponse, replyTok: req.hash, record: recordItems(record.encode()) })
    }
  }
  const entry = node.tableEntries()[0]!
  assert.is(entry.node.record?.seq, 42n)
  assert.is(entry.livenessChecks, 1)
  await node.stop()
})

test('a node that stops answering revalidation is removed', async () => {
  const { clock, node, peer, addr } = await setup({ revalidateInterval: 1000 })
  await peer.bond(addr)
  assert.is(node.tableSize, 1)
  await clock.advance(3000)
  assert.is(node.tableSize, 0)
  await node.stop()
})

test('node ids are keccak256 of the key (the engine and table agree)', async () => {
  const { node } = await setup()
  assert.is(node.id, keccak256(node.publicKey).toString('hex'))
  await node.stop()
})

test.run()
