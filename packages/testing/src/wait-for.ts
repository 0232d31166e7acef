/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /** Give up after this long. @default 3000 */
  timeoutMs?: number;
  /** Check this often. @default 5 */
  intervalMs?: number;
}

/**
 * Resolves once `check` returns true, polling in real time; rejects after `timeoutMs`. For
 * conditions a test cannot await directly: a server seeing a socket close, a background
 * request arriving.
 *
 * @example
 * await waitFor(() => server.requests('/slow').at(-1)?.aborted === true);
 */
export async function waitFor(check: () => boolean | Promise<boolean>, options: WaitForOptions = {}): Promise<void> {
  const { timeoutMs = 3_000, intervalMs = 5 } = options;
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`waitFor: condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
