// The roster as a pure function of the time and of what arrived: joins, renames, goodbyes,
// timeouts, roster sync and the capacity bound, one table row per rule.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generatePrivateKey } from '../lib/index.js'
import { chatDefaults, decodeEnvelope, encodePresence, Roster, type Presence, type PresenceEnvelope } from '../protocols/chat/index.js'

const T0 = Date.UTC(2026, 0, 1)
const { GONE_AFTER, DECLARED_INTERVAL } = chatDefaults
const ann = generatePrivateKey()
const bob = generatePrivateKey()

function presence(key: Uint8Array, timestamp: number, over: Partial<Presence> = {}): PresenceEnvelope {
  return decodeEnvelope(encodePresence(key, { nick: 'ann', interval: 10_000, since: 0, ...over }, timestamp)) as PresenceEnvelope
}

test('announcements: join is told (for members that started after us), a refresh is not, a rename is, an older one changes nothing', () => {
  const roster = new Roster(16, 10_000)
  const join = roster.announce(presence(ann, T0, { since: T0 }), T0, true)
  assert.is(join?.type, 'join')
  assert.equal(join?.type === 'join' && join.returning, false)
  const id = join!.member.id
  assert.is(roster.announce(presence(ann, T0 + 1000), T0 + 1000, true), undefined, 'refresh')
  assert.is(roster.get(id)!.lastSeen, T0 + 1000)
  const rename = roster.announce(presence(ann, T0 + 2000, { nick: 'anna' }), T0 + 2000, true)
  assert.equal(rename && { type: rename.type, from: rename.type === 'rename' && rename.from, nick: rename.member.nick }, { type: 'rename', from: 'ann', nick: 'anna' })
  assert.is(roster.announce(presence(ann, T0 + 1500, { nick: 'old' }), T0 + 3000, true), undefined)
  assert.is(roster.get(id)!.nick, 'anna', 'an older announcement does not undo the rename')
  assert.is(roster.get(id)!.lastSeen, T0 + 3000, 'but it was heard')
  // Someone who started before us is simply there: no join line.
  assert.is(roster.announce(presence(bob, T0, { nick: 'bob', since: T0 - 60_000 }), T0, true, T0 - 1), undefined)
  assert.ok(roster.get(decodeEnvelope(encodePresence(bob, { nick: 'bob', interval: 1, since: 0 }, T0)).origin)!.present)
})

test('goodbye: leave (quit); an older announcement does not bring it back, a newer one does (returning)', () => {
  const roster = new Roster(16, 10_000)
  const id = roster.announce(presence(ann, T0, { since: T0 }), T0, true)!.member.id
  const leave = roster.goodbye(id, T0 + 10)
  assert.equal(leave && { type: leave.type, reason: leave.type === 'leave' && leave.reason }, { type: 'leave', reason: 'quit' })
  assert.is(roster.goodbye(id, T0 + 20), undefined, 'a second goodbye says nothing')
  assert.is(roster.announce(presence(ann, T0 + 5), T0 + 30, true), undefined)
  assert.not.ok(roster.get(id)!.present)
  assert.is(roster.heard({ origin: id, originKey: roster.get(id)!.publicKey, timestamp: T0 + 10, nick: 'ann' }, T0 + 40), undefined, 'nor a line as old as the goodbye')
  const back = roster.announce(presence(ann, T0 + 50, { since: T0 }), T0 + 50, true)
  assert.equal(back && { type: back.type, returning: back.type === 'join' && back.returning }, { type: 'join', returning: true })
  assert.is(roster.goodbye('ff'.repeat(32), T0), undefined, 'unknown members are not tracked')
})

