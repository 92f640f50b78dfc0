// Who gets in, over real loopback sockets: the p2p base protocol checks (self, already
// connected, simultaneous dials, too many peers, useless peer, identity in Hello, ping
// keepalive and read timeout) and the limits (maxPeers, inbound share, maxPendingPeers,
// trusted nodes). Misbehaving remotes are raw RLPx sessions driven by hand.
import type { Socket } from 'node:net'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { VirtualClock } from '../lib/clock.js'
import { generatePrivateKey, publicKeyOf } from '../lib/crypto/index.js'
import { decodeDisconnectReason, DisconnectError, DiscReason, reasonText } from '../lib/disconnect.js'
import { nodeId } from '../lib/enode.js'
import type { Peer } from '../lib/peer.js'
import type { Server } from '../lib/server.js'
import { waitFor, within } from './support/net.js'
import {
  cleanup,
  idleProtocol,
  newServer,
  nextAdded,
  nextRemoved,
  portIn,
  portOf,
  QUICK,
  rawDial,
  rawSocket,
  recordEvents,
  rejection,
  sleep,
  startServer,
} from './support/servers.js'

test.after.each(cleanup)

/** Asserts `err` is a DisconnectError with `reason`, chosen by the remote side when `remote`. */
function assertDisconnect(err: Error, reason: DiscReason, remote: boolean): void {
  assert.instance(err, DisconnectError, err.message)
  const d = err as DisconnectError
  assert.is(d.reason, reason, `reason: ${d.message}`)
  assert.is(d.remote, remote, `remote: ${d.message}`)
}

/** `from` dials `to` and both sides add the peer. */
async function link(from: Server, to: Server): Promise<{ out: Peer; in: Peer }> {
  const added = nextAdded(to, from.id)
  const [out, inbound] = await within(Promise.all([from.connect(to.enode), added]), QUICK, 'both sides to add the peer')
  return { out, in: inbound }
}

/** Resolves once `socket` has been closed by either side. */
function closedSocket(socket: Socket): Promise<void> {
  return socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()))
}

const proto = idleProtocol()

// ---------------------------------------------------------------------------------------
// Base protocol checks

test('every Disconnect reason has the spec wording; events and errors use it', () => {
  const words: [DiscReason, string][] = [
    [DiscReason.Requested, 'disconnect requested'],
    [DiscReason.NetworkError, 'network error'],
    [DiscReason.ProtocolError, 'breach of protocol'],
    [DiscReason.UselessPeer, 'useless peer'],
    [DiscReason.TooManyPeers, 'too many peers'],
    [DiscReason.AlreadyConnected, 'already connected'],
    [DiscReason.IncompatibleVersion, 'incompatible p2p protocol version'],
    [DiscReason.InvalidIdentity, 'invalid node identity'],
    [DiscReason.Quitting, 'client quitting'],
    [DiscReason.UnexpectedIdentity, 'unexpected identity'],
    [DiscReason.Self, 'connected to self'],
    [DiscReason.ReadTimeout, 'read timeout'],
    [DiscReason.SubprotocolError, 'subprotocol error'],
  ]
  for (const [reason, text] of words) {
    assert.is(reasonText(reason), text)
    assert.match(new DisconnectError(reason, true).message, `${text} (by the remote side)`)
  }
  assert.is(reasonText(0x42), 'unknown reason 0x42')
  assert.is(decodeDisconnectReason(Uint8Array.of(0xc1, 0x04)), 4, '[reason]')
  assert.is(decodeDisconnectReason(Uint8Array.of(0x04)), 4, 'bare reason, as old clients send')
  assert.is(decodeDisconnectReason(Uint8Array.of(0xc1, 0x80)), 0, 'reason 0')
  assert.is(decodeDisconnectReason(new Uint8Array(0)), undefined)
})

test('a raw session proving our own key is refused with Disconnect "connected to self"', async () => {
  const privateKey = generatePrivateKey()
  const server = await startServer({ privateKey, protocols: [proto] })
  const raw = await rawDial(server, { privateKey, hello: { caps: [{ name: 'idle', version: 1 }] } })
  assert.is(await within(raw.disconnect, QUICK, 'Disconnect'), DiscReason.Self)
  await within(raw.closed, QUICK, 'the server to close the socket')
  assert.is(server.peerCount, 0)
})

