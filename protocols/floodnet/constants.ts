/**
 * floodnet's defaults, in one place. Each is an option of {@link FloodnetOptions} or
 * {@link FloodEngineOptions}.
 * @module
 */

/** Floodnet neighbours a node tries to keep. */
export const DESIRED = 5
/** Hops a JOIN_REQ may travel before it is dropped. */
export const JOIN_HOPS = 5
/** Hops a broadcast may travel: far above the diameter of a mesh of degree ≥ 5 with thousands of nodes. */
export const MAX_HOPS = 16
/** Seen-cache bound in entries: at 200 messages/s this covers the whole TTL. */
export const SEEN_CACHE_SIZE = 32_768
/** Seen-cache age bound in ms; refreshed on every re-sighting. Matches gossipsub's 2 min. */
export const SEEN_TTL = 120_000
/** Messages delivered but not yet read; the oldest is dropped beyond this. */
export const RECEIVE_BUFFER = 512
/** Messages per second each neighbour may make us relay, and the burst it may spend at once. */
export const RATE_LIMIT = { rate: 200, burst: 400 }
/** Relays queued towards one neighbour before further relays to it are dropped. */
export const MAX_OUTSTANDING_SENDS = 256
/** Delay before repeating joins when short of neighbours: first and largest, in ms (jittered, doubled per round). */
export const JOIN_BACKOFF: [number, number] = [250, 5000]
/** How long a sent JOIN_REQ may still bring an acceptance, in ms: a 5-hop walk plus a dial and handshake, with room. */
export const JOIN_WINDOW = 1000
/** Largest broadcast payload, in bytes. */
export const MAX_PAYLOAD = 256 * 1024
