// The Server API over real loopback sockets: start and the listening event, enode and
// nodeInfo, connect, the peer set and its events on both sides, stop, static nodes
// (addPeer / removePeer).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { DisconnectError, DiscReason } from '../lib/disconnect.js'
import { parseEnode } from '../lib/enode.js'
import { ServerStateError } from '../lib/errors.js'
import type { Protocol } from '../lib/protocol.js'
import { within } from './support/net.js'
import { cleanup, idleProtocol, newServer, rawDial, nextAdded, nextRemoved, portIn, portOf, QUICK, recordEvents, rejection, sleep, startServer } from './support/servers.js'

test.after.each(cleanup)

/** Two started servers sharing `protocols`, `a` dialled to `b`; resolves with both peers. */
async function connectedPair(protocols: Protocol[] = [idleProtocol()]) {
  const a = await startServer({ name: 'a', protocols })
  const b = await startServer({ name: 'b', protocols })
  const added = nextAdded(b, a.id)
  const aSide = await within(a.connect(b.enode), QUICK, 'a.connect(b)')
  const bSide = await within(added, QUICK, 'peer:added on b')
  return { a, b, aSide, bSide }
}

test('start() resolves once listening; the listening event fired first, with the port', async () => {
  const server = newServer()
  let heard: { host: string; port: number; enode: string } | undefined
  server.events.on('listening', (address) => (heard = address))
  await within(server.start(), QUICK, 'start()')
  assert.ok(heard, 'listening fired before start() resolved')
  assert.ok(heard!.port > 0)
  assert.is(heard!.host, '127.0.0.1')
  assert.is(heard!.enode, server.enode)
  assert.ok(server.running)
})

test('enode parses back to our public key, 127.0.0.1 and the bound port', async () => {
  const server = await startServer()
  const enode = parseEnode(server.enode)
  assert.ok(enode.publicKey.equals(server.publicKey))
  assert.is(enode.id, server.id)
  assert.is(enode.host, '127.0.0.1')
  assert.is(enode.tcpPort, server.nodeInfo().ports.listener)
})

test('nodeInfo() reports id, name, enode, listen address, port and each protocol info', async () => {
  const described: Protocol = { ...idleProtocol('desc'), nodeInfo: () => ({ network: 7 }) }
  const server = await startServer({ name: 'tester/v1', protocols: [described, idleProtocol('plain')] })
  const info = server.nodeInfo()
  const port = portOf(server)
  assert.equal(info, {
    id: server.id,
    name: 'tester/v1',
    enode: server.enode,
    enr: null,
    listenAddr: `127.0.0.1:${port}`,
    ports: { listener: port, discovery: null },
    protocols: { desc: { network: 7 }, plain: 'unknown' },
  })
})

test('with discovery, UDP sits on the TCP port; the enode is discovery\'s and nodeInfo carries the signed record', async () => {
  const server = await startServer({ discovery: true, protocols: [idleProtocol()] })
  const info = server.nodeInfo()
  const port = portOf(server)
  assert.is(info.ports.discovery, port)
  assert.is(info.enode, server.discovery!.enode)
  assert.match(info.enr ?? '', /^enr:/)
  assert.is(parseEnode(info.enr!).id, server.id)
  assert.is(parseEnode(info.enr!).tcpPort, port)
})

test('a dial-only server (listenAddr null) has an enode without address and no listener port', async () => {
  const server = await startServer({ listenAddr: null })
  assert.is(server.enode, `enode://${server.publicKey.toString('hex')}`)
  assert.is(server.nodeInfo().listenAddr, null)
  assert.is(server.nodeInfo().ports.listener, null)
})

test('start() twice rejects with ServerStateError, and so does start() after stop()', async () => {
  const server = await startServer()
  assert.instance(await rejection(server.start(), 'second start()'), ServerStateError)
  await within(server.stop(), QUICK, 'stop()')
  assert.instance(await rejection(server.start(), 'start() after stop()'), ServerStateError)
  assert.not.ok(server.running)
})

test('connect() before start() rejects with ServerStateError', async () => {
  const a = newServer()
  const b = await startServer()
  assert.instance(await rejection(a.connect(b.enode), 'connect() on a new server'), ServerStateError)
})

test('connect(enode) resolves with the Peer; peers, peerCount and peer(id) show it on both sides', async () => {
  const { a, b, aSide, bSide } = await connectedPair()
  assert.is(aSide.id, b.id)
  assert.ok(aSide.publicKey.equals(b.publicKey))
  assert.is(aSide.name, 'b')
  assert.is(bSide.name, 'a')
  assert.is(a.peerCount, 1)
  assert.is(b.peerCount, 1)
  assert.equal(a.peers, [aSide])
  assert.equal(b.peers, [bSide])
  assert.is(a.peer(b.id), aSide)
  assert.is(a.peer(b.id.toUpperCase()), aSide, 'ids are case-insensitive')
  assert.is(a.peer(a.id), undefined)
  assert.is(portIn(aSide.remoteAddress), portOf(b), 'the dialler sees the listener port')
  assert.equal(aSide.protocols, [{ name: 'idle', version: 1, offset: 16 }])
})

