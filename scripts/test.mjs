// Runs the uvu suites under test/ (TypeScript through tsx) in one child process and ends
// with the line CI reads: "N passed, N failed". A suite run that hangs is killed so the
// run still ends with that line.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const pattern = process.argv[2] ?? '\\.test\\.ts$'
const LIMIT_MS = Number(process.env.TEST_TIMEOUT_MS ?? 15 * 60 * 1000)

const child = spawn(
  process.execPath,
  ['--import', 'tsx', 'node_modules/uvu/bin.js', 'test', pattern, '--no-color'],
  { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
)
let out = ''
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk)
  out += chunk.toString()
  if (out.length > 1 << 20) out = out.slice(-(1 << 16))
})
const killer = setTimeout(() => {
  console.error(`test run exceeded ${LIMIT_MS} ms; killing it`)
  child.kill('SIGKILL')
}, LIMIT_MS)

child.on('close', (code, signal) => {
  clearTimeout(killer)
  const clean = out.replace(/\x1b\[[0-9;]*m/g, '')
  const total = Number(/Total:\s+(\d+)/.exec(clean)?.[1] ?? 0)
  const passed = Number(/Passed:\s+(\d+)/.exec(clean)?.[1] ?? 0)
  const skipped = Number(/Skipped:\s+(\d+)/.exec(clean)?.[1] ?? 0)
  // uvu's Total counts the tests that ran; skipped ones are reported beside it.
  let failed = Math.max(0, total - passed)
  if ((code !== 0 || signal) && failed === 0) failed = 1
  console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`)
  process.exit(failed > 0 ? 1 : 0)
})
