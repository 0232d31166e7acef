import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidOptionsError } from '@shallot/core';

/** TLS material as read: its bytes and where they came from, for error messages and watching. */
export interface Material {
  /** The option it was given as, for messages (`tls.key`, `tls.endpoints["api.example.com"].cert`). */
  readonly option: string;
  /** The absolute file path, when it was given as one. */
  readonly path: string | undefined;
  readonly data: Buffer;
}

const pemLine = /-----BEGIN [A-Z0-9 ]+-----/;

/** How a piece of material is named in a message: its file, or what kind of value it was. */
export function describeSource(material: Material): string {
  return material.path === undefined ? 'the value given' : `file ${JSON.stringify(material.path)}`;
}

/**
 * Reads one piece of TLS material. A string holding a `-----BEGIN` line is PEM text; any other
 * string is a file path (always so for `pfx`, which is binary). Bytes are taken as they are.
 */
export function readMaterial(option: string, value: string | Uint8Array, kind: 'pem' | 'binary'): Material {
  if (typeof value !== 'string') {
    if (value.byteLength === 0) throw new InvalidOptionsError(`${option}: expected TLS material, got 0 bytes`);
    return { option, path: undefined, data: Buffer.from(value.buffer, value.byteOffset, value.byteLength) };
  }
  if (kind === 'pem' && pemLine.test(value)) return { option, path: undefined, data: Buffer.from(value) };
  const path = resolve(value);
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidOptionsError(`${option}: cannot read file ${JSON.stringify(path)} (${reason})`, { cause: error });
  }
  if (data.byteLength === 0) throw new InvalidOptionsError(`${option}: file ${JSON.stringify(path)} is empty`);
  return { option, path, data };
}

/** The PEM blocks of one kind (`CERTIFICATE`) in a piece of material. */
export function pemBlocks(material: Material, label: string): string[] {
  const text = material.data.toString('latin1');
  const re = new RegExp(`-----BEGIN ${label}-----[\\s\\S]*?-----END ${label}-----`, 'g');
  return text.match(re) ?? [];
}
