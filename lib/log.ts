/**
 * Namespaced `debug` loggers. Silent unless `DEBUG` selects them, e.g.
 * `DEBUG=devp2p:*` or `DEBUG=devp2p:server,floodnet:*`.
 * @module
 */
import createDebug from 'debug'

/** Creates a logger under `namespace` (`devp2p:rlpx`, `floodnet:relay`, …). */
export const logger = (namespace: string): createDebug.Debugger => createDebug(namespace)

/** The first 8 hex characters of an id or key: enough to tell peers apart in logs. */
export function shortId(id: Uint8Array | string | undefined): string {
  if (id === undefined) return '????????'
  return (typeof id === 'string' ? id : Buffer.from(id.buffer, id.byteOffset, id.length).toString('hex')).slice(0, 8)
}
