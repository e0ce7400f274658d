// OPAQUE client (RFC 9807): OPRF ristretto255-SHA512, 3DH over ristretto255 with SHA-512, KSF
// Argon2id as opaque-ke's (salt = 16 zero bytes, output 64 bytes), default identifiers (the
// public keys), empty context. The same suite as crates/castellan-crypto/src/opaque.rs.
//
// Written here instead of using @serenity-kit/opaque's client because that package takes the
// password as a JavaScript string and encodes it as UTF-8, while Castellan's password input is
// bytes ("castellan/v1/opaque-pw" || LP(NFKC(password)) || 16 raw Secret Key bytes), which are
// not UTF-8 in general. @serenity-kit/opaque (the same opaque-ke suite) is used by the tests as
// the reference server and client.
import { ristretto255, ristretto255_oprf } from '@noble/curves/ed25519.js';
import { concat, ctEq, randomBytes, utf8 } from './bytes';
import { CryptoError } from './errors';
import { argon2id, checkCeiling, checkFloor, type KsfParams } from './kdf';
import { hkdfSha512Expand, hkdfSha512Extract, hmacSha512, sha512 } from './primitives';

const oprf = ristretto255_oprf.oprf;
const Point = ristretto255.Point;
const Nn = 32;
const Npk = 32;
const Nh = 64;
const Nm = 64;
const DH_INFO = utf8('OPAQUE-DeriveDiffieHellmanKeyPair');
const EMPTY = new Uint8Array(0);

function i2osp2(n: number): Uint8Array {
  return new Uint8Array([(n >> 8) & 0xff, n & 0xff]);
}

function scalarLE(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]);
  return n;
}

function decodePoint(b: Uint8Array, what: string) {
  try {
    const p = Point.fromBytes(b);
    if (p.is0()) throw new Error('identity');
    return p;
  } catch {
    throw new CryptoError('opaque', `malformed ${what}`);
  }
}

function dh(sk: Uint8Array, pk: Uint8Array, what: string): Uint8Array {
  return decodePoint(pk, what).multiply(scalarLE(sk)).toBytes();
}

function deriveDhKeyPair(seed: Uint8Array): { sk: Uint8Array; pk: Uint8Array } {
  const k = oprf.deriveKeyPair(seed, DH_INFO);
  return { sk: k.secretKey, pk: k.publicKey };
}

function expandLabel(secret: Uint8Array, label: string, context: Uint8Array, len: number): Uint8Array {
  const full = utf8('OPAQUE-' + label);
  const info = concat(i2osp2(len), new Uint8Array([full.length]), full, new Uint8Array([context.length]), context);
  return hkdfSha512Expand(secret, info, len);
}

function ksf(params: KsfParams): KsfParams {
  checkFloor(params);
  checkCeiling(params);
  return params;
}

async function randomizedPassword(pwIn: Uint8Array, blind: Uint8Array, evaluated: Uint8Array, params: KsfParams): Promise<Uint8Array> {
  decodePoint(evaluated, 'evaluated element');
  let out: Uint8Array;
  try {
    out = oprf.finalize(pwIn, blind, evaluated);
  } catch {
    throw new CryptoError('opaque', 'malformed evaluated element');
  }
  const stretched = await argon2id(out, new Uint8Array(16), params, Nh);
  const rp = hkdfSha512Extract(EMPTY, concat(out, stretched));
  out.fill(0);
  stretched.fill(0);
  return rp;
}

interface Recovered {
  clientSk: Uint8Array;
  clientPk: Uint8Array;
  exportKey: Uint8Array;
}

function envelopeKeys(rp: Uint8Array, nonce: Uint8Array): { authKey: Uint8Array; exportKey: Uint8Array; clientSk: Uint8Array; clientPk: Uint8Array } {
  const authKey = hkdfSha512Expand(rp, concat(nonce, utf8('AuthKey')), Nh);
  const exportKey = hkdfSha512Expand(rp, concat(nonce, utf8('ExportKey')), Nh);
  const seed = hkdfSha512Expand(rp, concat(nonce, utf8('PrivateKey')), 32);
  const { sk, pk } = deriveDhKeyPair(seed);
  seed.fill(0);
  return { authKey, exportKey, clientSk: sk, clientPk: pk };
}

function cleartextCredentials(serverPk: Uint8Array, clientPk: Uint8Array): Uint8Array {
  return concat(serverPk, i2osp2(serverPk.length), serverPk, i2osp2(clientPk.length), clientPk);
}

export interface ClientRegistrationState {
  blind: Uint8Array;
}

export function clientRegistrationStart(pwIn: Uint8Array): { state: ClientRegistrationState; request: Uint8Array } {
  const { blind, blinded } = oprf.blind(pwIn);
  return { state: { blind }, request: blinded };
}

/** Returns the registration upload (record), the export key and the server's public key. */
export async function clientRegistrationFinish(
  state: ClientRegistrationState,
  pwIn: Uint8Array,
  response: Uint8Array,
  params: KsfParams,
): Promise<{ upload: Uint8Array; exportKey: Uint8Array; serverPublicKey: Uint8Array }> {
  ksf(params);
  if (response.length !== 32 + Npk) throw new CryptoError('opaque', 'malformed registration response');
  const evaluated = response.subarray(0, 32);
  const serverPk = response.slice(32);
  decodePoint(serverPk, 'registration response');
  const rp = await randomizedPassword(pwIn, state.blind, evaluated, params);
  state.blind.fill(0);
  const nonce = randomBytes(Nn);
  const maskingKey = hkdfSha512Expand(rp, utf8('MaskingKey'), Nh);
  const { authKey, exportKey, clientSk, clientPk } = envelopeKeys(rp, nonce);
  rp.fill(0);
  clientSk.fill(0);
  const tag = hmacSha512(authKey, concat(nonce, cleartextCredentials(serverPk, clientPk)));
  authKey.fill(0);
  const upload = concat(clientPk, maskingKey, nonce, tag);
  maskingKey.fill(0);
  return { upload, exportKey, serverPublicKey: serverPk };
}

