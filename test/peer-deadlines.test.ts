// Deadlines on the virtual clock, over real loopback sockets: the read deadline runs from
// the last frame and fires exactly then; input that arrived but is still unread (an
// event-loop stall) never counts as silence; the RLPx handshake and Hello share one
// deadline; before Hello a frame over 2 KiB is refused from its header.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { VirtualClock } from '../lib/clock.js'
import { generatePrivateKey } from '../lib/crypto/index.js'
import { DiscReason } from '../lib/disconnect.js'
import { RLPxConnection, type ByteStream } from '../lib/rlpx/connection.js'
import { waitFor, within } from './support/net.js'
import { cleanup, idleProtocol, nextAdded, QUICK, rawDial, rawSocket, startServer } from './support/servers.js'

test.after.each(cleanup)

const EMPTY_LIST = Uint8Array.of(0xc0)
const caps = [{ name: 'idle', version: 1 }]
/** Pings far apart, so only the read deadline is in play. */
const NO_PINGS = { pingInterval: 1_000_000, random: () => 0.99 }

test('a silent peer is dropped with "read timeout" exactly readTimeout after its last frame, not a millisecond before', async () => {
  const clock = new VirtualClock()
  const server = await startServer({ protocols: [idleProtocol()], clock, readTimeout: 30_000, ...NO_PINGS })
  const added = nextAdded(server)
  const raw = await rawDial(server, { hello: { caps } })
  const peer = await within(added, QUICK, 'the peer to be added')
  await clock.advance(20_000)
  // A frame moves the deadline: 30 s from now, not from the start.
  raw.conn.send(2, EMPTY_LIST)
  await waitFor(() => raw.received.some((m) => m.code === 3), QUICK, 'the Pong')
  await clock.advance(29_999)
  assert.not.ok(peer.closed, 'still connected 1 ms before the deadline')
  await clock.advance(1)
  assert.ok(peer.closed, 'dropped at the deadline')
  assert.is(peer.end?.reason, DiscReason.ReadTimeout)
  assert.is(await within(raw.disconnect, QUICK, 'Disconnect'), DiscReason.ReadTimeout)
})

test('input that arrived before the deadline but is still unread when it fires (an event-loop stall) is not silence', async () => {
  const clock = new VirtualClock()
  const server = await startServer({ protocols: [idleProtocol()], clock, readTimeout: 30_000, ...NO_PINGS })
  const added = nextAdded(server)
  const raw = await rawDial(server, { hello: { caps } })
  const peer = await within(added, QUICK, 'the peer to be added')
  await clock.advance(29_000)
  raw.conn.send(2, EMPTY_LIST)
  raw.conn.flush()
  // Block this process: the Ping now sits in the server's kernel buffer, unread, while the
  // deadline passes and its timer fires before the event loop could read the socket.
  const until = Date.now() + 50
  while (Date.now() < until);
  clock.set(clock.now() + 1000)
  clock.fireDue()
  await waitFor(() => raw.received.some((m) => m.code === 3), QUICK, 'the Pong')
  assert.not.ok(peer.closed, 'the late-read Ping counted: the peer stays')
  // And the deadline now runs from that Ping.
  await clock.advance(29_999)
  assert.not.ok(peer.closed)
  await clock.advance(1)
  assert.ok(peer.closed)
})

test('the RLPx handshake and Hello share one deadline: a slot is held at most handshakeTimeout from accept', async () => {
  const clock = new VirtualClock()
  const server = await startServer({ protocols: [idleProtocol()], clock, handshakeTimeout: 5000 })
  const socket = await rawSocket(server)
  let closed = false
  socket.once('close', () => (closed = true))
  await clock.advance(3000)
  const conn = new RLPxConnection({ socket, privateKey: generatePrivateKey(), remotePublicKey: server.publicKey })
  await within(conn.handshake(), QUICK, 'the RLPx handshake')
  // No Hello from us. 3 s are gone: 2 s remain for the Hello, not a fresh 5 s.
  await clock.advance(1999)
  assert.not.ok(closed, 'open 1 ms before the shared deadline')
  await clock.advance(1)
  await within(new Promise<void>((resolve) => (closed ? resolve() : socket.once('close', () => resolve()))), QUICK, 'the server to close at the shared deadline')
})

test('before Hello, a frame announcing more than 2 KiB is refused from its header: Disconnect "breach of protocol" without waiting for the body', async () => {
  const server = await startServer({ protocols: [idleProtocol()] })
  const socket = await rawSocket(server)
  // Writes pass through, except that the next frame is cut after its 32-byte header.
  let cutNext = false
  const stream = new Proxy(socket, {
    get(target, prop) {
      if (prop === 'write') {
        return (chunk: Uint8Array) => {
          if (!cutNext) return target.write(chunk)
          cutNext = false
          return target.write(chunk.subarray(0, 32))
        }
      }
      const value = Reflect.get(target, prop, target) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    },
  }) as unknown as ByteStream
  const privateKey = generatePrivateKey()
  const conn = new RLPxConnection({ socket: stream, privateKey, remotePublicKey: server.publicKey })
  await within(conn.handshake(), QUICK, 'the RLPx handshake')
  const disconnect = new Promise<number>((resolve) => {
    conn.start({ onMessage: (code, payload) => code === 1 && resolve(payload[payload.length - 1]!), onClose: () => {} })
  })
  cutNext = true
  conn.send(0, Buffer.alloc(1 << 20, 1))
  conn.flush()
  assert.is(await within(disconnect, QUICK, 'the Disconnect'), DiscReason.ProtocolError)
})

test.run()
