// floodnet joins under hostile input, over real loopback sockets: a JOIN_REQ makes us dial
// only a curve point at a unicast IP literal, once; junk requests in flight do not make a
// node refuse real ones; a link that presents a token we never issued is dropped; a node
// that does not listen still joins (its acceptors offer themselves); stop means stop.
import { randomBytes } from 'node:crypto'
import { RLP } from '@ethereumjs/rlp'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { VirtualClock } from '../lib/clock.js'
import { generatePrivateKey, publicKeyOf } from '../lib/crypto/index.js'
import { DiscReason } from '../lib/disconnect.js'
import { nodeId, parseEnode, type Enode } from '../lib/enode.js'
import { ServerStateError } from '../lib/errors.js'
import type { Protocol } from '../lib/protocol.js'
import { tcpTransport } from '../lib/tcp-transport.js'
import type { TransportFactory } from '../lib/transport.js'
import { FloodnetMsg } from '../protocols/floodnet/index.js'
import { decodeAck, encodeAck, encodeJoin, encodeOffer, newToken } from '../protocols/floodnet/join.js'
import { waitFor, within } from './support/net.js'
import { components, encodeFlood, QUICK, settle, startNode, startRawFloodnet, stopAll, type FloodNode } from './support/floodnet-cluster.js'
import { createServer, type Server as NetServer } from 'node:net'

test.after.each(stopAll)

/** TCP that records the port of every dial. */
function recordingDials(ports: number[]): TransportFactory {
  return (context) => {
    const tcp = tcpTransport(context)
    return { ...tcp, dial: (host, port, key, options) => (ports.push(port), tcp.dial(host, port, key, options)) }
  }
}

const key = (): Buffer => publicKeyOf(generatePrivateKey())
const enode = (publicKey: Buffer, host: string | undefined, tcpPort: number | undefined): Enode => ({ publicKey, id: nodeId(publicKey), host, tcpPort })

/** A TCP listener that accepts and then says nothing: a dial to it hangs in the handshake. */
async function blackHole(): Promise<{ port: number; server: NetServer }> {
  const server = createServer((socket) => socket.on('error', () => {}))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  holes.push(server)
  return { port: (server.address() as { port: number }).port, server }
}
const holes: NetServer[] = []
test.after.each(() => {
  for (const h of holes.splice(0)) h.close()
})

test('a JOIN_REQ naming a host name, 0.0.0.0, a broadcast or multicast address or a key off the curve is dropped: not dialled, not passed on', async () => {
  const dials: number[] = []
  const y = await startNode({ server: { transport: recordingDials(dials) } })
  const p = await startRawFloodnet()
  const toY = await p.link(y)
  const bad: Enode[] = [
    enode(key(), 'localhost', 1001),
    enode(key(), '0.0.0.0', 1002),
    enode(key(), '255.255.255.255', 1003),
    enode(key(), '224.0.0.1', 1004),
    enode(key(), '::', 1005),
    enode(Buffer.alloc(64, 7), '127.0.0.1', 1006),
  ]
  for (const requester of bad) await toY.writeMsg(FloodnetMsg.JoinReq, encodeJoin({ token: newToken(), requester, hopsLeft: 5 }))
  // A good one last: once it is dialled, the bad ones before it on the same link were handled.
  const hole = await blackHole()
  await toY.writeMsg(FloodnetMsg.JoinReq, encodeJoin({ token: newToken(), requester: enode(key(), '127.0.0.1', hole.port), hopsLeft: 5 }))
  await waitFor(() => dials.includes(hole.port), QUICK, 'the good requester to be dialled')
  assert.equal(dials, [hole.port], 'only the good requester was dialled')
})

test('junk JOIN_REQs whose dials hang do not make a node below desired refuse a real one from another neighbour', async () => {
  const dials: number[] = []
  const y = await startNode({ server: { transport: recordingDials(dials), handshakeTimeout: 30_000 } })
  const junk = await startRawFloodnet()
  const honest = await startRawFloodnet()
  const fromJunk = await junk.link(y)
  const fromHonest = await honest.link(y)
  const hole = await blackHole()
  for (let i = 0; i < 8; i++) await fromJunk.writeMsg(FloodnetMsg.JoinReq, encodeJoin({ token: newToken(), requester: enode(key(), '127.0.0.1', hole.port), hopsLeft: 5 }))
  // The junk neighbour may keep only a couple of our dials in flight.
  await waitFor(() => dials.length >= 2, QUICK, 'the junk dials')
  // The real requester: a raw peer that records the link Y opens to it and the token Y presents.
  const real = await startRawFloodnet()
  const token = newToken()
  const realEnode = enode(real.server.publicKey, '127.0.0.1', Number(real.server.enode.split(':').pop()))
  await fromHonest.writeMsg(FloodnetMsg.JoinReq, encodeJoin({ token, requester: realEnode, hopsLeft: 5 }))
  await waitFor(() => real.received.some((r) => r.from === y.server.id && r.msg.code === FloodnetMsg.JoinAck), QUICK, 'Y to link to the real requester')
  const ack = real.received.find((r) => r.msg.code === FloodnetMsg.JoinAck)!
  assert.is(decodeAck(ack.msg.payload), token, 'Y presents the requester\'s token on the link')
  assert.is(dials.filter((d) => d === hole.port).length, 2, 'two junk dials in flight, no more')
})

