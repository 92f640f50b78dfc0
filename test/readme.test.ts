// Every TypeScript block in README.md is a complete program: this runs each one, as a user
// who pasted it into a file would, with `devp2p-ts` imports pointed at this checkout. A
// block must import what it uses, exit 0 with nothing on stderr, and print what its
// `// prints "…"` comments say.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const ENTRY: Record<string, string> = {
  'devp2p-ts': 'lib/index.ts',
  'devp2p-ts/floodnet': 'protocols/floodnet/index.ts',
  'devp2p-ts/chat': 'protocols/chat/index.ts',
}
/** A block that has not finished in this long is stuck (the machine may be busy). */
const LIMIT = 60_000

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => ({ code: m[1]!, line: readme.slice(0, m.index).split('\n').length + 1 }))
const dir = mkdtempSync(join(tmpdir(), 'readme-'))

function run(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    proc.stdout.on('data', (c: Buffer) => (stdout += c))
    proc.stderr.on('data', (c: Buffer) => (stderr += c))
    const timer = setTimeout(() => proc.kill('SIGKILL'), LIMIT)
    proc.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

test.after(() => rmSync(dir, { recursive: true, force: true }))

test('the README has TypeScript blocks, each starting with its imports', () => {
  assert.ok(blocks.length >= 6, `found ${blocks.length}`)
  for (const b of blocks) assert.match(b.code, /^import /, `README.md:${b.line} starts with an import`)
})

for (const [i, block] of blocks.entries()) {
  test(`README.md:${block.line} runs to completion and prints what it says`, async () => {
    const source = block.code.replace(/from '(devp2p-ts(?:\/\w+)?)'/g, (_match, name: string) => {
      const entry = ENTRY[name]
      assert.ok(entry, `README.md:${block.line} imports an unknown entry point ${name}`)
      return `from ${JSON.stringify(join(ROOT, entry!))}`
    })
    const file = join(dir, `block-${i}.mts`) // an ES module, as the library is ESM-only
    writeFileSync(file, source)
    const { code, stdout, stderr } = await run(file)
    assert.is(stderr, '', `README.md:${block.line} wrote to stderr`)
    assert.is(code, 0, `README.md:${block.line} exit code`)
    for (const [, expected] of block.code.matchAll(/\/\/ prints "(.*)"/g)) {
      assert.ok(stdout.split('\n').includes(expected!), `README.md:${block.line} printed ${JSON.stringify(expected)}; stdout was ${JSON.stringify(stdout)}`)
    }
  })
}

test.run()
