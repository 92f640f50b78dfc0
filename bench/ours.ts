/**
 * Our side: Servers on loopback with one benchmark protocol, connected and disconnected
 * through the public API only.
 * @module
 */
import { generatePrivateKey, Server, type Peer, type Protocol, type ServerOptions } from '../lib/index.js'
import { deferred } from './support.js'

/** Starts a Server on 127.0.0.1 (OS-chosen port) with `protocols` and `options`. */
export async function startOurNode(protocols: Protocol[], options: Partial<ServerOptions> = {}): Promise<Server> {
  const server = new Server({ privateKey: generatePrivateKey(), listenAddr: '127.0.0.1:0', discovery: false, maxPeers: 10, ...options, protocols })
  await server.start()
  return server
}

/** Dials `to` from `from` and resolves with both peers once each side has emitted `peer:added`. */
export async function ourConnect(from: Server, to: Server): Promise<[Peer, Peer]> {
  const remote = deferred<Peer>()
  const off = to.events.on('peer:added', (peer) => {
    if (peer.id === from.id) remote.resolve(peer)
  })
  try {
    return [await from.connect(to.enode), await remote.promise]
  } finally {
    off()
  }
}

/** Disconnects `peer` (on `from`) and resolves once both servers have emitted `peer:removed`. */
export async function ourDisconnect(from: Server, to: Server, peer: Peer): Promise<void> {
  const removed = Promise.all([
    new Promise((resolve) => from.events.once('peer:removed', resolve)),
    new Promise((resolve) => to.events.once('peer:removed', resolve)),
  ])
  peer.disconnect()
  await removed
}

/** A protocol whose `run` reads until the peer goes: keeps sessions up, does nothing. */
export const IDLE_PROTOCOL: Protocol = {
  name: 'bench',
  version: 1,
  length: 1,
  async run(_peer, rw) {
    for await (const _msg of rw) {
      // discard
    }
  },
}
