/**
 * The Hello exchange that follows the encryption handshake: send ours, read theirs (or the
 * Disconnect a peer may send instead), check the identity it claims, and switch snappy on.
 * @module
 */
import { RLP } from '@ethereumjs/rlp'
import { DisconnectError, DiscReason, decodeDisconnectReason } from './disconnect.js'
import { HandshakeClosedError, HandshakeTimeoutError, MessageDecodeError } from './errors.js'
import { decodeHello, encodeHello, P2P_VERSION, type Hello } from './hello.js'
import type { RLPxConnection } from './rlpx/connection.js'

/**
 * Sends `ours` and resolves with the remote's Hello. The connection is left paused so that
 * messages sent right after Hello wait for the peer that will handle them.
 * @throws {DisconnectError} when the remote sent Disconnect instead of Hello
 * @throws {MessageDecodeError} when the first message is not a valid Hello
 * @throws {HandshakeTimeoutError} when no Hello arrives within `timeout` ms
 */
export function exchangeHello(conn: RLPxConnection, ours: Hello, timeout: number): Promise<Hello> {
  return new Promise<Hello>((resolve, reject) => {
    const timer = setTimeout(() => fail(new HandshakeTimeoutError(timeout)), timeout)
    let settled = false
    const fail = (err: Error): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      reject(err)
    }
    // Ours goes first: start() may deliver their Hello at once, and snappy is on after it.
    conn.send(0, encodeHello(ours))
    conn.start({
      onMessage(code, payload) {
        if (settled) return
        if (code === 1) {
          fail(new DisconnectError(decodeDisconnectReason(payload) ?? DiscReason.ProtocolError, true))
          return
        }
        if (code !== 0) {
          fail(new MessageDecodeError(`expected Hello as the first message, got code ${code}`))
          return
        }
        let hello: Hello
        try {
          hello = decodeHello(payload)
        } catch (err) {
          fail(err as Error)
          return
        }
        settled = true
        clearTimeout(timer)
        conn.pause()
        if (hello.version >= P2P_VERSION) conn.enableSnappy()
        resolve(hello)
      },
      onClose(error) {
        fail(new HandshakeClosedError(`connection closed before Hello${error ? `: ${error.message}` : ''}`))
      },
    })
  })
}

/** The Disconnect reason a Hello's claimed identity earns, or undefined when it checks out. */
export function helloIdentityProblem(hello: Hello, handshakeKey: Uint8Array): DiscReason | undefined {
  if (hello.nodeId.length !== 64 || hello.nodeId.every((b) => b === 0)) return DiscReason.InvalidIdentity
  if (!hello.nodeId.equals(handshakeKey)) return DiscReason.UnexpectedIdentity
  return undefined
}

/** Writes Disconnect(reason) and closes; compressed or not as the session currently is. */
export async function sendDisconnect(conn: RLPxConnection, reason: DiscReason): Promise<void> {
  try {
    conn.send(1, RLP.encode([reason]))
  } finally {
    await conn.close()
  }
}