test('a second raw session from a connected node is refused with "already connected"; the first survives', async () => {
  const bKey = generatePrivateKey()
  const a = await startServer({ protocols: [proto] })
  const b = await startServer({ privateKey: bKey, protocols: [proto] })
  await link(b, a) // b dialled: a's peer is inbound, as the raw duplicate will be
  const events = recordEvents(a)
  const raw = await rawDial(a, { privateKey: bKey, hello: { caps: [{ name: 'idle', version: 1 }] } })
  assert.is(await within(raw.disconnect, QUICK, 'Disconnect'), DiscReason.AlreadyConnected)
  await within(raw.closed, QUICK, 'the server to close the duplicate')
  assert.is(a.peerCount, 1)
  assert.not.ok(a.peer(b.id)!.closed)
  assert.equal(events.removed, [])
})

/**
 * What each side of a simultaneous dial currently holds: the live sessions and, when there
 * is exactly one on each side, whether it is the same TCP connection (outbound on one side
 * iff inbound on the other) and which node dialled it.
 */
function dialState(a: Server, b: Server, aEvents: ReturnType<typeof recordEvents>, bEvents: ReturnType<typeof recordEvents>) {
  const live = (events: typeof aEvents): number => events.added.length - events.removed.length
  const onA = a.peer(b.id)
  const onB = b.peer(a.id)
  const single = live(aEvents) === 1 && live(bEvents) === 1 && onA !== undefined && onB !== undefined && !onA.closed && !onB.closed
  return {
    single,
    same: single && onA.inbound !== onB.inbound,
    dialler: single ? (onA.inbound ? b : a) : undefined,
    describe: () => `a: ${live(aEvents)} live, ${onA ? `${onA.inbound ? 'in' : 'out'}bound${onA.closed ? ' closed' : ''}` : 'none'}; b: ${live(bEvents)} live, ${onB ? `${onB.inbound ? 'in' : 'out'}bound${onB.closed ? ' closed' : ''}` : 'none'}`,
  }
}

for (let round = 1; round <= 10; round++) {
  test(`simultaneous dials (round ${round}): both sides end with one and the same connection`, async () => {
    const a = await startServer({ protocols: [proto] })
    const b = await startServer({ protocols: [proto] })
    const aEvents = recordEvents(a)
    const bEvents = recordEvents(b)
    // Both dials start in the same turn of the event loop; either may lose.
    await within(Promise.allSettled([a.connect(b.enode), b.connect(a.enode)]), QUICK, 'both connects to settle')
    // The lib keeps the connection the lower node id dialled; until that one has finished its
    // handshake on both sides the other may briefly look like the survivor, so wait for the end state.
    const lower = a.id < b.id ? a : b
    const settled = (): boolean => {
      const st = dialState(a, b, aEvents, bEvents)
      return st.same && st.dialler === lower
    }
    await waitFor(settled, QUICK, 'one shared connection').catch(() => {
      assert.unreachable(`did not settle on the connection ${lower === a ? 'a' : 'b'} dialled: ${dialState(a, b, aEvents, bEvents).describe()}`)
    })
    const [onA, onB] = [a.peer(b.id)!, b.peer(a.id)!]
    const diallerPeer = lower.peer((lower === a ? b : a).id)!
    assert.is(portIn(diallerPeer.remoteAddress), portOf(lower === a ? b : a), "the dialler's peer goes to the listener's port")
    // Whatever else was in flight has ended by now; nothing further may disturb the survivor.
    await sleep(50)
    assert.ok(settled(), dialState(a, b, aEvents, bEvents).describe())
    assert.is(a.peer(b.id), onA)
    assert.is(b.peer(a.id), onB)
    assert.is(a.peerCount, 1)
    assert.is(b.peerCount, 1)
  })
}

test('with maxPeers 1 and one peer, a third node is refused: its connect() rejects with "too many peers" from the remote', async () => {
  const a = await startServer({ protocols: [proto], maxPeers: 1 })
  const b = await startServer({ protocols: [proto] })
  const c = await startServer({ protocols: [proto] })
  await link(a, b)
  const err = await rejection(c.connect(a.enode), 'c.connect(a)')
  assertDisconnect(err, DiscReason.TooManyPeers, true)
  assert.match(err.message, 'too many peers (by the remote side)')
  assert.is(a.peerCount, 1)
  assert.is(c.peerCount, 0)
})

