// HPKE (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM, through
// @hpke/core. Accounts hold an X25519 key pair; nothing is sealed with it yet (sharing is planned).
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { x25519 } from '@noble/curves/ed25519.js';
import { CryptoError } from './errors';

export function hpkeSuite(): CipherSuite {
  return new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
}

export function x25519PublicKey(priv: Uint8Array): Uint8Array {
  return x25519.getPublicKey(priv);
}

export async function hpkeSeal(recipientPublic: Uint8Array, info: Uint8Array, aad: Uint8Array, pt: Uint8Array): Promise<{ enc: Uint8Array; ct: Uint8Array }> {
  const suite = hpkeSuite();
  const recipientPublicKey = await suite.kem.deserializePublicKey(recipientPublic.slice().buffer);
  const sender = await suite.createSenderContext({ recipientPublicKey, info: info.slice().buffer });
  const ct = await sender.seal(pt.slice().buffer, aad.slice().buffer);
  return { enc: new Uint8Array(sender.enc), ct: new Uint8Array(ct) };
}

export async function hpkeOpen(recipientPrivate: Uint8Array, enc: Uint8Array, info: Uint8Array, aad: Uint8Array, ct: Uint8Array): Promise<Uint8Array> {
  const suite = hpkeSuite();
  try {
    const skR = await suite.kem.deserializePrivateKey(recipientPrivate.slice().buffer);
    const pkR = await suite.kem.deserializePublicKey(x25519PublicKey(recipientPrivate).slice().buffer);
    const recipient = await suite.createRecipientContext({ recipientKey: { privateKey: skR, publicKey: pkR }, enc: enc.slice().buffer, info: info.slice().buffer });
    return new Uint8Array(await recipient.open(ct.slice().buffer, aad.slice().buffer));
  } catch {
    throw new CryptoError('integrity', 'integrity check failed');
  }
}
