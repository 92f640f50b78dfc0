// A short run of every fuzz target (npm run fuzz runs the full counts): a few thousand
// inputs each on a fixed seed, and each target's valid seeds, which must decode — proof
// that the fuzzing reaches past the decoders' first checks. The per-input time bound is
// left to npm run fuzz: the suite asserts no timing.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { describeFailure, fuzz } from '../fuzz/harness.js'
import { targets } from '../fuzz/targets/index.js'

const SEED = 0x5eed
const RUNS = 2000

for (const target of targets) {
  test(`fuzz ${target.name}: its valid seeds decode`, () => {
    for (const input of target.valid) target.run(input)
  })

  test(`fuzz ${target.name}: ${RUNS} inputs, only typed errors escape (${target.decoder})`, () => {
    const result = fuzz(target, { seed: SEED, runs: RUNS, timeBound: false })
    assert.ok(!result.failure, result.failure && describeFailure(result))
    assert.is(result.runs, RUNS)
  })
}

test.run()
