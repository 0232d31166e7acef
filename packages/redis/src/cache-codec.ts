import type { CacheEntry, CacheIndex, CacheRecord } from '@shallot/cache';

/*
 * A cache record as one binary-safe Redis value:
 *   [u32 big-endian: header length][header: JSON][body: the response bytes, as received]
 * The header holds everything but the body (the kind, status, status text and the policy of a
 * response; the Vary names, epoch and variant keys of an index), so the body is stored as it
 * is, never re-encoded.
 */

type Header = Omit<CacheEntry, 'body'> | CacheIndex;

/** Encodes a record for SET. */
export function encodeRecord(record: CacheRecord): Buffer {
  const { body, ...rest } = record.kind === 'response' ? record : { ...record, body: undefined };
  const header = Buffer.from(JSON.stringify(rest satisfies Header), 'utf8');
  const length = Buffer.allocUnsafe(4);
  length.writeUInt32BE(header.byteLength, 0);
  return body === undefined ? Buffer.concat([length, header]) : Buffer.concat([length, header, body]);
}

/** Decodes what {@link encodeRecord} made; `undefined` for anything else (the key is then a miss). */
export function decodeRecord(value: Buffer): CacheRecord | undefined {
  if (value.byteLength < 4) return undefined;
  const headerEnd = 4 + value.readUInt32BE(0);
  if (headerEnd > value.byteLength) return undefined;
  let header: Header;
  try {
    header = JSON.parse(value.toString('utf8', 4, headerEnd)) as Header;
  } catch {
    return undefined;
  }
  if (header.kind === 'index') return header;
  if (header.kind !== 'response') return undefined;
  // A plain Uint8Array of its own: ioredis hands out views into its read buffer, and a Buffer's
  // slice() is a view too (a consumer copying with slice() would get the whole buffer's bytes).
  return { ...header, body: new Uint8Array(value.subarray(headerEnd)) };
}