test('a raw peer sharing no capability is refused with "useless peer"', async () => {
  const server = await startServer({ protocols: [proto] })
  const raw = await rawDial(server, { hello: { caps: [{ name: 'other', version: 1 }] } })
  await within(raw.hello, QUICK, "the server's Hello")
  assert.is(await within(raw.disconnect, QUICK, 'Disconnect'), DiscReason.UselessPeer)
})

test('servers sharing no capability: the dialler rejects with "useless peer", neither adds a peer', async () => {
  const a = await startServer({ protocols: [idleProtocol('foo')] })
  const b = await startServer({ protocols: [idleProtocol('bar')] })
  const err = await rejection(a.connect(b.enode), 'a.connect(b)')
  assert.instance(err, DisconnectError)
  assert.is((err as DisconnectError).reason, DiscReason.UselessPeer)
  assert.is(a.peerCount, 0)
  assert.is(b.peerCount, 0)
})

test('servers without protocols accept each other: "useless peer" only applies when there are protocols', async () => {
  const a = await startServer()
  const b = await startServer()
  await link(a, b)
  assert.equal(a.peer(b.id)!.protocols, [])
})

test('a Hello claiming another key than the handshake proved is refused with "unexpected identity"', async () => {
  const server = await startServer({ protocols: [proto] })
  const raw = await rawDial(server, { hello: { caps: [{ name: 'idle', version: 1 }], nodeId: publicKeyOf(generatePrivateKey()) } })
  assert.is(await within(raw.disconnect, QUICK, 'Disconnect'), DiscReason.UnexpectedIdentity)
  assert.is(server.peerCount, 0)
})

test('a Hello with an all-zero or short nodeId is refused with "invalid node identity"', async () => {
  const server = await startServer({ protocols: [proto] })
  for (const nodeId of [Buffer.alloc(64), publicKeyOf(generatePrivateKey()).subarray(0, 63)]) {
    const raw = await rawDial(server, { hello: { caps: [{ name: 'idle', version: 1 }], nodeId } })
    assert.is(await within(raw.disconnect, QUICK, 'Disconnect'), DiscReason.InvalidIdentity)
  }
  assert.is(server.peerCount, 0)
})

// Keep-alive on the virtual clock: with random() fixed at 0.5 the first Ping goes out at
// three quarters of the interval and the next ones a whole interval apart.
const KEEPALIVE = { protocols: [proto], pingInterval: 10_000, readTimeout: 30_000, random: () => 0.5 }

test('a raw peer that answers nothing after Hello is pinged, then dropped with "read timeout" 30 s after Hello', async () => {
  const clock = new VirtualClock()
  const server = await startServer({ ...KEEPALIVE, clock })
  const removed = nextRemoved(server)
  const added = nextAdded(server)
  const raw = await rawDial(server, { hello: { caps: [{ name: 'idle', version: 1 }] }, answerPings: false })
  const peer = await within(added, QUICK, 'peer:added')
  await clock.advance(29_999)
  assert.not.ok(peer.closed)
  await clock.advance(1)
  assert.is(await within(raw.disconnect, QUICK, 'Disconnect'), DiscReason.ReadTimeout)
  assert.is(raw.received.filter((m) => m.code === 2).length, 3, 'pinged at 7.5, 17.5 and 27.5 s before giving up')
  const event = await within(removed, QUICK, 'peer:removed')
  assert.is(event.reason, DiscReason.ReadTimeout)
  assert.is(event.reasonText, 'read timeout')
  assert.is(event.remote, false)
})

test('the server answers Ping with Pong', async () => {
  const server = await startServer({ protocols: [proto] })
  const raw = await rawDial(server, { hello: { caps: [{ name: 'idle', version: 1 }] } })
  await within(raw.hello, QUICK, "the server's Hello")
  raw.conn.send(2, Uint8Array.of(0xc0))
  await waitFor(() => raw.received.some((m) => m.code === 3), QUICK, 'Pong')
  assert.equal([...raw.received.find((m) => m.code === 3)!.payload], [0xc0])
})