test('a link that presents a join token we never issued is dropped as useless', async () => {
  const y = await startNode()
  const p = await startRawFloodnet()
  const toY = await p.link(y)
  const removed = new Promise<DiscReason>((resolve) => y.server.events.on('peer:removed', (e) => resolve(e.reason)))
  await toY.writeMsg(FloodnetMsg.JoinAck, encodeAck(newToken()))
  assert.is(await within(removed, QUICK, 'Y to drop the link'), DiscReason.UselessPeer)
})

test('malformed JOIN_ACK and JOIN_OFFER are a breach of protocol', async () => {
  for (const [code, payload] of [
    [FloodnetMsg.JoinAck, RLP.encode([Buffer.alloc(3)])],
    [FloodnetMsg.JoinOffer, RLP.encode([Buffer.alloc(8), key(), '', 0])],
  ] as const) {
    const y = await startNode()
    const p = await startRawFloodnet()
    const toY = await p.link(y)
    const removed = new Promise<DiscReason>((resolve) => y.server.events.on('peer:removed', (e) => resolve(e.reason)))
    await toY.writeMsg(code, payload)
    assert.is(await within(removed, QUICK, 'Y to drop the link'), DiscReason.ProtocolError)
  }
})

test('a node that does not listen joins: acceptors offer themselves back along the walk and it dials them', async () => {
  const desired = 3
  const fast = { desired, joinBackoff: [50, 400] as [number, number], joinWindow: 400 }
  const entry = await startNode({ floodnet: fast })
  const others: FloodNode[] = []
  for (let i = 0; i < 5; i++) others.push(await startNode({ floodnet: { ...fast, bootnodes: [entry.server.enode] } }))
  const silent = await startNode({ floodnet: { ...fast, bootnodes: [entry.server.enode] }, server: { listenAddr: null } })
  const all = [entry, ...others, silent]
  await waitFor(() => silent.net.degree >= desired && silent.net.bootstrapLinks === 0, 4 * QUICK, 'the node without a listener to reach desired neighbours')
  assert.ok(silent.server.peers.every((p) => !p.inbound), 'every link of the node without a listener is one it dialled')
  // And it takes part: once no link is coming or going (a flood sent over a link one end has
  // already dropped is lost, by design), its broadcast reaches every other node.
  await settle(all, 1, 500, 4 * QUICK)
  assert.is(components(all), 1, 'one overlay')
  const got = new Set<string>()
  for (const n of [entry, ...others]) n.net.events.on('message', (d) => d.origin === silent.server.id && got.add(n.server.id))
  silent.net.write(Buffer.from('hello from behind a NAT'))
  await waitFor(() => got.size === others.length + 1, QUICK, 'the broadcast to reach everyone')
})

test('a JOIN_OFFER retraces a walk that passed a node twice: it goes back where the walk first came from', async () => {
  const y = await startNode()
  const p = await startRawFloodnet()
  const q = await startRawFloodnet()
  const fromP = await p.link(y)
  const fromQ = await q.link(y)
  // A walk of a requester that does not listen: P → Y → Q (Y's only other neighbour) → Y → P.
  const token = newToken()
  const requester = enode(key(), undefined, undefined)
  await fromP.writeMsg(FloodnetMsg.JoinReq, encodeJoin({ token, requester, hopsLeft: 16 }))
  await waitFor(() => q.received.some((r) => r.msg.code === FloodnetMsg.JoinReq), QUICK, 'Y to pass the walk to Q')
  await fromQ.writeMsg(FloodnetMsg.JoinReq, encodeJoin({ token, requester, hopsLeft: 14 }))
  await waitFor(() => p.received.some((r) => r.msg.code === FloodnetMsg.JoinReq), QUICK, 'Y to pass the walk back to P')
  // The node beyond P accepts: its offer comes back to Y from P, and must not go round the loop.
  const acceptor = enode(key(), '127.0.0.1', 30303)
  await fromP.writeMsg(FloodnetMsg.JoinOffer, encodeOffer({ token, acceptor }))
  await waitFor(() => p.received.some((r) => r.msg.code === FloodnetMsg.JoinOffer), QUICK, 'Y to pass the offer back to P')
  assert.ok(!q.received.some((r) => r.msg.code === FloodnetMsg.JoinOffer), 'one copy, towards the walk\'s first hop')
})

