/**
 * The roster: every chat member this node knows of, with the time it was last heard from.
 * Pure state — the caller passes the time and says what arrived — so every rule here is a
 * table test: who joins, who is renamed, who leaves and who has been silent too long.
 *
 * A member is anyone whose signed presence announcement or broadcast we verified. It stays
 * present while it is heard from at least once every {@link GONE_AFTER} of its declared
 * refresh periods; any verified envelope it writes counts, not only announcements. A
 * goodbye or that timeout marks it gone; gone members are kept (as tombstones, so an old
 * announcement cannot bring them back) until the roster is full, then evicted first.
 * @module
 */
import { DECLARED_INTERVAL, GONE_AFTER, PRESENCE_MEMBERS } from './constants.js'
import type { PresenceEnvelope } from './message.js'

/** A chat member as this node knows it. */
export interface Member {
  /** Node id, hex. */
  id: string
  /** 64-byte public key, recovered from its signatures: what direct messages are sealed to. */
  publicKey: Buffer
  nick: string
  /** Its listening address, from its announcement. */
  host?: string
  port?: number
  /** Its declared refresh period (clamped), ms. */
  interval: number
  /** When we last heard from it, on our clock. */
  lastSeen: number
  /** Timestamp (its clock) of the newest announcement, goodbye or broadcast applied. */
  stamp: number
  /** Its newest presence announcement, served to joining neighbours. */
  announcement?: Uint8Array
  /** False once it said goodbye or timed out. */
  present: boolean
  /** This node itself. */
  self: boolean
}

/** A change worth telling the user about. */
export type RosterChange =
  | { type: 'join'; member: Member; returning: boolean }
  | { type: 'rename'; member: Member; from: string }
  | { type: 'leave'; member: Member; reason: 'quit' | 'timeout' }

/** What is known of a member from an envelope other than an announcement. */
export interface Sighting {
  origin: string
  originKey: Buffer
  timestamp: number
  /** The nick the envelope carries, when it carries one. */
  nick?: string
}

/**
 * The presence refresh period in a room of `members`: `base` up to {@link PRESENCE_MEMBERS}
 * members, then growing with the room so that all of it together sends about
 * {@link PRESENCE_MEMBERS} refreshes per `base` — a cost that does not grow with its size.
 */
export function refreshPeriod(members: number, base: number): number {
  return Math.max(base, Math.ceil((members * base) / PRESENCE_MEMBERS))
}

const clamp = (interval: number): number => Math.min(DECLARED_INTERVAL[1], Math.max(DECLARED_INTERVAL[0], interval))

export class Roster {
  readonly capacity: number
  /** Refresh period assumed for a member that has not announced itself, ms. */
  readonly defaultInterval: number
  #members = new Map<string, Member>()

  constructor(capacity: number, defaultInterval: number) {
    if (!Number.isInteger(capacity) || capacity < 2) throw new RangeError(`roster capacity must be an integer ≥ 2, got ${capacity}`)
    this.capacity = capacity
    this.defaultInterval = clamp(defaultInterval)
  }

  /** Members held, gone ones included. */
  get size(): number {
    return this.#members.size
  }

  get(id: string): Member | undefined {
    return this.#members.get(id)
  }

