// Compiles wasm/rlpx-crypto.ts (AssemblyScript) to lib/crypto/rlpx-crypto.wasm, where
// lib/crypto/wasm.ts loads it under tsx, and copies it to dist/lib/crypto/ for the built
// package. Run by `npm install`/`npm ci` (prepare), `npm run build` and, when the source
// is newer than the output, before `npm test` and `npm run bench` (`--if-stale`; the bench
// copies it into its own build, scripts/build-bench.mjs).
import { copyFileSync, mkdirSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const source = `${root}wasm/rlpx-crypto.ts`
const output = `${root}lib/crypto/rlpx-crypto.wasm`
const distDir = `${root}dist/lib/crypto`

const mtime = (path) => {
  try {
    return statSync(path).mtimeMs
  } catch {
    return -1
  }
}

if (process.argv.includes('--if-stale') && mtime(output) >= mtime(source)) process.exit(0)

let asc
try {
  asc = (await import('assemblyscript/asc')).default
} catch (err) {
  console.error(`build-wasm: the AssemblyScript compiler is not installed (${err.message}); run \`npm install\` first`)
  process.exit(1)
}
// SIMD is what makes the AES S-box constant-time (see wasm/rlpx-crypto.ts); the stub
// runtime, since nothing in the module allocates.
const { error, stderr } = await asc.main([source, '-O3', '--noAssert', '--runtime', 'stub', '--enable', 'simd', '--outFile', output])
if (error) {
  console.error(stderr.toString())
  console.error(`build-wasm: compiling ${source} failed: ${error.message}`)
  process.exit(1)
}
mkdirSync(distDir, { recursive: true })
copyFileSync(output, `${distDir}/rlpx-crypto.wasm`)
