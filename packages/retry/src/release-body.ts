const maxDrainBytes = 64 * 1024;
const nothing = (): void => {};

/**
 * Starts freeing the connection a response we will not return still holds, and returns the
 * function that finishes the job. Until it is called the body is drained (up to 64 KiB), so a
 * small body read in full leaves its keep-alive socket reusable; when it is called, whatever is
 * left is cancelled and the socket closed. Retry drains during its backoff wait and stops when
 * the wait ends.
 *
 * Draining first is what keeps the socket: a cancelled body closes its connection, a body read
 * to its end returns it to the pool.
 */
export function releaseBody(response: Response | undefined): () => void {
  if (response === undefined || response.bodyUsed) return nothing;
  let reader: ReadableStreamDefaultReader<Uint8Array>;
  try {
    const body = response.body;
    if (body === null) return nothing;
    reader = body.getReader();
  } catch {
    return nothing;
  }
  let finished = false;
  const cancel = (): void => {
    if (finished) return;
    finished = true;
    // A new stream calls its source's pull only after a tick; cancel once the read reached it.
    setImmediate(() => {
      reader.cancel().catch(nothing);
    });
  };
  let bytes = 0;
  const drain = async (): Promise<void> => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || finished) {
        finished = true;
        return;
      }
      bytes += value.byteLength;
      if (bytes > maxDrainBytes) return cancel();
    }
  };
  drain().catch(() => {
    finished = true;
  });
  return cancel;
}
