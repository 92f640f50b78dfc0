/**
 * devp2p-ts: a devp2p node for TypeScript. Register sub-protocols with a {@link Server};
 * it runs them over one encrypted RLPx session per peer.
 *
 * @example
 * ```ts
 * import { Server, sendItems, utf8, generatePrivateKey, type Protocol } from 'devp2p-ts'
 *
 * const Echo: Protocol = {
 *   name: 'echo', version: 1, length: 1,
 *   async run(peer, rw) {
 *     for await (const msg of rw) await sendItems(rw, 0, ...msg.decode())
 *   },
 * }
 * const server = new Server({ privateKey: generatePrivateKey(), listenAddr: '127.0.0.1:0', protocols: [Echo] })
 * await server.start()
 * console.log(server.enode)
 * ```
 * @packageDocumentation
 */
export { Server, type NodeInfo, type PeerRemoved, type ServerEvents } from './server.js'
export type { ServerOptions } from './config.js'
export { Peer, type PeerEnd } from './peer.js'
export { matchProtocols, BASE_PROTOCOL_LENGTH, type Cap, type Protocol, type MatchedProtocol } from './protocol.js'
export { Msg, sendItems, utf8, uint, bigUint, type MsgReader, type MsgWriter, type MsgReadWriter, type RlpItem } from './message.js'
export { MsgPipe, expectMsg, describeRlp, UnexpectedMsgError, type MsgPipeEnd } from './msg-pipe.js'
export { DiscReason, DisconnectError, reasonText, decodeDisconnectReason } from './disconnect.js'
export { parseEnode, formatEnode, nodeId, type Enode } from './enode.js'
export { loadNodeKey, saveNodeKey, loadOrCreateNodeKey } from './node-key.js'
export { TypedEvents } from './events.js'
export { generatePrivateKey, publicKeyOf, keccak256 } from './crypto/index.js'
export * from './errors.js'
export { RLPxConnection, type RLPxConnectionInit, type RLPxHandlers } from './rlpx/connection.js'
export { eciesEncrypt, eciesDecrypt } from './rlpx/ecies.js'