test('listenAddr [::1]:0: the enode is bracketed IPv6 and peers connect over it', async () => {
  const a = await startServer({ name: 'a', listenAddr: '[::1]:0', protocols: [idleProtocol()] })
  const b = await startServer({ name: 'b', listenAddr: '[::1]:0', protocols: [idleProtocol()] })
  assert.match(b.enode, /@\[::1\]:\d+$/)
  assert.is(parseEnode(b.enode).host, '::1')
  const peer = await within(a.connect(b.enode), QUICK, 'a.connect(b) over IPv6')
  assert.is(peer.id, b.id)
  assert.match(peer.remoteAddress, /^\[::1\]:\d+$/)
})

test('peer:added reports inbound false on the dialling side and true on the listening side', async () => {
  const { aSide, bSide } = await connectedPair()
  assert.is(aSide.inbound, false)
  assert.is(bSide.inbound, true)
})

test('peer.disconnect(): peer:removed on both sides, remote false here and true there, reason requested', async () => {
  const { a, b, aSide } = await connectedPair()
  const onA = nextRemoved(a)
  const onB = nextRemoved(b)
  aSide.disconnect()
  const [here, there] = await within(Promise.all([onA, onB]), QUICK, 'peer:removed on both sides')
  assert.is(here.peer, aSide)
  assert.is(here.reason, DiscReason.Requested)
  assert.is(here.remote, false)
  assert.is(here.reasonText, 'disconnect requested')
  assert.is(there.reason, DiscReason.Requested)
  assert.is(there.remote, true)
  assert.is(there.reasonText, 'disconnect requested')
  assert.is(a.peerCount, 0, 'a removed peer is gone from the set when the event fires')
  assert.is(b.peerCount, 0)
  assert.is(a.peer(b.id), undefined)
})

test('stop() sends "client quitting" to every peer: each remote sees reason Quitting, remote true', async () => {
  const hub = await startServer({ protocols: [idleProtocol()] })
  const spokes = [await startServer({ protocols: [idleProtocol()] }), await startServer({ protocols: [idleProtocol()] })]
  for (const s of spokes) {
    const added = nextAdded(hub, s.id)
    await within(Promise.all([s.connect(hub.enode), added]), QUICK, 'spoke and hub to add each other')
  }
  const removed = spokes.map((s) => nextRemoved(s, hub.id))
  await within(hub.stop(), QUICK, 'hub.stop()')
  for (const event of await within(Promise.all(removed), QUICK, 'peer:removed on every spoke')) {
    assert.is(event.reason, DiscReason.Quitting)
    assert.is(event.reasonText, 'client quitting')
    assert.is(event.remote, true)
  }
  assert.is(hub.peerCount, 0)
  assert.not.ok(hub.running)
})

test('stop() resolves only after every protocol run has ended, finally blocks included', async () => {
  let finallyDone = 0
  const slowToEnd: Protocol = {
    name: 'slow',
    version: 1,
    length: 1,
    async run(_peer, rw) {
      try {
        for await (const msg of rw) void msg
      } finally {
        await sleep(30) // cleanup that takes a while: stop() must wait for it
        finallyDone++
      }
    },
  }
  const { a, b } = await connectedPair([slowToEnd])
  const bEnded = nextRemoved(b)
  await within(a.stop(), QUICK, 'a.stop()')
  assert.is(finallyDone, 1, "a's run had finished its finally block when stop() resolved")
  await within(bEnded, QUICK, 'b to see the disconnect')
})

test('stop() during a dial: the dial has rejected with ServerStateError by the time stop() resolves', async () => {
  const a = await startServer({ protocols: [idleProtocol()] })
  const b = await startServer({ protocols: [idleProtocol()] })
  let outcome: unknown = 'still pending'
  const dial = a.connect(b.enode).then(
    () => (outcome = 'resolved'),
    (err: unknown) => (outcome = err),
  )
  await within(a.stop(), QUICK, 'a.stop()')
  assert.instance(outcome, ServerStateError, `the dial was ${String(outcome)}`)
  await dial
  assert.is(a.peerCount, 0)
})

