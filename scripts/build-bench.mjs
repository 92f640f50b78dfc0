// Compiles the benchmarks with the library into .bench/ (tsconfig.bench.json), so that
// `npm run bench` measures JavaScript as `npm run build` ships it: under tsx every function
// would carry esbuild's name-keeping wrapper, which costs memory and time the package does not.
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
execFileSync(process.execPath, [tsc, '-p', `${root}tsconfig.bench.json`], { stdio: 'inherit' })
mkdirSync(`${root}.bench/lib/crypto`, { recursive: true })
copyFileSync(`${root}lib/crypto/rlpx-crypto.wasm`, `${root}.bench/lib/crypto/rlpx-crypto.wasm`)
