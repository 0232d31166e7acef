/** Active handles and requests by kind (`TCPSocketWrap`, `Timeout`...), as `process.getActiveResourcesInfo()` lists them. */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

/** The kinds of which more are active now than in `baseline`, with how many more. */
export function resourcesAbove(baseline: Record<string, number>, now: Record<string, number> = activeResources()): Record<string, number> {
  const above: Record<string, number> = {};
  for (const [kind, count] of Object.entries(now)) {
    const extra = count - (baseline[kind] ?? 0);
    if (extra > 0) above[kind] = extra;
  }
  return above;
}

/**
 * Polls (every 10 ms, at most `timeoutMs`) until no kind of resource is above `baseline`, and
 * returns what is still above it then: `{}` when everything was released.
 */
export async function settleResources(baseline: Record<string, number>, timeoutMs = 3_000): Promise<Record<string, number>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const above = resourcesAbove(baseline);
    if (Object.keys(above).length === 0 || Date.now() >= end) return above;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
