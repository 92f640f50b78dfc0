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
export { parseHostPort, SERVER_DEFAULTS, type ServerOptions } from './config.js'
export { Peer, type PeerEnd } from './peer.js'
export { matchProtocols, BASE_PROTOCOL_LENGTH, type Cap, type Protocol, type MatchedProtocol } from './protocol.js'
export { Msg, sendItems, utf8, uint, bigUint, type MsgReader, type MsgWriter, type MsgReadWriter, type RlpItem } from './message.js'
export { MsgPipe, expectMsg, describeRlp, UnexpectedMsgError, type MsgPipeEnd } from './msg-pipe.js'
export { DiscReason, DisconnectError, reasonText, decodeDisconnectReason } from './disconnect.js'
export { parseEnode, formatEnode, enodeFromRecord, nodeId, type Enode } from './enode.js'
export { Enr, InvalidEnrError, ENR_MAX_SIZE, type EnrFields } from './enr.js'
export {
  Discovery,
  type DiscoveryOptions,
  type DiscoveryEvents,
  type DiscoverySizes,
  type DialCandidates,
  type ResolvedAddress,
} from './discover/discovery.js'
export * from './discover/errors.js'
export type { NodeInfo as DiscoveredNode } from './discover/node.js'
export { NodeDB, type NodeDBOptions } from './discover/nodedb.js'
export { bindUdp, MemoryNetwork, type UdpTransport, type UdpAddress, type MemoryNetworkOptions } from './discover/transport.js'
export { advertisedIp, interfaceAddresses, pickAdvertisedIp, type AdvertisedAddress } from './discover/address.js'
export { loadNodeKey, saveNodeKey, loadOrCreateNodeKey } from './node-key.js'
export { TypedEvents } from './events.js'
export { generatePrivateKey, publicKeyOf, keccak256 } from './crypto/index.js'
export * from './errors.js'
export { RLPxConnection, type RLPxConnectionInit, type ByteStream } from './rlpx/connection.js'
export { eciesEncrypt, eciesDecrypt } from './rlpx/ecies.js'
