// The chat node with discovery, as processes over real UDP and TCP on loopback: nodes join
// an entry node by `--bootnode host:port` (its key learnt from its signed Pong, trusted on
// first use), and the entry node, restarted with no bootnode, finds them again by itself
// from its node database.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { waitFor } from './support/net.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'chat-discovery-'))
/** Generous: each step is a few loopback round trips and a lookup, on a machine that may be busy. */
const STEP = 30_000

interface ChatProcess {
  nick: string
  proc: ChildProcessWithoutNullStreams
  events: Record<string, unknown>[]
  stderr: string
  exited: boolean
}
const running: ChatProcess[] = []

function start(nick: string, extra: string[] = []): ChatProcess {
  const args = ['--import', 'tsx', 'examples/chat.ts', '--port', '0', '--nodekey', join(dir, `${nick}.key`), '--nick', nick, '--json', '--presence-interval', '2000', ...extra]
  const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: 'pipe', env: { ...process.env, NO_COLOR: '', DEBUG: '' } })
  const node: ChatProcess = { nick, proc, events: [], stderr: '', exited: false }
  let partial = ''
  proc.stdout.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8')
    for (let nl = partial.indexOf('\n'); nl >= 0; nl = partial.indexOf('\n')) {
      node.events.push(JSON.parse(partial.slice(0, nl)) as Record<string, unknown>)
      partial = partial.slice(nl + 1)
    }
  })
  proc.stderr.on('data', (chunk: Buffer) => (node.stderr += chunk.toString('utf8')))
  proc.stdin.on('error', () => {})
  proc.on('close', () => (node.exited = true))
  running.push(node)
  return node
}

const of = (n: ChatProcess, type: string): Record<string, unknown>[] => n.events.filter((e) => e.type === type)
const ready = async (n: ChatProcess): Promise<{ id: string; port: number }> => {
  await waitFor(() => of(n, 'ready').length === 1 || n.exited, STEP, `${n.nick} to start`)
  const r = of(n, 'ready')[0]
  assert.ok(r, `${n.nick} exited: ${n.stderr}`)
  return { id: r!.id as string, port: Number(String(r!.address).split(':').pop()) }
}
async function quit(n: ChatProcess): Promise<void> {
  n.proc.stdin.end()
  await waitFor(() => n.exited, STEP, `${n.nick} to exit`)
}

test.after(async () => {
  for (const n of running) if (!n.exited) n.proc.kill('SIGKILL')
  await waitFor(() => running.every((n) => n.exited), STEP, 'every chat node to exit')
  rmSync(dir, { recursive: true, force: true })
})

/** Asks `node` for /who and says whether its last answer shows an overlay neighbour. */
function hasNeighbour(node: ChatProcess): boolean {
  node.proc.stdin.write('/who\n')
  const who = of(node, 'who').at(-1)?.members as { neighbour: boolean }[] | undefined
  return who !== undefined && who.some((m) => m.neighbour)
}

test('--bootnode host:port joins through the entry node; the entry node, restarted with no bootnode, finds the others again by itself', async () => {
  let ann = start('ann')
  const a = await ready(ann)
  const bob = start('bob', ['--bootnode', `127.0.0.1:${a.port}`])
  const cat = start('cat', ['--bootnode', `127.0.0.1:${a.port}`])
  const [b, c] = [await ready(bob), await ready(cat)]
  for (const n of [bob, cat]) {
    await waitFor(() => of(n, 'resolved').some((e) => e.id === a.id), STEP, `${n.nick} to learn who listens at ann's address`)
    assert.is(of(n, 'resolved')[0]!.trust, 'first-use')
    await waitFor(() => of(n, 'connected').some((e) => e.id === a.id), STEP, `${n.nick} to connect to ann`)
  }
  // ann learns of each by a live announcement or from a roster answer, whichever comes first.
  await waitFor(() => {
    ann.proc.stdin.write('/who\n')
    const who = of(ann, 'who').at(-1)?.members as { id: string }[] | undefined
    return who !== undefined && [b.id, c.id].every((id) => who.some((m) => m.id === id))
  }, STEP, 'ann to list bob and cat in /who')
  // Sessions the dialer made from discovery are contacts to floodnet, and chat floods over
  // overlay links only: each joins the overlay (three nodes each with a neighbour: one overlay).
  await waitFor(() => [ann, bob, cat].every((n) => hasNeighbour(n)), STEP, 'ann, bob and cat to be in one overlay')
  bob.proc.stdin.write('hello via an address\n')
  await waitFor(() => of(ann, 'message').some((e) => e.text === 'hello via an address') && of(cat, 'message').some((e) => e.text === 'hello via an address'), STEP, 'bob\'s line at ann and cat')

  await quit(ann)
  // bob and cat still have each other; nobody will dial ann for it.
  ann = start('ann')
  assert.is((await ready(ann)).id, a.id, 'the same identity')
  await waitFor(() => of(ann, 'peer').some((e) => e.event === 'added' && (e.id === b.id || e.id === c.id)), STEP, 'the restarted ann to reconnect to bob or cat from what it remembers')
  // That session is discovery's, a contact to floodnet: ann joins the overlay through it,
  // and chat floods over overlay links only.
  await waitFor(() => hasNeighbour(ann), STEP, 'the restarted ann to join the overlay through them')
  ann.proc.stdin.write('back again\n')
  await waitFor(() => of(bob, 'message').some((e) => e.text === 'back again') && of(cat, 'message').some((e) => e.text === 'back again'), STEP, 'ann\'s line at bob and cat')
})

test.run()