test('timeout: gone after GONE_AFTER declared periods of silence; any envelope from it counts as heard', () => {
  const roster = new Roster(16, 10_000)
  const id = roster.announce(presence(ann, T0, { interval: 4000, since: T0 }), T0, true)!.member.id
  const deadline = T0 + GONE_AFTER * 4000
  assert.is(roster.nextExpiry(), deadline)
  assert.equal(roster.expire(deadline), [], 'not at the deadline itself')
  // A line heard just before the deadline pushes it back.
  assert.is(roster.heard({ origin: id, originKey: roster.get(id)!.publicKey, timestamp: T0 + 9000 }, T0 + 9000), undefined)
  assert.is(roster.nextExpiry(), T0 + 9000 + GONE_AFTER * 4000)
  const gone = roster.expire(T0 + 9000 + GONE_AFTER * 4000 + 1)
  assert.equal(gone.map((c) => c.type === 'leave' && [c.reason, c.member.id]), [['timeout', id]])
  assert.is(roster.nextExpiry(), undefined)
  assert.is(roster.present().length, 0)
  // Heard again after timing out: back, and told so.
  const back = roster.heard({ origin: id, originKey: roster.get(id)!.publicKey, timestamp: T0 + 30_000, nick: 'ann' }, T0 + 30_000)
  assert.equal(back && back.type === 'join' && back.returning, true)
})

test('declared periods are clamped; members known only by a line get the default period', () => {
  const roster = new Roster(16, 7000)
  roster.announce(presence(ann, T0, { interval: 1 }), T0, true)
  const annId = presence(ann, T0).origin
  assert.is(roster.get(annId)!.interval, DECLARED_INTERVAL[0])
  roster.announce(presence(ann, T0 + 1, { interval: 10 ** 12 }), T0 + 1, true)
  assert.is(roster.get(annId)!.interval, DECLARED_INTERVAL[1])
  const bobEnv = presence(bob, T0)
  assert.is(roster.heard({ origin: bobEnv.origin, originKey: bobEnv.originKey, timestamp: T0, nick: 'bob' }, T0), undefined)
  assert.is(roster.get(bobEnv.origin)!.interval, 7000)
  assert.is(roster.heard({ origin: 'ab'.repeat(32), originKey: bobEnv.originKey, timestamp: T0 }, T0), undefined)
  assert.is(roster.get('ab'.repeat(32)), undefined, 'no nick, no member')
})

test('roster sync: members who were here before us are added silently while fresh, one who came after us joins; an expired one is not added', () => {
  const roster = new Roster(16, 10_000)
  assert.is(roster.announce(presence(ann, T0, { since: T0, interval: 1000 }), T0 + 2000, false, T0 + 1), undefined)
  assert.is(roster.get(presence(ann, T0).origin)!.lastSeen, T0, 'last seen is the entry time, not ours')
  const cat = generatePrivateKey()
  const change = roster.announce(presence(cat, T0 + 1500, { nick: 'cat', since: T0 + 1500, interval: 1000 }), T0 + 2000, false, T0 + 1)
  assert.equal([change?.type, change?.member.nick], ['join', 'cat'], 'started after us: a join, though its roster entry came before its announcement')
  assert.is(roster.announce(presence(bob, T0, { nick: 'bob', interval: 1000 }), T0 + GONE_AFTER * 1000 + 1, false), undefined)
  assert.is(roster.get(presence(bob, T0).origin), undefined)
})

test('capacity: gone members are evicted first, then the one heard from longest ago; never ourselves', () => {
  const keys = Array.from({ length: 4 }, () => generatePrivateKey())
  const roster = new Roster(3, 10_000)
  roster.setSelf(presence(keys[0]!, T0, { nick: 'me' }), T0)
  const a = roster.announce(presence(keys[1]!, T0 + 1, { nick: 'a', since: T0 }), T0 + 1, true)!.member.id
  const b = roster.announce(presence(keys[2]!, T0 + 2, { nick: 'b', since: T0 }), T0 + 2, true)!.member.id
  roster.goodbye(b, T0 + 3)
  roster.announce(presence(keys[3]!, T0 + 4, { nick: 'c', since: T0 }), T0 + 4, true)
  assert.is(roster.size, 3)
  assert.is(roster.get(b), undefined, 'the gone one went first')
  assert.ok(roster.get(a))
  const d = generatePrivateKey()
  roster.announce(presence(d, T0 + 5, { nick: 'd', since: T0 }), T0 + 5, true)
  assert.is(roster.get(a), undefined, 'then the oldest present one')
  assert.equal(roster.present().map((m) => m.nick).sort(), ['c', 'd', 'me'])
  assert.is(roster.announce(presence(keys[0]!, T0 + 9, { nick: 'spoof' }), T0 + 9, true), undefined, 'our own id is not taken from the network')
  assert.is(roster.present().find((m) => m.self)!.nick, 'me')
})

test.run()