test('a raw peer that only answers Pings stays connected across many read timeouts', async () => {
  const clock = new VirtualClock()
  const server = await startServer({ ...KEEPALIVE, clock })
  const events = recordEvents(server)
  const added = nextAdded(server)
  const raw = await rawDial(server, { hello: { caps: [{ name: 'idle', version: 1 }] } })
  const peer = await within(added, QUICK, 'peer:added')
  // Ten Pings over 97.5 virtual seconds (three read timeouts); after each, wait for its Pong to land.
  await clock.advance(7500)
  for (let i = 1; i <= 10; i++) {
    await waitFor(() => raw.received.filter((m) => m.code === 2).length === i, QUICK, `Ping ${i}`)
    await waitFor(() => peer.lastReceivedAt === clock.now(), QUICK, `Pong ${i} at the server`)
    if (i < 10) await clock.advance(10_000)
  }
  assert.equal(events.removed, [])
  assert.is(server.peerCount, 1)
})

test('a peer that pings us is answered and not pinged: its Ping and our Pong serve both read deadlines', async () => {
  const clock = new VirtualClock()
  const server = await startServer({ ...KEEPALIVE, clock })
  const events = recordEvents(server)
  const added = nextAdded(server)
  const raw = await rawDial(server, { hello: { caps: [{ name: 'idle', version: 1 }] } })
  await within(added, QUICK, 'peer:added')
  // The raw peer pings every 7 s, before the server's own first Ping (7.5 s) and then always
  // less than an interval after the last one: the server only answers. TCP keeps order, so
  // no Ping of the server's came before the Pong counted.
  for (let i = 1; i <= 12; i++) {
    await clock.advance(7000)
    raw.conn.send(2, Uint8Array.of(0xc0))
    await waitFor(() => raw.received.filter((m) => m.code === 3).length === i, QUICK, `Pong ${i}`)
  }
  assert.is(raw.received.filter((m) => m.code === 2).length, 0, 'no Ping in 84 s')
  // Once the raw peer falls silent, the server pings a whole interval after the last Ping.
  await clock.advance(10_000)
  await waitFor(() => raw.received.filter((m) => m.code === 2).length === 1, QUICK, 'the Ping an interval later')
  assert.equal(events.removed, [])
})

test('two servers with the same ping interval and read timeout stay connected across many timeouts', async () => {
  const clock = new VirtualClock()
  const a = await startServer({ ...KEEPALIVE, clock })
  const b = await startServer({ ...KEEPALIVE, clock })
  const { out, in: inbound } = await link(a, b)
  const aEvents = recordEvents(a)
  const bEvents = recordEvents(b)
  await clock.advance(7500)
  for (let i = 0; i < 10; i++) {
    // Both pinged at this instant: each hears the other's Pong (and Ping) before time moves on.
    await waitFor(() => out.lastReceivedAt === clock.now() && inbound.lastReceivedAt === clock.now(), QUICK, `round ${i}: traffic both ways`)
    await clock.advance(10_000)
  }
  assert.equal(aEvents.removed, [])
  assert.equal(bEvents.removed, [])
  assert.is(a.peerCount, 1)
  assert.is(b.peerCount, 1)
})

// ---------------------------------------------------------------------------------------
// Limits

test('maxPeers counts dialled peers too: a full server refuses to dial with a local "too many peers"', async () => {
  // 2 slots, ratio 2: one inbound and one outbound
  const a = await startServer({ protocols: [proto], maxPeers: 2, dialRatio: 2 })
  const [b, c, d] = [await startServer({ protocols: [proto] }), await startServer({ protocols: [proto] }), await startServer({ protocols: [proto] })]
  await link(b, a)
  await link(a, c)
  assertDisconnect(await rejection(a.connect(d.enode), 'a.connect(d)'), DiscReason.TooManyPeers, false)
  assertDisconnect(await rejection(d.connect(a.enode), 'd.connect(a)'), DiscReason.TooManyPeers, true)
  assert.is(a.peerCount, 2)
})

test('inbound peers stop at maxPeers − floor(maxPeers / dialRatio); dials still fill the rest', async () => {
  const a = await startServer({ protocols: [proto], maxPeers: 2, dialRatio: 2 })
  const [b, c] = [await startServer({ protocols: [proto] }), await startServer({ protocols: [proto] })]
  await link(b, a)
  assertDisconnect(await rejection(c.connect(a.enode), 'c.connect(a)'), DiscReason.TooManyPeers, true)
  assert.is(a.peerCount, 1, 'refused although a slot is free: it is kept for dials')
  await link(a, c)
  assert.is(a.peerCount, 2)
})

