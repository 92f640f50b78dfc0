import { createServer, connect, type Socket } from 'node:net'

/** Two ends of a real loopback TCP connection: [dialer side, accepted side]. */
export async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve))
  const dialer = connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    dialer.once('connect', resolve)
    dialer.once('error', reject)
  })
  const other = await accepted
  server.close()
  return [dialer, other]
}

/** Rejects with a clear message if `promise` does not settle within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
    }),
  ])
}

/** Polls `check` until it returns true or `ms` elapses. */
export async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/**
 * Polls `check` (which may itself poke the network, or ask a child process) every `every`
 * ms until it holds, for at most `ms` of wall time; resolves with the time it took. For
 * what runs outside this process, where no virtual clock reaches.
 */
export async function until(what: string, ms: number, check: () => Promise<boolean> | boolean, every = 250): Promise<number> {
  const start = Date.now()
  while (!(await check())) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, every))
  }
  return Date.now() - start
}