export interface ClientLoginState {
  blind: Uint8Array;
  ke1: Uint8Array;
  clientSecret: Uint8Array;
}

export function clientLoginStart(pwIn: Uint8Array): { state: ClientLoginState; request: Uint8Array } {
  const { blind, blinded } = oprf.blind(pwIn);
  const clientNonce = randomBytes(Nn);
  const seed = randomBytes(32);
  const { sk, pk } = deriveDhKeyPair(seed);
  seed.fill(0);
  const ke1 = concat(blinded, clientNonce, pk);
  return { state: { blind, ke1, clientSecret: sk }, request: ke1 };
}

/**
 * Returns the credential finalization (KE3), the session key, the export key and the server's
 * public key. A wrong password or Secret Key fails here ('opaque' error).
 */
export async function clientLoginFinish(
  state: ClientLoginState,
  pwIn: Uint8Array,
  ke2: Uint8Array,
  params: KsfParams,
): Promise<{ finalization: Uint8Array; sessionKey: Uint8Array; exportKey: Uint8Array; serverPublicKey: Uint8Array }> {
  ksf(params);
  const maskedLen = Npk + Nn + Nm;
  if (ke2.length !== 32 + Nn + maskedLen + Nn + 32 + Nm) throw new CryptoError('opaque', 'malformed credential response');
  const evaluated = ke2.subarray(0, 32);
  const maskingNonce = ke2.subarray(32, 64);
  const masked = ke2.subarray(64, 64 + maskedLen);
  const credentialResponse = ke2.subarray(0, 64 + maskedLen);
  const serverNonce = ke2.subarray(64 + maskedLen, 64 + maskedLen + Nn);
  const serverKeyshare = ke2.subarray(64 + maskedLen + Nn, 64 + maskedLen + Nn + 32);
  const serverMac = ke2.subarray(ke2.length - Nm);
  decodePoint(serverKeyshare, 'credential response');

  const rp = await randomizedPassword(pwIn, state.blind, evaluated, params);
  state.blind.fill(0);
  const maskingKey = hkdfSha512Expand(rp, utf8('MaskingKey'), Nh);
  const pad = hkdfSha512Expand(maskingKey, concat(maskingNonce, utf8('CredentialResponsePad')), maskedLen);
  maskingKey.fill(0);
  const plain = new Uint8Array(maskedLen);
  for (let i = 0; i < maskedLen; i++) plain[i] = masked[i] ^ pad[i];
  const serverPk = plain.slice(0, Npk);
  const envNonce = plain.subarray(Npk, Npk + Nn);
  const envTag = plain.subarray(Npk + Nn);
  const rec: Recovered & { authKey: Uint8Array } = envelopeKeys(rp, envNonce);
  rp.fill(0);
  let serverPkOk = true;
  try {
    decodePoint(serverPk, 'server public key');
  } catch {
    serverPkOk = false;
  }
  const expectedTag = hmacSha512(rec.authKey, concat(envNonce, cleartextCredentials(serverPk, rec.clientPk)));
  rec.authKey.fill(0);
  if (!serverPkOk || !ctEq(expectedTag, envTag)) {
    rec.clientSk.fill(0);
    rec.exportKey.fill(0);
    throw new CryptoError('opaque', 'login failed: wrong password or Secret Key');
  }

  const preamble = concat(
    utf8('OPAQUEv1-'),
    i2osp2(0),
    i2osp2(rec.clientPk.length),
    rec.clientPk,
    state.ke1,
    i2osp2(serverPk.length),
    serverPk,
    credentialResponse,
    serverNonce,
    serverKeyshare,
  );
  const ikm = concat(
    dh(state.clientSecret, serverKeyshare, 'server keyshare'),
    dh(state.clientSecret, serverPk, 'server public key'),
    dh(rec.clientSk, serverKeyshare, 'server keyshare'),
  );
  state.clientSecret.fill(0);
  rec.clientSk.fill(0);
  const prk = hkdfSha512Extract(EMPTY, ikm);
  ikm.fill(0);
  const hp = sha512(preamble);
  const handshake = expandLabel(prk, 'HandshakeSecret', hp, Nh);
  const sessionKey = expandLabel(prk, 'SessionKey', hp, Nh);
  prk.fill(0);
  const km2 = expandLabel(handshake, 'ServerMAC', EMPTY, Nh);
  const km3 = expandLabel(handshake, 'ClientMAC', EMPTY, Nh);
  handshake.fill(0);
  const expectedServerMac = hmacSha512(km2, hp);
  if (!ctEq(expectedServerMac, serverMac)) {
    sessionKey.fill(0);
    rec.exportKey.fill(0);
    throw new CryptoError('opaque', 'login failed: the server could not be authenticated');
  }
  const finalization = hmacSha512(km3, sha512(concat(preamble, expectedServerMac)));
  km2.fill(0);
  km3.fill(0);
  return { finalization, sessionKey, exportKey: rec.exportKey, serverPublicKey: serverPk };
}
