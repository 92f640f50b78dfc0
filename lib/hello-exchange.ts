/**
 * The Hello exchange that follows the encryption handshake: send ours, read theirs (or the
 * Disconnect a peer may send instead), check the identity it claims, and switch snappy on.
 * @module
 */
import { RLP } from '@ethereumjs/rlp'
import { DisconnectError, DiscReason, decodeDisconnectReason } from './disconnect.js'
import { HandshakeClosedError, MessageDecodeError } from './errors.js'
import { decodeHello, encodeHello, MAX_HELLO_SIZE, P2P_VERSION, type Hello } from './hello.js'
import type { Connection } from './transport.js'

/**
 * Sends `ours` and resolves with the remote's Hello. Until it arrives, input is capped at
 * go-ethereum's 2 KiB base-protocol limit, checked on each frame header before the frame
 * is buffered. The connection is left paused so that messages sent right after Hello wait
 * for the peer that will handle them. There is no deadline here: the caller's covers the
 * handshake and this exchange together (it destroys the connection, which ends this).
 * @throws {DisconnectError} when the remote sent Disconnect instead of Hello
 * @throws {MessageDecodeError} when the first message is not a valid Hello
 * @throws {HandshakeClosedError} (or the error the connection was destroyed with) when it closes first
 */
export function exchangeHello(conn: Connection, ours: Hello): Promise<Hello> {
  return new Promise<Hello>((resolve, reject) => {
    let settled = false
    const fail = (err: Error): void => {
      if (settled) return
      settled = true
      reject(err)
    }
    // Ours goes first: start() may deliver their Hello at once, and snappy is on after it.
    conn.send(0, encodeHello(ours))
    conn.limitInput(MAX_HELLO_SIZE)
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
        conn.pause()
        conn.limitInput()
        if (hello.version >= P2P_VERSION) conn.enableSnappy()
        resolve(hello)
      },
      onError: fail,
      onClose(error) {
        fail(error && !('syscall' in error) ? error : new HandshakeClosedError(`connection closed before Hello${error ? `: ${error.message}` : ''}`))
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
export async function sendDisconnect(conn: Connection, reason: DiscReason): Promise<void> {
  try {
    conn.send(1, RLP.encode([reason]))
  } finally {
    await conn.close()
  }
}
