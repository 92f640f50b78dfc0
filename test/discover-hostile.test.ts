// Hostile input against discovery: garbage, truncated, oversized, forged and expired packets,
// floods from one address and from many identities behind one address. Nothing may crash,
// nothing unbounded may grow, unproven senders get nothing but a Pong, and the node keeps
// serving honest peers afterwards.
import { createSocket } from 'node:dgram'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RLP } from '@ethereumjs/rlp'
import { VirtualClock } from '../lib/clock.js'
import { generatePrivateKey, keccak256, sign } from '../lib/crypto/index.js'
import { Discovery } from '../lib/discover/discovery.js'
import { MemoryNetwork } from '../lib/discover/transport.js'
import { encodePacket, expirationFrom, MAX_PACKET_SIZE, PacketType } from '../lib/discover/wire.js'
import { seededRandom } from '../lib/random.js'
import { RawPeer, settle, startNode } from './support/disc.js'

async function setup() {
  const clock = new VirtualClock()
  const net = new MemoryNetwork()
  const node = await startNode(net, clock, '10.0.0.1')
  return { clock, net, node, addr: node.address }
}

/** An honest peer can still bond and get answers. */
async function stillServes(clock: VirtualClock, net: MemoryNetwork, node: Discovery): Promise<void> {
  const honest = new RawPeer(net, '10.200.0.1', 30303, clock)
  await honest.bond(node.address)
  honest.findnode(node.address)
  await clock.advance(1)
  assert.ok(honest.take(PacketType.Neighbors).length >= 1, 'an honest peer is still answered')
}

test('random garbage of every size up to 2 KiB: dropped, no reply, no crash', async () => {
  const { clock, net, node, addr } = await setup()
  const random = seededRandom(5)
  const attacker = new RawPeer(net, '10.66.0.1', 30303, clock)
  for (let i = 0; i < 3000; i++) {
    const bytes = Buffer.alloc(Math.floor(random() * 2048))
    for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256)
    attacker.sendRaw(addr, bytes)
    if (i % 100 === 99) await clock.advance(1000) // stay under the rate limit, so every one is decoded
  }
  await clock.advance(1)
  assert.is(attacker.bytesIn, 0)
  assert.is(node.stats.dropped['bad-packet'], 3000)
  await stillServes(clock, net, node)
  await node.stop()
})

test('every truncation of a valid packet, oversized datagrams, flipped bits: dropped without reply', async () => {
  const { clock, net, node, addr } = await setup()
  const attacker = new RawPeer(net, '10.66.0.2', 30303, clock)
  const { bytes } = encodePacket(
    { type: PacketType.Ping, version: 4n, from: { ip: '10.66.0.2', udp: 30303, tcp: 1 }, to: { ip: '10.0.0.1', udp: 30303, tcp: 0 }, expiration: expirationFrom(clock.now()), enrSeq: 1n },
    attacker.key,
  )
  let sent = 0
  for (let len = 0; len < bytes.length; len++) {
    attacker.sendRaw(addr, bytes.subarray(0, len))
    sent++
  }
  for (const size of [MAX_PACKET_SIZE + 1, 1500, 9000, 65_000]) {
    attacker.sendRaw(addr, Buffer.concat([bytes, Buffer.alloc(size - bytes.length)]))
    sent++
  }
  for (let bit = 0; bit < 97 * 8; bit += 7) {
    const flipped = Buffer.from(bytes)
    flipped[bit >> 3]! ^= 1 << (bit & 7)
    attacker.sendRaw(addr, flipped)
    sent++
    if (sent % 100 === 0) await clock.advance(1000)
  }
  await clock.advance(1)
  assert.is(attacker.bytesIn, 0)
  assert.is(node.stats.dropped['bad-packet'], sent)
  await stillServes(clock, net, node)
  await node.stop()
})

