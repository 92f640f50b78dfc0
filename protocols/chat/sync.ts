/**
 * chat/2's message codes and the neighbour-to-neighbour requests a joining node makes.
 *
 * | code | message | payload |
 * | --- | --- | --- |
 * | 0 | flood | floodnet's flood frame `[id, origin, hopsLeft, envelope]` |
 * | 1 | GetHistory | `[requestId]` or `[requestId, limit]` |
 * | 2 | History | `[requestId, [envelope, …]]` — at most 100 broadcasts (or `limit`, the newest), oldest first, each envelope's bytes as one RLP string |
 * | 3 | GetRoster | `[requestId]` or `[requestId, limit]` |
 * | 4 | Roster | `[requestId, [envelope, …]]` — at most 1024 presence announcements of at most 256 bytes |
 *
 * Requests and responses go to one neighbour and are never flooded. Each entry of a
 * response is a complete signed envelope, verified like a flooded one except for the
 * clock window: history is old by design. A neighbour answers in order, after everything
 * sent before the request: a leaving node asks for a roster of `limit` 0 to know its
 * goodbye has been taken before it disconnects.
 * @module
 */
import { RLP } from '@ethereumjs/rlp'
import { MessageDecodeError, uint } from '../../lib/index.js'
import { HISTORY_COUNT, MAX_ENVELOPE, MAX_PRESENCE, ROSTER_SYNC_MAX } from './constants.js'
import { decodeList } from './message.js'

/** chat/2 message codes, relative to the capability. */
export enum ChatMsg {
  Flood = 0,
  GetHistory = 1,
  History = 2,
  GetRoster = 3,
  Roster = 4,
}

/** Number of chat/2 message codes. */
export const CHAT_CODES = 5

/** A GetHistory or GetRoster request: answer with at most `limit` entries (all when absent). */
export interface SyncRequest {
  requestId: number
  limit?: number
}

/** Encodes a GetHistory or GetRoster request. */
export function encodeRequest(requestId: number, limit?: number): Uint8Array {
  return RLP.encode(limit === undefined ? [requestId] : [requestId, limit])
}

/** @throws {MessageDecodeError} */
export function decodeRequest(payload: Uint8Array): SyncRequest {
  const items = decodeList(payload, 'chat request')
  if (items.length !== 1 && items.length !== 2) throw new MessageDecodeError(`chat request must be [requestId] or [requestId, limit], got ${items.length} elements`)
  const requestId = uint(items[0], 'chat request id')
  return items.length === 1 ? { requestId } : { requestId, limit: uint(items[1], 'chat request limit', 4) }
}

/** Encodes a History or Roster response. */
export function encodeResponse(requestId: number, envelopes: Uint8Array[]): Uint8Array {
  return RLP.encode([requestId, envelopes])
}

/** Most entries a response of `code` may carry. */
export const responseLimit = (code: ChatMsg.History | ChatMsg.Roster): number => (code === ChatMsg.History ? HISTORY_COUNT : ROSTER_SYNC_MAX)

/**
 * Decodes a History or Roster response: the request id and the raw envelopes, each still to
 * be verified.
 * @throws {MessageDecodeError} when malformed, over the entry limit or an entry is over the envelope size
 */
export function decodeResponse(code: ChatMsg.History | ChatMsg.Roster, payload: Uint8Array): { requestId: number; envelopes: Uint8Array[] } {
  const what = code === ChatMsg.History ? 'chat history' : 'chat roster'
  const limit = responseLimit(code)
  const entryMax = code === ChatMsg.History ? MAX_ENVELOPE : MAX_PRESENCE
  // Checked before decoding: a response can hold no more than its entries at full size.
  if (payload.length > limit * (entryMax + 3) + 16) throw new MessageDecodeError(`${what} of ${payload.length} bytes is larger than ${limit} full entries`)
  // Room for one entry too many (and nested junk in it), so the count check below names the problem.
  const items = decodeList(payload, what, 2 * limit + 8)
  if (items.length !== 2) throw new MessageDecodeError(`${what} must be [requestId, [entry, …]], got ${items.length} elements`)
  const requestId = uint(items[0], `${what} request id`)
  const entries = items[1]
  if (!Array.isArray(entries)) throw new MessageDecodeError(`${what} entries must be a list`)
  if (entries.length > limit) throw new MessageDecodeError(`${what} has ${entries.length} entries, more than ${limit}`)
  const envelopes = entries.map((entry) => {
    if (!(entry instanceof Uint8Array) || entry.length > entryMax) throw new MessageDecodeError(`${what} entry must be an envelope's bytes, at most ${entryMax}`)
    return entry
  })
  return { requestId, envelopes }
}
