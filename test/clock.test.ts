// The virtual clock every timing test and the simulator stand on: timers fire at their own
// instant, in order, ties in the order set; cleared timers never fire; promise callbacks a
// timer starts run before the next instant.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { VirtualClock } from '../lib/clock.js'
import { pick, seededRandom } from '../lib/random.js'

test('timers fire at their due time, in order, ties in the order they were set', async () => {
  const clock = new VirtualClock(1000)
  const fired: [string, number][] = []
  const at = (name: string) => () => fired.push([name, clock.now()])
  clock.setTimeout(at('c'), 30)
  clock.setTimeout(at('a'), 10)
  clock.setTimeout(at('b1'), 20)
  clock.setTimeout(at('b2'), 20)
  await clock.advance(19)
  assert.equal(fired, [['a', 1010]])
  assert.is(clock.now(), 1019)
  await clock.advance(11)
  assert.equal(fired, [['a', 1010], ['b1', 1020], ['b2', 1020], ['c', 1030]])
  assert.is(clock.pending, 0)
})

test('a cleared timer never fires; clearing twice or a fired timer is harmless', async () => {
  const clock = new VirtualClock(0)
  let fired = 0
  const t = clock.setTimeout(() => fired++, 5)
  const u = clock.setTimeout(() => fired++, 6)
  clock.clearTimeout(t)
  clock.clearTimeout(t)
  clock.clearTimeout(undefined)
  assert.is(clock.pending, 1)
  await clock.advance(10)
  clock.clearTimeout(u)
  assert.is(fired, 1)
  assert.is(clock.pending, 0)
})

test('timers set by timers and by promise callbacks fire within the same advance', async () => {
  const clock = new VirtualClock(0)
  const fired: number[] = []
  clock.setTimeout(() => {
    fired.push(clock.now())
    void Promise.resolve().then(() => clock.setTimeout(() => fired.push(clock.now()), 5))
  }, 5)
  await clock.advance(10)
  assert.equal(fired, [5, 10])
})

test('fireDue and set let a driver step time itself', () => {
  const clock = new VirtualClock(0)
  const fired: number[] = []
  clock.setTimeout(() => fired.push(1), 1)
  clock.setTimeout(() => fired.push(2), 2)
  assert.is(clock.next, 1)
  clock.set(1)
  assert.is(clock.fireDue(), 1)
  assert.is(clock.next, 2)
  assert.throws(() => clock.set(0), /cannot go back/)
})

test('seededRandom repeats for a seed and differs between seeds', () => {
  const a = seededRandom(7)
  const b = seededRandom(7)
  const c = seededRandom(8)
  const xs = Array.from({ length: 5 }, a)
  assert.equal(xs, Array.from({ length: 5 }, b))
  assert.not.equal(xs, Array.from({ length: 5 }, c))
  assert.ok(xs.every((x) => x >= 0 && x < 1))
  assert.is(pick(['x', 'y', 'z'], () => 0.99), 'z')
})

test.run()
