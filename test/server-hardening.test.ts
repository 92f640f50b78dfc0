// The server under misuse and hostile input, over real loopback sockets: the per-address
// inbound throttle and netrestrict (through a transport that reports any remote address,
// on the virtual clock); errors say who chose them; and the small defects — a failed
// start() can be retried, connect() after disconnect() dials anew, a throwing listener
// does not crash the process, typed dial errors.
import { createServer as createNetServer } from 'node:net'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { VirtualClock } from '../lib/clock.js'
import { generatePrivateKey } from '../lib/crypto/index.js'
import { DiscReason, reasonForError } from '../lib/disconnect.js'
import {
  DialError,
  FrameMacError,
  HandshakeRepeatedError,
  HandshakeTimeoutError,
  InvalidMessageCodeError,
  MessageDecodeError,
  MessageTooLargeError,
  ServerStateError,
  WriteBufferFullError,
  WriteTimeoutError,
} from '../lib/errors.js'
import { RLPxConnection, type ByteStream } from '../lib/rlpx/connection.js'
import { Server } from '../lib/server.js'
import { tcpTransport } from '../lib/tcp-transport.js'
import type { Connection, TransportFactory } from '../lib/transport.js'
import { waitFor, within } from './support/net.js'
import { cleanup, idleProtocol, nextAdded, nextRemoved, QUICK, rawDial, rawSocket, rejection, startServer } from './support/servers.js'

test.after.each(cleanup)

/** TCP, except that every inbound connection reports `address.ip` as its remote address. */
function spoofing(address: { ip: string }): TransportFactory {
  return (context) => {
    const tcp = tcpTransport(context)
    return {
      ...tcp,
      listen: (host, port, accept, onError) =>
        tcp.listen(host, port, (conn) => {
          const ip = address.ip
          accept(new Proxy(conn, { get: (target, prop) => (prop === 'remoteIp' ? ip : bindMember(target, prop)) }))
        }, onError),
    }
  }
}

function bindMember(target: Connection, prop: string | symbol): unknown {
  const value = Reflect.get(target, prop, target) as unknown
  return typeof value === 'function' ? value.bind(target) : value
}

/** Resolves true when the server closes `socket` before answering a handshake, false when it completes one. */
async function refusedBeforeHandshake(server: Server): Promise<boolean> {
  const socket = await rawSocket(server)
  const conn = new RLPxConnection({ socket, privateKey: generatePrivateKey(), remotePublicKey: server.publicKey })
  return conn.handshake().then(
    () => false,
    () => true,
  )
}

test('inbound throttle: a public address that connected within 30 s is refused before the handshake; after 30 s it is let in', async () => {
  const clock = new VirtualClock()
  const address = { ip: '203.0.113.7' }
  const server = await startServer({ protocols: [idleProtocol()], clock, transport: spoofing(address) })
  assert.not.ok(await refusedBeforeHandshake(server), 'first connection from 203.0.113.7')
  assert.ok(await refusedBeforeHandshake(server), 'again at once: refused')
  address.ip = '198.51.100.1'
  assert.not.ok(await refusedBeforeHandshake(server), 'another address is not affected')
  address.ip = '203.0.113.7'
  await clock.advance(29_999)
  assert.ok(await refusedBeforeHandshake(server), 'refused 1 ms before the 30 s')
  await clock.advance(1)
  assert.not.ok(await refusedBeforeHandshake(server), 'let in after 30 s')
})

test('inbound throttle: loopback and LAN addresses are exempt', async () => {
  const address = { ip: '192.168.1.20' }
  const server = await startServer({ protocols: [idleProtocol()], clock: new VirtualClock(), transport: spoofing(address) })
  for (const ip of ['192.168.1.20', '10.0.0.3', '127.0.0.1', 'fd00::1']) {
    address.ip = ip
    assert.not.ok(await refusedBeforeHandshake(server), `${ip}, first`)
    assert.not.ok(await refusedBeforeHandshake(server), `${ip}, again at once`)
  }
})

test('netrestrict: inbound from outside the networks is refused before the handshake; dials outside are refused', async () => {
  const address = { ip: '10.1.2.3' }
  const server = await startServer({ protocols: [idleProtocol()], netrestrict: ['10.0.0.0/8'], transport: spoofing(address) })
  assert.not.ok(await refusedBeforeHandshake(server), '10.1.2.3 is inside')
  address.ip = '192.168.0.9'
  assert.ok(await refusedBeforeHandshake(server), '192.168.0.9 is outside')
  const other = await startServer({ protocols: [idleProtocol()] })
  const err = await rejection(server.connect(other.enode), 'a dial to 127.0.0.1')
  assert.match(err.message, /outside netrestrict/)
})