test('a forged signature (valid hash, garbage r‖s) and a valid packet with a truncated body are dropped', async () => {
  const { clock, net, node, addr } = await setup()
  const attacker = new RawPeer(net, '10.66.0.3', 30303, clock)
  const body = Buffer.concat([Buffer.from([PacketType.Ping]), RLP.encode([4, [Buffer.alloc(4), 1, 1], [Buffer.alloc(4), 1, 1], 9999999999])])
  const sig = Buffer.alloc(65, 0xff)
  attacker.sendRaw(addr, Buffer.concat([keccak256(sig, body), sig, body]))
  const realSig = sign(keccak256(body.subarray(0, 20)), attacker.key)
  attacker.sendRaw(addr, Buffer.concat([keccak256(realSig, body.subarray(0, 20)), realSig, body.subarray(0, 20)]))
  await clock.advance(1)
  assert.is(attacker.bytesIn, 0)
  assert.is(node.stats.dropped['bad-packet'], 2)
  await node.stop()
})

test('expired packets of every type are dropped, replies to nothing are unsolicited', async () => {
  const { clock, net, node, addr } = await setup()
  const attacker = new RawPeer(net, '10.66.0.4', 30303, clock)
  await attacker.bond(addr)
  const bondBytes = attacker.bytesIn
  const past = expirationFrom(clock.now()) - 60
  attacker.ping(addr, { expiration: past })
  attacker.send(addr, { type: PacketType.FindNode, target: attacker.publicKey, expiration: past })
  attacker.send(addr, { type: PacketType.ENRRequest, expiration: past })
  attacker.send(addr, { type: PacketType.Neighbors, nodes: [], expiration: past })
  attacker.send(addr, { type: PacketType.Pong, to: { ip: '10.0.0.1', udp: 30303, tcp: 0 }, replyTok: Buffer.alloc(32), expiration: past })
  attacker.send(addr, { type: PacketType.ENRResponse, replyTok: Buffer.alloc(32), record: [] })
  await clock.advance(1)
  assert.is(attacker.bytesIn, bondBytes)
  assert.is(node.stats.dropped.expired, 5)
  assert.is(node.stats.dropped.unsolicited, 1)
  await node.stop()
})

test('no amplification: an unproven sender gets nothing for FindNode or ENRRequest, one Pong per Ping and one ping back', async () => {
  const { clock, net, node, addr } = await setup()
  const spoofed = new RawPeer(net, '10.66.0.5', 30303, clock)
  for (let i = 0; i < 50; i++) {
    spoofed.findnode(addr)
    spoofed.send(addr, { type: PacketType.ENRRequest, expiration: expirationFrom(clock.now()) })
  }
  await clock.advance(1)
  assert.is(spoofed.bytesIn, 0, 'queries from an unproven address are never answered')
  const before = spoofed.bytesOut
  spoofed.ping(addr)
  await clock.advance(1)
  const ping = spoofed.bytesOut - before
  const first = spoofed.bytesIn
  for (let i = 0; i < 19; i++) spoofed.ping(addr)
  await clock.advance(1)
  const pongs = spoofed.take(PacketType.Pong)
  const pings = spoofed.take(PacketType.Ping)
  assert.is(pongs.length, 20)
  assert.is(pings.length, 1, 'one ping back while it is unanswered, not one per ping')
  const pong = (spoofed.bytesIn - first) / 19
  const ratio = spoofed.bytesIn / (spoofed.bytesOut - before)
  console.log(`# an unproven ${ping}-byte ping gets a ${pong}-byte Pong (+ one ${first - pong}-byte ping back per bond attempt); 20 pings → ×${ratio.toFixed(2)} bytes back`)
  assert.ok(pong <= ping + 32, 'a Pong is at most a hash longer than the ping it answers')
  await node.stop()
})

test('a flood of 10,000 pings from one address is cut to the rate limit; memory stays bounded', async () => {
  const { clock, net, node, addr } = await setup()
  const flooder = new RawPeer(net, '10.66.0.6', 30303, clock)
  const { bytes } = encodePacket(
    { type: PacketType.Ping, version: 4n, from: { ip: '10.66.0.6', udp: 30303, tcp: 1 }, to: { ip: '10.0.0.1', udp: 30303, tcp: 0 }, expiration: expirationFrom(clock.now()) },
    flooder.key,
  )
  for (let i = 0; i < 10_000; i++) flooder.sendRaw(addr, bytes)
  await clock.advance(1)
  const pongs = flooder.take(PacketType.Pong).length
  assert.is(pongs, 200, 'the burst of one ip:port, and nothing beyond it')
  assert.is(node.stats.dropped['rate-limited'], 9800)
  assert.ok(node.sizes.pendingRequests <= 1)
  await stillServes(clock, net, node)
  await node.stop()
})