test('stop() during the Hello exchange tells the half-connected remote "client quitting"', async () => {
  const a = await startServer({ name: 'a', protocols: [idleProtocol()] })
  const raw = await rawDial(a, { hello: false })
  await within(raw.hello, QUICK, "the server's Hello")
  await within(a.stop(), QUICK, 'stop()')
  assert.is(await within(raw.disconnect, QUICK, 'a Disconnect'), DiscReason.Quitting)
})

test('stop() twice is harmless; stop() on a server never started resolves', async () => {
  const server = await startServer()
  await within(Promise.all([server.stop(), server.stop()]), QUICK, 'two stop() calls')
  await within(newServer().stop(), QUICK, 'stop() on a new server')
})

test('addPeer(enode) dials a static node and redials it after the remote disconnects us', async () => {
  const a = await startServer({ protocols: [idleProtocol()] })
  const b = await startServer({ protocols: [idleProtocol()] })
  const first = Promise.all([nextAdded(a, b.id), nextAdded(b, a.id)])
  a.addPeer(b.enode)
  const [peer] = await within(first, QUICK, 'the static node to connect')
  assert.is(peer.inbound, false)

  const dropped = nextRemoved(a, b.id)
  const again = nextAdded(a, b.id)
  b.peer(a.id)!.disconnect()
  const event = await within(dropped, QUICK, 'the drop')
  assert.is(event.remote, true)
  assert.is(event.reason, DiscReason.Requested)
  const second = await within(again, QUICK, 'the redial')
  assert.is.not(second, peer)
  assert.is(second.inbound, false, 'a dialled again')
  assert.is(a.peer(b.id), second)
})

test('addPeer() before start() dials the static node once the server starts', async () => {
  const b = await startServer({ protocols: [idleProtocol()] })
  const a = newServer({ protocols: [idleProtocol()] })
  a.addPeer(b.enode)
  const added = nextAdded(a, b.id)
  await within(a.start(), QUICK, 'a.start()')
  const peer = await within(added, QUICK, 'the static node to connect')
  assert.is(peer.inbound, false)
})

test('removePeer(id) disconnects with reason Requested and stops redialling', async () => {
  const a = await startServer({ protocols: [idleProtocol()] })
  const b = await startServer({ protocols: [idleProtocol()] })
  const added = nextAdded(b, a.id)
  a.addPeer(b.enode)
  await within(added, QUICK, 'the static node to connect')
  const bEvents = recordEvents(b)
  const onA = nextRemoved(a, b.id)
  const onB = nextRemoved(b, a.id)
  a.removePeer(b.id)
  const [here, there] = await within(Promise.all([onA, onB]), QUICK, 'peer:removed on both sides')
  assert.is(here.reason, DiscReason.Requested)
  assert.is(here.remote, false)
  assert.is(there.reason, DiscReason.Requested)
  assert.is(there.remote, true)
  // redialBackoff is [20, 60] ms: several redials would have landed in this window
  await sleep(300)
  assert.is(a.peerCount, 0)
  assert.is(bEvents.added.length, 0, 'a did not dial b again')
})

test('connect() to an already connected node resolves with the same Peer, concurrent calls too', async () => {
  const a = await startServer({ protocols: [idleProtocol()] })
  const b = await startServer({ protocols: [idleProtocol()] })
  const bAdded = nextAdded(b, a.id)
  const [p1, p2] = await within(Promise.all([a.connect(b.enode), a.connect(b.enode)]), QUICK, 'two concurrent connects')
  await within(bAdded, QUICK, 'b to add a')
  assert.is(p1, p2)
  assert.is(await within(a.connect(b.enode), QUICK, 'a third connect'), p1)
  assert.is(a.peerCount, 1)
  assert.is(b.peerCount, 1)
})

test('connect() to our own enode rejects with DisconnectError, reason Self', async () => {
  const a = await startServer()
  const err = await rejection(a.connect(a.enode), 'connect(own enode)')
  assert.instance(err, DisconnectError)
  assert.is((err as DisconnectError).reason, DiscReason.Self)
  assert.match(err.message, 'connected to self')
  assert.is(a.peerCount, 0)
})

test('bootnodes are dialled at start', async () => {
  const b = await startServer({ protocols: [idleProtocol()] })
  const added = nextAdded(b)
  const a = await startServer({ protocols: [idleProtocol()], bootnodes: [b.enode] })
  const peer = await within(added, QUICK, 'the bootnode to see us')
  assert.is(peer.id, a.id)
  assert.is(peer.inbound, true)
})

test('staticNodes are dialled at start', async () => {
  const b = await startServer({ protocols: [idleProtocol()] })
  const added = nextAdded(b)
  const a = await startServer({ protocols: [idleProtocol()], staticNodes: [b.enode] })
  const peer = await within(added, QUICK, 'the static node to see us')
  assert.is(peer.id, a.id)
})

test.run()
