/**
 * chat's defaults and wire bounds, in one place. Each default is an option of
 * {@link ChatOptions}; the bounds are fixed by the protocol.
 * @module
 */

/** Longest text, in bytes of UTF-8. */
export const MAX_TEXT = 2048
/** Longest nick, in bytes of UTF-8. */
export const MAX_NICK = 32
/** Largest signed envelope on the wire: a direct message with a full text, with room. */
export const MAX_ENVELOPE = 4096
/** Largest presence announcement (one with a 32-byte nick and an IPv6 address is 200 bytes). */
export const MAX_PRESENCE = 256

/** How far a live message's timestamp may be from our clock, ms; also how long its id is remembered after that timestamp. */
export const CLOCK_WINDOW = 5 * 60_000
/** Message ids the replay guard holds: 32768 × ~155 B ≈ 5 MiB, about 54 messages/s over the 10-minute validity span before pressure narrows it. */
export const REPLAY_GUARD_SIZE = 32_768

/** Refresh period of our presence in a room of up to {@link PRESENCE_MEMBERS} members, ms. */
export const PRESENCE_INTERVAL = 5 * 60_000
/**
 * Room size up to which the refresh period stays {@link PRESENCE_INTERVAL}. Beyond it the
 * period grows with the roster (members × interval / this), so a whole room, however
 * large, sends about this many refreshes per interval.
 */
export const PRESENCE_MEMBERS = 30
/** Each refresh is due after the period times a uniform factor in [1 − this, 1 + this]. */
export const PRESENCE_JITTER = 0.25
/** A member not heard from for this many of its declared refresh periods is shown as gone. */
export const GONE_AFTER = 3
/** Declared refresh periods are clamped to this range on receipt, ms. */
export const DECLARED_INTERVAL: [number, number] = [1000, 24 * 3600_000]
/** Messages of any kind accepted (and relayed) per author per second, and their burst: one key cannot flood the room. */
export const ORIGIN_RATE = { rate: 10, burst: 50 }
/** Members the roster keeps, gone ones included until evicted: ~1.4 KiB each, about 6 MiB when full. */
export const ROSTER_SIZE = 4096

/** Broadcasts kept for late joiners, and the longest age of one. */
export const HISTORY_COUNT = 100
export const HISTORY_AGE = 60 * 60_000
/** How long after start a node still asks new neighbours for history, until one has answered with some. */
export const HISTORY_ASK_WINDOW = 60_000

/** How long a direct message waits for its receipt before it is reported "not confirmed", ms. */
export const RECEIPT_TIMEOUT = 30_000
/** Direct messages awaiting a receipt; beyond this the oldest is reported "not confirmed" at once. */
export const MAX_PENDING_RECEIPTS = 256

/** Roster entries in one roster response (most recently seen first). */
export const ROSTER_SYNC_MAX = 1024
/** How long a history or roster request waits for its answer, ms. */
export const SYNC_TIMEOUT = 10_000
/** History and roster requests served per neighbour per second (each kind), and their burst. */
export const SYNC_RATE = { rate: 0.1, burst: 2 }
/** Authors whose rate is tracked at once; the least recently heard is forgotten first. */
export const RATE_TABLE_SIZE = 4096
