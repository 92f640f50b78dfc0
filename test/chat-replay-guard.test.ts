// The replay guard alone, as a pure function of the time: an id admitted once is refused
// until its message leaves the clock window, however many other ids push it out.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { seededRandom } from '../lib/random.js'
import { ReplayGuard } from '../protocols/chat/index.js'

const T0 = 1_000_000

test('an id is new once, a replay until its expiry, and gone (stale) after it', () => {
  const guard = new ReplayGuard(8)
  assert.is(guard.admit('a', T0 + 100, T0), 'new')
  assert.is(guard.admit('a', T0 + 100, T0 + 50), 'replay')
  assert.is(guard.admit('a', T0 + 100, T0 + 100), 'replay', 'still held at its expiry')
  assert.ok(guard.has('a', T0 + 100))
  assert.is(guard.admit('a', T0 + 100, T0 + 101), 'stale', 'after its expiry the clock window refuses it anyway')
  assert.is(guard.size, 0, 'expired ids are pruned')
})

test('full: the id that expires first is evicted and raises the watermark; fresher ids still pass', () => {
  const guard = new ReplayGuard(3)
  assert.is(guard.admit('late', T0 + 300, T0), 'new')
  assert.is(guard.admit('early', T0 + 100, T0), 'new')
  assert.is(guard.admit('mid', T0 + 200, T0), 'new')
  assert.is(guard.watermark, -Infinity)
  assert.is(guard.admit('x', T0 + 250, T0), 'new')
  assert.is(guard.size, 3)
  assert.is(guard.watermark, T0 + 100, 'the earliest expiry was evicted')
  assert.not.ok(guard.has('early', T0))
  assert.is(guard.admit('early', T0 + 100, T0), 'stale', 'the evicted id cannot come back')
  assert.is(guard.admit('other', T0 + 100, T0), 'stale', 'nor anything expiring as early')
  assert.is(guard.admit('fresh', T0 + 101, T0), 'new')
  // An id that would itself be the first to go is admitted and evicted at once: still refused after.
  const tight = new ReplayGuard(1)
  assert.is(tight.admit('b', T0 + 500, T0), 'new')
  assert.is(tight.admit('c', T0 + 400, T0), 'new')
  assert.is(tight.watermark, T0 + 400)
  assert.is(tight.admit('c', T0 + 400, T0), 'stale')
  assert.is(tight.admit('b', T0 + 500, T0), 'replay')
})

test('property: under any pressure no id is admitted twice before its expiry (seeded, 20000 steps)', () => {
  for (const capacity of [1, 4, 64]) {
    const random = seededRandom(capacity)
    const guard = new ReplayGuard(capacity)
    const window = 1000
    const admitted = new Map<string, number>()
    let now = T0
    let fresh = 0
    for (let step = 0; step < 20_000; step++) {
      now += Math.floor(random() * 20)
      const known = [...admitted.keys()]
      const replay = known.length > 0 && random() < 0.4
      const id = replay ? known[Math.floor(random() * known.length)]! : `m${fresh++}`
      const expiry = replay ? admitted.get(id)! : now + Math.floor((random() * 2 - 1) * window) + window
      const result = guard.admit(id, expiry, now)
      assert.ok(guard.size <= capacity, 'bounded')
      if (replay && expiry >= now) assert.is.not(result, 'new', `step ${step}: ${id} admitted twice within its window`)
      if (result === 'new') admitted.set(id, expiry)
      for (const [k, e] of admitted) if (e < now) admitted.delete(k)
    }
  }
})

test('a capacity below 1 is refused', () => {
  assert.throws(() => new ReplayGuard(0), /positive integer/)
})

test.run()