  /** Every member held, gone ones included. */
  all(): Member[] {
    return [...this.#members.values()]
  }

  /** Present members (this node included), most recently heard first. */
  present(): Member[] {
    return [...this.#members.values()].filter((m) => m.present).sort((a, b) => b.lastSeen - a.lastSeen)
  }

  /** Present members that are not this node. */
  get others(): number {
    let n = 0
    for (const m of this.#members.values()) if (m.present && !m.self) n++
    return n
  }

  /** Records this node's own newest announcement. */
  setSelf(env: PresenceEnvelope, now: number): Member {
    const self = this.#upsert(env.origin, env.originKey, env.nick, now)
    Object.assign(self, fields(env), { lastSeen: now, stamp: env.timestamp, announcement: env.payload, present: true, self: true })
    return self
  }

  /**
   * Applies a verified presence announcement. `live` ones came by flood just now; the
   * others came in a neighbour's roster and are taken only while not yet expired. A new
   * member is told as joining only if it started after `since` (our own start): whoever
   * was there before us is simply in the room. That holds however we learn of it, so a
   * newcomer whose roster answer overtakes its flooded announcement is still told as joining.
   */
  announce(env: PresenceEnvelope, now: number, live: boolean, since = 0): RosterChange | undefined {
    const known = this.#members.get(env.origin)
    if (known?.self) return undefined
    if (known && env.timestamp <= known.stamp) {
      if (live) known.lastSeen = Math.max(known.lastSeen, now)
      return undefined
    }
    const heardAt = live ? now : Math.min(now, env.timestamp)
    if (!live && heardAt + GONE_AFTER * clamp(env.interval) < now) return undefined
    const member = known ?? this.#upsert(env.origin, env.originKey, env.nick, now)
    const wasPresent = known?.present ?? false
    const from = member.nick
    Object.assign(member, fields(env), { lastSeen: Math.max(known?.lastSeen ?? 0, heardAt), stamp: env.timestamp, announcement: env.payload, present: true })
    if (!known) return env.since >= since ? { type: 'join', member, returning: false } : undefined
    if (!wasPresent) return live ? { type: 'join', member, returning: true } : undefined
    if (from !== env.nick) return { type: 'rename', member, from }
    return undefined
  }

  /** Applies a verified goodbye. */
  goodbye(origin: string, timestamp: number): RosterChange | undefined {
    const member = this.#members.get(origin)
    if (!member || member.self || timestamp < member.stamp) return undefined
    member.stamp = timestamp
    if (!member.present) return undefined
    member.present = false
    return { type: 'leave', member, reason: 'quit' }
  }

  /** Applies any other verified envelope from a member: a broadcast, a direct message, a receipt. */
  heard(s: Sighting, now: number): RosterChange | undefined {
    const known = this.#members.get(s.origin)
    if (known?.self) return undefined
    if (!known) {
      if (s.nick === undefined) return undefined
      const member = this.#upsert(s.origin, s.originKey, s.nick, now)
      member.stamp = s.timestamp
      return undefined
    }
    if (!known.present && s.timestamp <= known.stamp) return undefined
    known.lastSeen = Math.max(known.lastSeen, now)
    const from = known.nick
    if (s.timestamp >= known.stamp) {
      known.stamp = s.timestamp
      if (s.nick !== undefined) known.nick = s.nick
    }
    if (!known.present) {
      known.present = true
      return { type: 'join', member: known, returning: true }
    }
    if (from !== known.nick) return { type: 'rename', member: known, from }
    return undefined
  }

  /** Marks gone every member silent for longer than {@link GONE_AFTER} of its periods. */
  expire(now: number): RosterChange[] {
    const changes: RosterChange[] = []
    for (const member of this.#members.values()) {
      if (member.present && !member.self && now > deadline(member)) {
        member.present = false
        changes.push({ type: 'leave', member, reason: 'timeout' })
      }
    }
    return changes
  }

  /** When the next present member times out, if any does. */
  nextExpiry(): number | undefined {
    let next: number | undefined
    for (const member of this.#members.values()) {
      if (member.present && !member.self && (next === undefined || deadline(member) < next)) next = deadline(member)
    }
    return next
  }

  /** The newest announcements of up to `max` present members, most recently heard first. */
  announcements(max: number): Uint8Array[] {
    const out: Uint8Array[] = []
    for (const member of this.present()) {
      if (out.length >= max) break
      if (member.announcement) out.push(member.announcement)
    }
    return out
  }

  #upsert(id: string, publicKey: Buffer, nick: string, now: number): Member {
    const known = this.#members.get(id)
    if (known) return known
    if (this.#members.size >= this.capacity) this.#evict()
    const member: Member = { id, publicKey, nick, interval: this.defaultInterval, lastSeen: now, stamp: 0, present: true, self: false }
    this.#members.set(id, member)
    return member
  }

  /** Drops the gone member heard from longest ago, or else the present one. */
  #evict(): void {
    let victim: Member | undefined
    for (const m of this.#members.values()) {
      if (m.self) continue
      if (!victim || (victim.present && !m.present) || (victim.present === m.present && m.lastSeen < victim.lastSeen)) victim = m
    }
    if (victim) this.#members.delete(victim.id)
  }
}

const deadline = (m: Member): number => m.lastSeen + GONE_AFTER * m.interval

function fields(env: PresenceEnvelope): Pick<Member, 'nick' | 'host' | 'port' | 'interval'> {
  return { nick: env.nick, host: env.host, port: env.port, interval: clamp(env.interval) }
}
