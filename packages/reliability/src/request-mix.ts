import type { RequestOptions } from '@shallot/core';

/** The kinds of request the soak sends. */
export type RequestKind = 'GET' | 'GET cacheable' | 'POST' | 'POST with Idempotency-Key' | 'PUT' | 'DELETE';

/** The share of each kind: mostly GETs, a fifth POSTs (a quarter of those with an Idempotency-Key). */
export const requestMix: ReadonlyArray<readonly [RequestKind, number]> = [
  ['GET', 0.55],
  ['GET cacheable', 0.12],
  ['POST', 0.15],
  ['POST with Idempotency-Key', 0.05],
  ['PUT', 0.08],
  ['DELETE', 0.05],
];

/** One request of the soak, drawn from the mix. */
export interface PlannedRequest {
  readonly kind: RequestKind;
  readonly method: string;
  readonly path: string;
  /** Headers, body and `throwHttpErrors`; the signal is added by the caller. */
  readonly init: RequestOptions;
  /** Aborted by its own caller this many ms after it starts, or `undefined`. */
  readonly abortAfterMs: number | undefined;
}

function pickKind(r: number): RequestKind {
  let left = r;
  for (const [kind, share] of requestMix) {
    left -= share;
    if (left < 0) return kind;
  }
  return 'GET';
}

/**
 * Draws request `i`: its kind, a tenth with `throwHttpErrors`, one in a hundred aborted by its
 * caller within 100 ms. Every request carries `tagHeader: i`, so the upstream counts its
 * arrivals; a POST with a key carries `Idempotency-Key: soak-<seed>-<i>`.
 */
export function planRequest(i: number, draw: () => number, tagHeader: string, seed: number): PlannedRequest {
  const kind = pickKind(draw());
  const throwHttpErrors = draw() < 0.1;
  const ownAbort = draw() < 0.01;
  const abortAfterMs = Math.floor(draw() * 100);
  const headers: Record<string, string> = { [tagHeader]: String(i) };
  const init: RequestOptions = { headers, throwHttpErrors };
  let method = 'GET';
  let path = `/items/${i % 1_000}`;
  if (kind === 'GET cacheable') path = `/cacheable/${i % 16}`;
  else if (kind === 'POST' || kind === 'POST with Idempotency-Key') {
    method = 'POST';
    path = '/orders';
    init.json = { order: i };
    if (kind === 'POST with Idempotency-Key') headers['idempotency-key'] = `soak-${seed}-${i}`;
  } else if (kind === 'PUT') {
    method = 'PUT';
    init.json = { item: i };
  } else if (kind === 'DELETE') method = 'DELETE';
  return { kind, method, path, init, abortAfterMs: ownAbort ? abortAfterMs : undefined };
}