test('sessions floodnet did not make are contacts: they do not count towards the degree and get no floods; a walk accepted over one makes it an overlay link, with no new session', async () => {
  const y = await startNode({ floodnet: { desired: 2, maxDegree: 3 } })
  // Six peers the server is connected to, as discovery's dialer would connect them.
  const raws = await Promise.all(Array.from({ length: 6 }, () => startRawFloodnet()))
  const links = await Promise.all(raws.map((r) => r.link(y, 'contact')))
  await waitFor(() => y.net.contacts.length === 6, QUICK, 'floodnet to run on all six')
  assert.is(y.net.degree, 0)
  assert.equal(y.net.neighbours, [])
  y.net.write(Buffer.from('to the overlay only'))
  assert.is(y.net.engine.stats.sent, 0, 'nothing flooded over a contact')
  // A flood from a contact is refused, and counted.
  await links[0]!.writeMsg(FloodnetMsg.Message, encodeFlood(randomBytes(16), randomBytes(32), 5, Buffer.from('x')))
  await waitFor(() => y.net.engine.stats.dropped['not-neighbour'] === 1, QUICK, 'the flood from a contact to be refused')
  assert.is(y.net.engine.stats.delivered, 0)
  // A one-hop walk of the contact's own: Y, below desired, accepts it on the session there is.
  const token = newToken()
  await links[1]!.writeMsg(FloodnetMsg.JoinReq, encodeJoin({ token, requester: parseEnode(raws[1]!.server.enode), hopsLeft: 1 }))
  await waitFor(() => raws[1]!.received.some((r) => r.msg.code === FloodnetMsg.JoinAck && decodeAck(r.msg.payload) === token), QUICK, "Y's JOIN_ACK on the contact's session")
  assert.equal(y.net.neighbours, [raws[1]!.server.id])
  assert.is(y.server.peerCount, 6, 'no new session')
})

/** Wraps floodnet's protocol to count, per message code, what its run reads and writes. */
function counting(log: { read: number[]; written: number[] }): (protocol: Protocol) => Protocol {
  return (protocol) => ({
    ...protocol,
    run: (peer, rw) =>
      protocol.run(peer, {
        readMsg: () => rw.readMsg(),
        writeMsg: (code, payload) => {
          log.written.push(code)
          return rw.writeMsg(code, payload)
        },
        [Symbol.asyncIterator]: () => {
          const it = rw[Symbol.asyncIterator]()
          return { next: () => it.next().then((r) => (r.done || log.read.push(r.value.code), r)), return: () => it.return!() }
        },
      }),
  })
}

test('stop() means stop: no join rounds on the clock, JOIN_REQs read but not acted on, nothing relayed, writes refused, reads end', async () => {
  const clock = new VirtualClock()
  const dials: number[] = []
  const log = { read: [] as number[], written: [] as number[] }
  const y = await startNode({ server: { clock, transport: recordingDials(dials) }, wrap: counting(log) })
  const p = await startRawFloodnet()
  const q = await startRawFloodnet()
  const toY = await p.link(y)
  await q.link(y)
  y.net.stop()
  const written = log.written.length
  // Longer than the largest join backoff, shorter than the read timeout.
  await clock.advance(20_000)
  assert.is(log.written.length, written, 'no join round ran in 20 virtual seconds')
  const hole = await blackHole()
  await toY.writeMsg(FloodnetMsg.JoinReq, encodeJoin({ token: newToken(), requester: enode(key(), '127.0.0.1', hole.port), hopsLeft: 5 }))
  await toY.writeMsg(FloodnetMsg.Message, encodeFlood(Buffer.alloc(16, 9), Buffer.from(nodeId(key()), 'hex'), 8, Buffer.from('relay me')))
  await waitFor(() => log.read.includes(FloodnetMsg.JoinReq) && log.read.includes(FloodnetMsg.Message), QUICK, 'Y to read both')
  assert.equal(dials, [], 'the JOIN_REQ was not accepted')
  assert.is(log.written.length, written, 'nothing was relayed or passed on')
  assert.throws(() => y.net.write(Buffer.from('x')), (e: unknown) => e instanceof ServerStateError)
  assert.is(await within(y.net.read(), QUICK, 'read'), undefined)
})

test.run()
