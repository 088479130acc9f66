/** Options of {@link eventually}. */
export interface EventuallyOptions {
  /** Readings at the most. Default 40. */
  attempts?: number
  /** Between readings. Default 250 ms. */
  intervalMs?: number
}

/**
 * Reads until `done` holds of the reading, at most `attempts` times, and answers the last
 * reading either way, so that the assertion that follows shows what was seen.
 *
 * @example
 * expect(await eventually(async () => await dockerCliOutput(host, ['info'], { home }), (info) => / Nodes: 2\n/.test(info))).toMatch(/ Nodes: 2\n/)
 */
export async function eventually<T> (read: () => Promise<T>, done: (value: T) => boolean, options: EventuallyOptions = {}): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 40)
  let last = await read()
  for (let attempt = 1; attempt < attempts && !done(last); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 250))
    last = await read()
  }
  return last
}
