import { createHash } from 'node:crypto';
import { createSecureContext, rootCertificates } from 'node:tls';
import { InvalidOptionsError, type TlsOptions as CoreTlsOptions } from '@shallot/core';
import { checkKeyPair, checkPfx, type Passphrase, readCertificates } from './client-identity.js';
import { type Material, readMaterial } from './material.js';
import type { ResolvedTlsEndpointOptions, ResolvedTlsOptions } from './options.js';
import { PinFailureLog, pinningCheck, pinningVerifier } from './pin-check.js';

/** The name of the configuration used when no endpoint pattern matches. */
export const defaultConfigName = '(default)';

type Field = keyof ResolvedTlsEndpointOptions;

const fields: readonly Field[] = [
  'cert',
  'key',
  'passphrase',
  'pfx',
  'ca',
  'caMode',
  'rejectUnauthorized',
  'minVersion',
  'maxVersion',
  'ciphers',
  'servername',
  'pins',
];
const identityFields: ReadonlySet<Field> = new Set(['cert', 'key', 'passphrase', 'pfx']);
const versionRank = { TLSv1: 1, 'TLSv1.1': 2, 'TLSv1.2': 3, 'TLSv1.3': 4 } as const;

/** One configuration's settings after inheritance, with the option each field was given as. */
export interface Settings {
  /** `(default)` or the endpoint pattern. */
  readonly name: string;
  readonly values: ResolvedTlsEndpointOptions;
  readonly origin: Partial<Record<Field, string>>;
}

/** A built configuration: the transport-facing TLS options object and what it was made from. */
export interface Built {
  readonly name: string;
  /** Handed to the transport as `ctx.tls`; one object per configuration, so its pool is shared. */
  readonly tls: CoreTlsOptions;
  /** A digest of the material read: an unchanged digest keeps the same object (and pool). */
  readonly fingerprint: string;
  /** Verification is off. */
  readonly insecure: boolean;
  readonly pins: readonly string[];
  readonly servername: string | undefined;
  readonly failures: PinFailureLog;
  /** The files read, for watching. */
  readonly files: readonly string[];
}

function optionPath(pattern: string | undefined, field: Field): string {
  return pattern === undefined ? `tls.${field}` : `tls.endpoints[${JSON.stringify(pattern)}].${field}`;
}

/**
 * The settings of the default configuration, or of one endpoint: each field an endpoint leaves
 * unset comes from the top level, except the client identity (cert, key, pfx, passphrase),
 * which comes whole from one place so a key is never paired with another endpoint's certificate.
 */
export function settingsFor(resolved: ResolvedTlsOptions, pattern?: string): Settings {
  const endpoint = pattern === undefined ? undefined : resolved.endpoints?.[pattern];
  const ownIdentity = endpoint !== undefined && [...identityFields].some((f) => endpoint[f] !== undefined);
  const values: Record<string, unknown> = {};
  const origin: Partial<Record<Field, string>> = {};
  for (const field of fields) {
    const fromEndpoint = endpoint !== undefined && (identityFields.has(field) ? ownIdentity : endpoint[field] !== undefined);
    const value = fromEndpoint ? endpoint[field] : resolved[field];
    if (value === undefined) continue;
    values[field] = value;
    origin[field] = optionPath(fromEndpoint ? pattern : undefined, field);
  }
  return { name: pattern ?? defaultConfigName, values: values as ResolvedTlsEndpointOptions, origin };
}

function fail(message: string): never {
  throw new InvalidOptionsError(message);
}

/** Checks how the fields of one configuration go together. */
function checkCombination({ values: v, origin, name }: Settings): void {
  const at = (field: Field): string => origin[field] ?? optionPath(name === defaultConfigName ? undefined : name, field);
  if (v.cert !== undefined && v.key === undefined) fail(`${at('key')}: missing: a client certificate (${at('cert')}) needs its private key`);
  if (v.key !== undefined && v.cert === undefined) fail(`${at('cert')}: missing: a client key (${at('key')}) needs its certificate`);
  if (v.pfx !== undefined && v.cert !== undefined) fail(`${at('pfx')}: give either pfx or cert and key, not both`);
  if (v.passphrase !== undefined && v.key === undefined && v.pfx === undefined) {
    fail(`${at('passphrase')}: a passphrase was given without a key or pfx to open`);
  }
  if (v.minVersion !== undefined && v.maxVersion !== undefined && versionRank[v.minVersion] > versionRank[v.maxVersion]) {
    fail(`${at('minVersion')}: minVersion ${v.minVersion} is above maxVersion ${v.maxVersion}`);
  }
}

