/**
 * The default transport: TCP sockets carrying RLPx.
 * @module
 */
import { connect, createServer } from 'node:net'
import { DialError, DialTimeoutError } from './errors.js'
import { RLPxConnection } from './rlpx/connection.js'
import type { Connection, Listener, Transport, TransportContext } from './transport.js'

/** TCP with the RLPx handshake and framing. The server's setup deadline covers the handshake. */
export function tcpTransport(context: TransportContext): Transport {
  const { privateKey, maxMessageSize, writeTimeout, clock } = context
  const wrap = (socket: ConstructorParameters<typeof RLPxConnection>[0]['socket'], remotePublicKey?: Buffer): Connection =>
    new RLPxConnection({ socket, privateKey, remotePublicKey, handshakeTimeout: 0, maxMessageSize, writeTimeout, clock })
  return {
    async listen(host, port, accept, onError): Promise<Listener> {
      // Paused until the handshake reads them: a socket waiting for a handshake slot must
      // not fill our memory with whatever the remote sends meanwhile.
      const server = createServer({ pauseOnConnect: true }, (socket) => accept(wrap(socket)))
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, host, () => {
          server.off('error', reject)
          resolve()
        })
      })
      server.on('error', onError)
      return {
        port: (server.address() as { port: number }).port,
        close: () => new Promise<void>((resolve) => server.close(() => resolve())),
      }
    },

    dial(host, port, remoteKey, { timeout, signal }): Promise<Connection> {
      const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
      return new Promise<Connection>((resolve, reject) => {
        const socket = connect({ host, port })
        const done = (err?: Error): void => {
          clock.clearTimeout(timer)
          signal.removeEventListener('abort', onAbort)
          socket.off('error', onError)
          if (!err) return resolve(wrap(socket, remoteKey))
          socket.destroy()
          reject(err)
        }
        const onError = (err: Error): void => done(new DialError(address, err.message, { cause: err }))
        const onAbort = (): void => done(signal.reason instanceof Error ? signal.reason : new DialError(address, 'aborted'))
        const timer = clock.setTimeout(() => done(new DialTimeoutError(address, timeout)), timeout)
        socket.once('error', onError)
        socket.once('connect', () => done())
        if (signal.aborted) onAbort()
        else signal.addEventListener('abort', onAbort)
      })
    },
  }
}
