import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

/** go-ethereum 1.11.6's p2p server with discv4, beside the repository (../shared/gethpeer). */
export const GETHPEER = fileURLToPath(new URL('../../../shared/gethpeer/gethpeer', import.meta.url))
export const haveGethpeer = existsSync(GETHPEER)

/** One `NODE` line of gethpeer's `table` or `lookup` output. */
export interface GethNode {
  id: string
  ip: string
  udp: number
  tcp: number
  seq: bigint
}

/** A running gethpeer, driven through stdin commands and read through its stdout lines. */
export class GethPeer {
  readonly lines: string[] = []
  readonly #child: ChildProcessWithoutNullStreams
  #waiters: (() => void)[] = []
  #exited: Promise<void>
  /** `enode://…` (listen mode) as printed at start. */
  enode = ''
  /** `enr:…` as printed at start. */
  enr = ''
  /** Node id (hex). */
  id = ''

  private constructor(args: string[]) {
    this.#child = spawn(GETHPEER, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    this.#exited = new Promise((resolve) => this.#child.once('exit', () => resolve()))
    createInterface({ input: this.#child.stdout }).on('line', (line) => {
      this.lines.push(line)
      for (const w of this.#waiters.splice(0)) w()
    })
    // geth's own log goes to stderr; keep the pipe drained
    this.#child.stderr.resume()
  }

  /** Starts `gethpeer listen -discv4 …extra` on a free loopback port and waits for its identity lines. */
  static async listen(extra: string[] = []): Promise<GethPeer> {
    const g = new GethPeer(['listen', '-addr', '127.0.0.1:0', '-discv4', ...extra])
    g.enode = (await g.waitFor(/^ENODE /)).split(' ')[1]!
    g.enr = (await g.waitFor(/^ENR /)).split(' ')[1]!
    g.id = (await g.waitFor(/^ID /)).split(' ')[1]!
    return g
  }

  /** Starts `gethpeer listen` without discovery on a free loopback port (RLPx only). */
  static async listenPlain(extra: string[] = []): Promise<GethPeer> {
    const g = new GethPeer(['listen', '-addr', '127.0.0.1:0', ...extra])
    g.enode = (await g.waitFor(/^ENODE /)).split(' ')[1]!.replace(/\?discport=0$/, '')
    return g
  }

  /** Starts `gethpeer dial …args ENODE` (it dials, runs its script and, without -stay, exits). */
  static dial(args: string[]): GethPeer {
    return new GethPeer(['dial', ...args])
  }

  /** Sends a command line without waiting for an answer. */
  write(line: string): void {
    this.#child.stdin.write(`${line}\n`)
  }

  /** Resolves with the exit code once the process has ended. */
  async exitCode(): Promise<number | null> {
    await this.#exited
    return this.#child.exitCode
  }

  /** The UDP (= TCP) port from the enode. */
  get port(): number {
    return Number(/:(\d+)$/.exec(this.enode)![1])
  }

  /** Waits for a line matching `re` (searching from line `from`); rejects after `ms`. */
  async waitFor(re: RegExp, from = 0, ms = 10_000): Promise<string> {
    const deadline = Date.now() + ms
    for (;;) {
      const hit = this.lines.slice(from).find((l) => re.test(l))
      if (hit !== undefined) return hit
      if (Date.now() > deadline) throw new Error(`gethpeer: no line matching ${re} within ${ms} ms; last lines: ${this.lines.slice(-5).join(' | ')}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200)
        this.#waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  /** Runs a command and returns the lines it printed up to and including the one matching `end`. */
  async command(cmd: string, end: RegExp, ms = 10_000): Promise<string[]> {
    const from = this.lines.length
    this.#child.stdin.write(`${cmd}\n`)
    const last = await this.waitFor(end, from, ms)
    const lines = this.lines.slice(from)
    return lines.slice(0, lines.indexOf(last) + 1)
  }

  /** The discv4 table (live entries). */
  async table(): Promise<GethNode[]> {
    return parseNodes(await this.command('table', /^TABLE(-FAIL)? /))
  }

  /** Pings `node` (an enode or enr); true on a Pong. */
  async ping(node: string): Promise<boolean> {
    const out = await this.command(`ping ${node}`, /^(PONG|PING-FAIL) /)
    return out.at(-1)!.startsWith('PONG ok')
  }

  /** Resolves `node`'s record over discv4: the `enr:` text and seq, or the failure text. */
  async resolve(node: string): Promise<{ enr: string; seq: bigint } | { error: string }> {
    const last = (await this.command(`resolve ${node}`, /^(RESOLVED|RESOLVE-FAIL) /)).at(-1)!
    const ok = /^RESOLVED (enr:\S+) seq=(\d+)/.exec(last)
    return ok ? { enr: ok[1]!, seq: BigInt(ok[2]!) } : { error: last }
  }

  /** Quits (discovery first, then the server) and waits for the process to end. */
  async stop(): Promise<void> {
    if (this.#child.exitCode === null) {
      this.#child.stdin.end('quit\n')
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000)
      await this.#exited
      clearTimeout(timer)
    }
  }
}

function parseNodes(lines: string[]): GethNode[] {
  const out: GethNode[] = []
  for (const l of lines) {
    const m = /^NODE id=([0-9a-f]{64}) ip=(\S+) udp=(\d+) tcp=(\d+) seq=(\d+)/.exec(l)
    if (m) out.push({ id: m[1]!, ip: m[2]!, udp: Number(m[3]), tcp: Number(m[4]), seq: BigInt(m[5]!) })
  }
  return out
}