function secureContextFailure(error: unknown, settings: Settings): InvalidOptionsError {
  const reason = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown }).code;
  const field: Field = code === 'ERR_SSL_NO_CIPHER_MATCH' ? 'ciphers' : /version/i.test(reason) ? 'minVersion' : 'ca';
  const path = settings.origin[field] ?? `tls (${settings.name})`;
  return new InvalidOptionsError(`${path}: rejected by OpenSSL (${reason})`, { cause: error });
}

/**
 * Reads the files of one configuration, checks the material (readable, key matches the
 * certificate, passphrase right, CA certificates parse, cipher list known) and builds the
 * transport-facing TLS options. When the material is unchanged since `previous`, `previous` is
 * returned as it is, so the transport keeps its pool.
 */
export function buildConfig(settings: Settings, previous?: Built): Built {
  checkCombination(settings);
  const { values: v, origin } = settings;
  const read = (field: 'cert' | 'key' | 'pfx', value: string | Uint8Array | undefined): Material | undefined =>
    value === undefined ? undefined : readMaterial(origin[field] as string, value, field === 'pfx' ? 'binary' : 'pem');
  const cert = read('cert', v.cert);
  const key = read('key', v.key);
  const pfx = read('pfx', v.pfx);
  const caList = v.ca === undefined ? [] : Array.isArray(v.ca) ? v.ca : [v.ca];
  const ca = caList.map((item, index) =>
    readMaterial(Array.isArray(v.ca) ? `${origin.ca as string}.${index}` : (origin.ca as string), item, 'pem'),
  );
  const passphrase: Passphrase | undefined = v.passphrase === undefined ? undefined : { value: v.passphrase, option: origin.passphrase as string };

  const digest = createHash('sha256');
  for (const m of [cert, key, pfx, ...ca]) digest.update(m === undefined ? '-' : m.data).update('|');
  const fingerprint = digest.digest('hex');
  if (previous !== undefined && previous.fingerprint === fingerprint) return previous;

  if (cert !== undefined && key !== undefined) checkKeyPair(cert, key, passphrase);
  if (pfx !== undefined) checkPfx(pfx, passphrase);
  for (const m of ca) readCertificates(m);

  const options: CoreTlsOptions = { rejectUnauthorized: v.rejectUnauthorized !== false };
  if (cert !== undefined) options.cert = cert.data;
  if (key !== undefined) options.key = key.data;
  if (pfx !== undefined) options.pfx = pfx.data;
  if (v.passphrase !== undefined) options.passphrase = v.passphrase;
  if (ca.length > 0) options.ca = v.caMode === 'append' ? [...rootCertificates, ...ca.map((m) => m.data)] : ca.map((m) => m.data);
  if (v.minVersion !== undefined) options.minVersion = v.minVersion;
  if (v.maxVersion !== undefined) options.maxVersion = v.maxVersion;
  if (v.ciphers !== undefined) options.ciphers = v.ciphers;
  if (v.servername !== undefined) options.servername = v.servername;
  try {
    const { cert: c, key: k, pfx: p, passphrase: pw, ca: a, minVersion, maxVersion, ciphers } = options;
    createSecureContext({ cert: c, key: k, pfx: p, passphrase: pw, ca: a, minVersion, maxVersion, ciphers });
  } catch (error) {
    throw secureContextFailure(error, settings);
  }
  const failures = new PinFailureLog();
  const pins = v.pins ?? [];
  if (pins.length > 0) {
    // Node consults checkServerIdentity only while verifying; without verification the pins are
    // checked after the handshake, before the socket reaches the HTTP layer.
    if (v.rejectUnauthorized === false) options.verifyPeer = pinningVerifier(pins, failures);
    else options.checkServerIdentity = pinningCheck(pins, failures);
  }

  const files = [cert, key, pfx, ...ca].flatMap((m) => (m?.path === undefined ? [] : [m.path]));
  return {
    name: settings.name,
    tls: Object.freeze(options),
    fingerprint,
    insecure: v.rejectUnauthorized === false,
    pins,
    servername: v.servername,
    failures,
    files,
  };
}