test('5,000 identities from one IP over many ports: bounded state, bounded replies, still serving', async () => {
  const { clock, net, node, addr } = await setup()
  const pongsSeen = { n: 0 }
  const ports = Array.from({ length: 250 }, (_, i) => new RawPeer(net, '10.77.0.1', 20000 + i, clock))
  for (let i = 0; i < 5000; i++) {
    const sender = ports[i % ports.length]!
    const key = generatePrivateKey()
    const { bytes } = encodePacket(
      { type: PacketType.Ping, version: 4n, from: { ip: '10.77.0.1', udp: 1, tcp: 1 }, to: { ip: '10.0.0.1', udp: 30303, tcp: 0 }, expiration: expirationFrom(clock.now()) },
      key,
    )
    sender.sendRaw(addr, bytes)
  }
  await clock.advance(1)
  for (const p of ports) pongsSeen.n += p.take(PacketType.Pong).length
  const s = node.sizes
  assert.ok(pongsSeen.n <= 2000, `one IP gets at most its burst of answers, got ${pongsSeen.n}`)
  assert.ok(s.pendingRequests <= 512)
  assert.ok(s.dbUnproven <= 1000)
  assert.ok(s.trackedSources <= 2048)
  assert.is(s.table, 0, 'nobody answered our pings back, so nobody entered the table')
  await clock.advance(1000)
  assert.is(node.sizes.pendingRequests, 0, 'every ping back timed out and was forgotten')
  await stillServes(clock, net, node)
  await node.stop()
})

test('a Neighbours reply stuffed with junk entries and a bogus ENRResponse cannot hurt a pending request', async () => {
  const { clock, net, node, addr } = await setup()
  const peer = new RawPeer(net, '10.0.0.2', 30303, clock)
  await peer.bond(addr)
  const lookup = node.lookup(Buffer.alloc(64, 7))
  await clock.advance(1)
  assert.is(peer.take(PacketType.FindNode).length, 1)
  peer.send(addr, {
    type: PacketType.Neighbors,
    nodes: Array.from({ length: 12 }, (_, i) => ({ ip: i % 2 ? '0.0.0.0' : '255.255.255.255', udp: 65535, tcp: 0, publicKey: Buffer.alloc(64, i) })),
    expiration: expirationFrom(clock.now()),
  })
  const enr = node.requestENR(`enode://${peer.publicKey.toString('hex')}@10.0.0.2:30303`)
  await clock.advance(1)
  const [req] = peer.take(PacketType.ENRRequest)
  peer.send(addr, { type: PacketType.ENRResponse, replyTok: req!.hash, record: [Buffer.alloc(300), Buffer.alloc(1)] })
  await settle(clock, enr).then(
    () => assert.unreachable('accepted a bogus record'),
    (err) => assert.is((err as { code: string }).code, 'ERR_DISC_RECORD'),
  )
  assert.equal((await settle(clock, lookup)).map((n) => n.id), [peer.id], 'nothing from the junk entered the result')
  assert.is(node.tableSize, 1)
  await node.stop()
})

test('real UDP: 20,000 junk datagrams at a node on loopback; it survives and still answers a ping', async () => {
  const node = new Discovery({ privateKey: generatePrivateKey(), bind: { host: '127.0.0.1', port: 0 } })
  await node.start()
  const sock = createSocket('udp4')
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r))
  const bytes = Buffer.alloc(1400, 0xab)
  for (let i = 0; i < 20_000; i++) {
    sock.send(bytes.subarray(0, (i * 37) % 1400), node.address.port, '127.0.0.1')
    if (i % 50 === 49) await new Promise((r) => setImmediate(r))
  }
  await new Promise((r) => setTimeout(r, 200))
  const junk = node.stats.received
  const { dropped } = node.stats
  assert.ok(junk > 0)
  assert.is((dropped['bad-packet'] ?? 0) + (dropped['rate-limited'] ?? 0), junk, 'every junk datagram was dropped')
  const pinger = new Discovery({ privateKey: generatePrivateKey(), bind: { host: '127.0.0.1', port: 0 } })
  await pinger.start()
  const pong = await pinger.ping(node.enode)
  assert.is(pong.id, node.id)
  sock.close()
  await Promise.all([node.stop(), pinger.stop()])
})

test.run()