test('reasonForError: each error maps to one reason, and says who chose it', () => {
  const reset = Object.assign(new Error('read ECONNRESET'), { syscall: 'read', code: 'ECONNRESET' })
  const table: [string, unknown, DiscReason, boolean][] = [
    ['remote closed cleanly', undefined, DiscReason.NetworkError, true],
    ['socket reset', reset, DiscReason.NetworkError, true],
    ['bad MAC found by us', new FrameMacError('body'), DiscReason.ProtocolError, false],
    ['oversized frame', new MessageTooLargeError('big'), DiscReason.ProtocolError, false],
    ['bad snappy or RLP', new MessageDecodeError('bad'), DiscReason.ProtocolError, false],
    ['code outside every protocol', new InvalidMessageCodeError('x', 9, 1), DiscReason.ProtocolError, false],
    ['write deadline', new WriteTimeoutError(20000, 1), DiscReason.NetworkError, false],
    ['write bound', new WriteBufferFullError(2, 1), DiscReason.NetworkError, false],
    ['handshake or Hello deadline', new HandshakeTimeoutError(5000), DiscReason.ReadTimeout, false],
    ['a protocol run threw', new Error('bug'), DiscReason.SubprotocolError, false],
  ]
  for (const [what, error, reason, remote] of table) assert.equal(reasonForError(error), { reason, remote }, what)
})

test('a frame with a bad MAC from the remote: we end the session (remote: false, breach of protocol) and tell the remote why', async () => {
  const server = await startServer({ protocols: [idleProtocol()] })
  const added = nextAdded(server)
  const raw = await rawDial(server, { hello: { caps: [{ name: 'idle', version: 1 }] } })
  const peer = await within(added, QUICK, 'the peer')
  const removed = nextRemoved(server, peer.id)
  // Flip one byte of the next frame on the wire.
  const socket = raw.socket
  const write = socket.write.bind(socket)
  ;(socket as { write: ByteStream['write'] }).write = (chunk: Uint8Array) => {
    const copy = Buffer.from(chunk)
    copy[copy.length - 1]! ^= 0x80
    ;(socket as { write: ByteStream['write'] }).write = write
    return write(copy)
  }
  raw.conn.send(2, Uint8Array.of(0xc0))
  raw.conn.flush()
  const end = await within(removed, QUICK, 'peer:removed')
  assert.is(end.reason, DiscReason.ProtocolError)
  assert.is(end.remote, false)
  assert.instance(end.error, FrameMacError)
  assert.is(await within(raw.disconnect, QUICK, 'the Disconnect'), DiscReason.ProtocolError)
})

test('a start() that fails to bind (EADDRINUSE) leaves the server as new: start() can be retried once the port is free', async () => {
  const blocker = createNetServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  const { port } = blocker.address() as { port: number }
  const server = new Server({ privateKey: generatePrivateKey(), listenAddr: `127.0.0.1:${port}`, discovery: false })
  try {
    const err = await rejection(server.start(), 'start() on a taken port')
    assert.match(err.message, /EADDRINUSE/)
    assert.not.ok(server.running)
    await new Promise<void>((resolve) => blocker.close(() => resolve()))
    await within(server.start(), QUICK, 'the retried start()')
    assert.ok(server.running)
  } finally {
    await server.stop()
  }
})

test('connect() right after disconnect() dials anew instead of resolving with the dying peer', async () => {
  const a = await startServer({ protocols: [idleProtocol()] })
  const b = await startServer({ protocols: [idleProtocol()] })
  const first = await within(a.connect(b.enode), QUICK, 'first connect')
  first.disconnect()
  const second = await within(a.connect(b.enode), QUICK, 'second connect')
  assert.is.not(second, first)
  assert.not.ok(second.closed)
})

test('a listener that throws does not crash the process: it is reported as a warning, and the server carries on', async () => {
  const warnings: string[] = []
  const onWarning = (w: Error): void => void warnings.push(w.message)
  process.on('warning', onWarning)
  try {
    const a = await startServer({ protocols: [idleProtocol()] })
    const b = await startServer({ protocols: [idleProtocol()] })
    a.events.on('peer:added', () => {
      throw new Error('listener bug')
    })
    await within(a.connect(b.enode), QUICK, 'connect')
    await waitFor(() => warnings.some((w) => w.includes('listener bug')), QUICK, 'the warning')
    assert.is(a.peerCount, 1)
  } finally {
    process.off('warning', onWarning)
  }
})

test('typed errors: a refused dial is a DialError (ERR_DIAL); a second handshake() is a HandshakeRepeatedError', async () => {
  const a = await startServer({ protocols: [idleProtocol()] })
  const closed = createNetServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const { port } = closed.address() as { port: number }
  await new Promise<void>((resolve) => closed.close(() => resolve()))
  const b = await startServer({ protocols: [idleProtocol()] })
  const enode = b.enode.replace(/:\d+$/, `:${port}`)
  const err = await rejection(a.connect(enode), 'a dial to a closed port')
  assert.instance(err, DialError)
  assert.is((err as DialError).code, 'ERR_DIAL')
  const socket = await rawSocket(b)
  const conn = new RLPxConnection({ socket, privateKey: generatePrivateKey(), remotePublicKey: b.publicKey })
  await within(conn.handshake(), QUICK, 'handshake')
  assert.instance(await rejection(conn.handshake(), 'a second handshake'), HandshakeRepeatedError)
  conn.destroy()
})

test('stop() while start() is binding leaves no listener behind', async () => {
  const server = new Server({ privateKey: generatePrivateKey(), listenAddr: '127.0.0.1:0', discovery: false })
  const starting = server.start()
  await server.stop()
  await starting
  assert.not.ok(server.running)
  assert.instance(await rejection(server.connect('enode://' + '11'.repeat(64) + '@127.0.0.1:1'), 'connect on a stopped server'), ServerStateError)
})

test.run()
