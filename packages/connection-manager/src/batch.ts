import { isNullBodyStatus, parseOptions, type RequestOptions } from '@shallot/core';
import { z } from 'zod';

/** One request of a batch: `{ method, url, ...init }`, or the original's `[method, url, init]`. */
export type BatchItem =
  | ({ readonly method: string; readonly url: string | URL } & RequestOptions)
  | readonly [method: string, url: string | URL]
  | readonly [method: string, url: string | URL, init: RequestOptions];

/** Options of `batchRequest()`. */
export const batchOptionsSchema = z.strictObject({
  /** Requests in flight at once. @default 5 */
  maxWorkers: z.number().int().min(1).max(1_000).default(5),
  /** Put each failure in the results (true), or throw the first failure, by index, once all settled (false). @default true */
  returnExceptions: z.boolean().default(true),
});

/** What `batchRequest()` takes as options. */
export type BatchOptions = z.input<typeof batchOptionsSchema>;

const method = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'expected an HTTP method');
const url = z.union([z.string().min(1), z.instanceof(URL)], { message: 'expected a URL (a string or a URL)' });
const init = z.custom<Record<string, unknown>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), { message: 'expected an options object' });
const itemSchema = z.union(
  [
    z.tuple([method, url]),
    z.tuple([method, url, init]),
    z.looseObject({ method, url }),
  ],
  { message: 'expected { method, url, ...init } or [method, url, init]' },
);

/** Checks every item before anything is sent: a bad one throws `InvalidOptionsError` naming its index. */
export function normalizeItems(items: readonly BatchItem[]): Array<[string, string | URL, RequestOptions]> {
  if (!Array.isArray(items)) parseOptions(z.array(z.unknown()), items, 'batchRequest.items');
  return items.map((item, index) => {
    // A tuple is checked as a tuple, so its error names the element that is wrong.
    const schema = Array.isArray(item) ? (item.length === 2 ? itemSchema.options[0] : itemSchema.options[1]) : itemSchema.options[2];
    const parsed = parseOptions(schema, item, `batchRequest.items[${index}]`) as unknown;
    if (Array.isArray(parsed)) return [parsed[0], parsed[1], (parsed[2] ?? {}) as RequestOptions];
    const { method: m, url: u, ...rest } = item as { method: string; url: string | URL } & RequestOptions;
    return [m, u, rest];
  });
}

/**
 * A copy of `response` whose body is already in memory, as requests' `Response.content` is, so a
 * batch of results never holds a pooled connection while the caller gets to them.
 */
async function buffered(response: Response): Promise<Response> {
  const body = isNullBodyStatus(response.status) ? null : new Uint8Array(await response.arrayBuffer());
  const copy = new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  Object.defineProperty(copy, 'url', { value: response.url });
  return copy;
}

/**
 * Sends `items` through `send`, at most `maxWorkers` at once, and returns the results in input
 * order: each a `Response` (its body read into memory) or, with `returnExceptions`, the error it
 * failed with. Without `returnExceptions` it waits for every request to settle and then throws
 * the failure with the lowest index.
 */
export async function runBatch(
  send: (method: string, url: string | URL, init: RequestOptions) => Promise<Response>,
  items: readonly BatchItem[],
  options: BatchOptions | undefined,
): Promise<Array<Response | Error>> {
  const { maxWorkers, returnExceptions } = parseOptions(batchOptionsSchema, options, 'batchRequest');
  const requests = normalizeItems(items);
  const results: Array<Response | Error> = new Array(requests.length);
  const failed: boolean[] = new Array(requests.length).fill(false);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < requests.length; i = next++) {
      const [m, u, init] = requests[i] as [string, string | URL, RequestOptions];
      try {
        results[i] = await buffered(await send(m, u, init));
      } catch (error) {
        failed[i] = true;
        results[i] = error instanceof Error ? error : new Error(String(error), { cause: error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(maxWorkers, requests.length) }, worker));
  if (!returnExceptions) {
    const first = failed.indexOf(true);
    if (first !== -1) throw results[first];
  }
  return results;
}
