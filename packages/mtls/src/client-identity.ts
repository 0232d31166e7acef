import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { InvalidOptionsError } from '@shallot/core';
import { describeSource, type Material, pemBlocks } from './material.js';

/** The passphrase and the option it was given as. */
export interface Passphrase {
  readonly value: string;
  readonly option: string;
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Parses every certificate of a PEM bundle; fails when there is none or one is broken. */
export function readCertificates(material: Material): X509Certificate[] {
  const blocks = pemBlocks(material, 'CERTIFICATE');
  if (blocks.length === 0) {
    throw new InvalidOptionsError(`${material.option}: no PEM certificate (-----BEGIN CERTIFICATE-----) in ${describeSource(material)}`);
  }
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new InvalidOptionsError(
        `${material.option}: certificate ${index + 1} in ${describeSource(material)} cannot be parsed (${reasonOf(error)})`,
        { cause: error },
      );
    }
  });
}

const encryptedKey = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: *4,ENCRYPTED/;

/**
 * Checks a client certificate and its key: both readable, the key decrypted by the passphrase
 * when it is encrypted, and the key the one the certificate was issued for.
 */
export function checkKeyPair(cert: Material, key: Material, passphrase: Passphrase | undefined): void {
  const leaf = readCertificates(cert)[0] as X509Certificate;
  const source = describeSource(key);
  const encrypted = encryptedKey.test(key.data.toString('latin1'));
  if (encrypted && passphrase === undefined) {
    throw new InvalidOptionsError(`${key.option}: the key in ${source} is encrypted; give its passphrase (passphrase)`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: key.data, format: 'pem', ...(passphrase === undefined ? {} : { passphrase: passphrase.value }) });
  } catch (error) {
    if (encrypted && passphrase !== undefined) {
      throw new InvalidOptionsError(`${passphrase.option}: wrong passphrase for the encrypted key in ${key.option} (${source})`, {
        cause: error,
      });
    }
    throw new InvalidOptionsError(`${key.option}: ${source} holds no PEM private key that can be read (${reasonOf(error)})`, { cause: error });
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new InvalidOptionsError(
      `${key.option}: the key in ${source} does not match the certificate in ${cert.option} (${describeSource(cert)}, subject ${leaf.subject.replace(/\n/g, ', ')})`,
    );
  }
}

/** Checks that a PKCS#12 bundle opens with the passphrase given. */
export function checkPfx(pfx: Material, passphrase: Passphrase | undefined): void {
  try {
    createSecureContext({ pfx: pfx.data, ...(passphrase === undefined ? {} : { passphrase: passphrase.value }) });
  } catch (error) {
    const source = describeSource(pfx);
    if (/mac verify failure/i.test(reasonOf(error))) {
      throw new InvalidOptionsError(
        passphrase === undefined
          ? `${pfx.option}: the PKCS#12 bundle in ${source} is protected; give its passphrase (passphrase)`
          : `${passphrase.option}: wrong passphrase for the PKCS#12 bundle in ${pfx.option} (${source})`,
        { cause: error },
      );
    }
    throw new InvalidOptionsError(`${pfx.option}: ${source} is not a PKCS#12 bundle that can be read (${reasonOf(error)})`, { cause: error });
  }
}