test('maxPendingPeers: connections beyond it wait in a backlog as long again; one more is closed at once', async () => {
  const server = await startServer({ protocols: [proto], maxPendingPeers: 2, acceptBacklog: 2, handshakeTimeout: 30_000 })
  // Two hold the handshake slots, two wait in the backlog.
  const idle = [await rawSocket(server), await rawSocket(server), await rawSocket(server), await rawSocket(server)]
  const idleEnded = idle.map(() => false)
  idle.forEach((s, i) => s.once('close', () => (idleEnded[i] = true)))
  const extra = await rawSocket(server)
  await within(closedSocket(extra), QUICK, 'the server to close the connection over slots and backlog')
  assert.equal(idleEnded, [false, false, false, false], 'the connections in their handshake or waiting for one are still open')
  // Waiting connections are not read, so the server sees them close only when their turn
  // comes: a real peer may be refused until then, and gets in within a retry or two.
  for (const s of idle) s.destroy()
  const peer = await startServer({ protocols: [proto] })
  const deadline = Date.now() + QUICK
  for (;;) {
    const refused = await within(peer.connect(server.enode), QUICK, 'a dial after the slots freed up').then(
      () => false,
      () => true,
    )
    if (!refused) break
    if (Date.now() > deadline) assert.unreachable('no dial got in after the pending connections closed')
    await sleep(10)
  }
  assert.is(peer.peerCount, 1)
})

test('a burst of simultaneous dials waits in the accept backlog: every one is established, none refused', async () => {
  const server = await startServer({ protocols: [proto], maxPeers: 40, maxPendingPeers: 2 })
  const dialers = await Promise.all(Array.from({ length: 24 }, () => startServer({ protocols: [proto] })))
  const peers = await within(Promise.all(dialers.map((d) => d.connect(server.enode))), 4 * QUICK, '24 dials through 2 handshake slots')
  assert.is(peers.length, 24)
  await waitFor(() => server.peerCount === 24, QUICK, 'the server to add all 24')
})

test('dials beyond maxPendingPeers wait for a free slot instead of failing', async () => {
  const a = await startServer({ protocols: [proto], maxPendingPeers: 1 })
  const others = [await startServer({ protocols: [proto] }), await startServer({ protocols: [proto] }), await startServer({ protocols: [proto] })]
  const peers = await within(Promise.all(others.map((o) => a.connect(o.enode))), QUICK, 'three dials through one slot')
  assert.equal(
    peers.map((p) => p.id),
    others.map((o) => o.id),
  )
  assert.is(a.peerCount, 3)
})

test('a trusted node (by id) is admitted above maxPeers; an untrusted one is not', async () => {
  const trustedKey = generatePrivateKey()
  const a = await startServer({ protocols: [proto], maxPeers: 1, trustedNodes: [nodeId(publicKeyOf(trustedKey))] })
  const [b, c] = [await startServer({ protocols: [proto] }), await startServer({ protocols: [proto] })]
  const trusted = await startServer({ privateKey: trustedKey, protocols: [proto] })
  await link(a, b)
  assertDisconnect(await rejection(c.connect(a.enode), 'c.connect(a)'), DiscReason.TooManyPeers, true)
  await link(trusted, a)
  assert.is(a.peerCount, 2)
  assert.ok(a.peer(trusted.id)!.trusted)
  assert.not.ok(a.peer(b.id)!.trusted)
})

test('trusted peers do not count against maxPeers: with a trusted peer connected, a dial still gets the slot', async () => {
  const trustedKey = generatePrivateKey()
  const a = await startServer({ protocols: [proto], maxPeers: 1, trustedNodes: [nodeId(publicKeyOf(trustedKey))] })
  const trusted = await startServer({ privateKey: trustedKey, protocols: [proto] })
  const b = await startServer({ protocols: [proto] })
  await link(trusted, a)
  await link(a, b)
  assert.is(a.peerCount, 2)
  const c = await startServer({ protocols: [proto] })
  assertDisconnect(await rejection(a.connect(c.enode), 'a.connect(c)'), DiscReason.TooManyPeers, false)
})

test('a trusted node given by enode URL is admitted even with maxPeers 0', async () => {
  const trusted = await startServer({ protocols: [proto] })
  const a = newServer({ protocols: [proto], maxPeers: 0, trustedNodes: [trusted.enode] })
  await within(a.start(), QUICK, 'a.start()')
  const c = await startServer({ protocols: [proto] })
  assertDisconnect(await rejection(c.connect(a.enode), 'c.connect(a)'), DiscReason.TooManyPeers, true)
  await link(trusted, a)
  assert.is(a.peerCount, 1)
})

test.run()
