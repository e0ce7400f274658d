// Signed vault manifests (crates/castellan-client/src/manifest.rs).
import { b64u, concat, dec, fromB64u, i64be, lp, utf8, uuidBytes } from '../crypto/bytes';
import { SetHash } from '../crypto/sethash';
import { signStatement, verifyStatement } from '../crypto/sign';
import { IntegrityError } from './account';

const STATEMENT = 'vault-manifest';

export interface Manifest {
  format: number;
  vault_id: string;
  counter: number;
  count: number;
  set_hash: string;
  /** Share vaults (format 2): the writer who signed. */
  signer?: string;
  signature: string;
}

export function manifestBody(vaultId: string, counter: number, count: number, setHash: Uint8Array): Uint8Array {
  return concat(lp(uuidBytes(vaultId)), lp(i64be(counter)), lp(i64be(count)), lp(setHash));
}

/** Signs and serializes a manifest (JSON with serde's field order). */
export function signManifest(seed: Uint8Array, vaultId: string, counter: number, count: number, setHash: Uint8Array): Uint8Array {
  const sig = signStatement(seed, STATEMENT, manifestBody(vaultId, counter, count, setHash));
  const m: Manifest = { format: 1, vault_id: vaultId, counter, count, set_hash: b64u(setHash), signature: b64u(sig) };
  return utf8(JSON.stringify(m));
}

const KEYS = ['format', 'vault_id', 'counter', 'count', 'set_hash', 'signature'];

/** Parses and verifies a manifest blob against the account's verifying key. */
export function verifyManifest(blob: Uint8Array, publicKey: Uint8Array, vaultId: string, counter: number): Manifest {
  let m: Manifest;
  try {
    const o = JSON.parse(dec.decode(blob));
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new Error();
    for (const k of Object.keys(o)) if (!KEYS.includes(k)) throw new Error();
    for (const k of KEYS) if (!(k in o)) throw new Error();
    if (!Number.isInteger(o.format) || typeof o.vault_id !== 'string' || !Number.isInteger(o.counter) || !Number.isInteger(o.count) || typeof o.set_hash !== 'string' || typeof o.signature !== 'string') throw new Error();
    m = o as Manifest;
  } catch {
    throw new IntegrityError(`the manifest of vault ${vaultId} is malformed`);
  }
  if (m.format !== 1 || m.vault_id.toLowerCase() !== vaultId || m.counter !== counter || m.count < 0) throw new IntegrityError(`the manifest of vault ${vaultId} is mislabelled`);
  let setHash: Uint8Array;
  try {
    setHash = fromB64u(m.set_hash);
    verifyStatement(publicKey, STATEMENT, manifestBody(vaultId, m.counter, m.count, setHash), fromB64u(m.signature));
  } catch {
    throw new IntegrityError(`the manifest of vault ${vaultId} is not signed by this account`);
  }
  try {
    SetHash.fromBytes(setHash);
  } catch {
    throw new IntegrityError('a manifest carries an invalid set hash');
  }
  return m;
}

// ------------------------------------------------------------ share vaults (format 2)

/** The signed body of a share manifest: the format-1 body || LP(signer). */
export function shareManifestBody(vaultId: string, counter: number, count: number, setHash: Uint8Array, signer: string): Uint8Array {
  return concat(manifestBody(vaultId, counter, count, setHash), lp(uuidBytes(signer)));
}

/** Signs and serializes the manifest of a share vault (format 2, naming the signing writer). */
export function signShareManifest(seed: Uint8Array, signer: string, vaultId: string, counter: number, count: number, setHash: Uint8Array): Uint8Array {
  const sig = signStatement(seed, STATEMENT, shareManifestBody(vaultId, counter, count, setHash, signer));
  const m: Manifest = { format: 2, vault_id: vaultId, counter, count, set_hash: b64u(setHash), signer, signature: b64u(sig) };
  return utf8(JSON.stringify(m));
}

const SHARE_KEYS = ['format', 'vault_id', 'counter', 'count', 'set_hash', 'signer', 'signature'];

/**
 * Parses and verifies the manifest of a share vault: format 2, signed by its `signer` with the
 * key `writerKey` returns for them (their certified key if they are a writer; null refuses it).
 */
export function verifyShareManifest(blob: Uint8Array, vaultId: string, counter: number, writerKey: (user: string) => Uint8Array | null | undefined): Manifest {
  let m: Manifest;
  try {
    const o = JSON.parse(dec.decode(blob));
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new Error();
    for (const k of Object.keys(o)) if (!SHARE_KEYS.includes(k)) throw new Error();
    for (const k of ['format', 'vault_id', 'counter', 'count', 'set_hash', 'signature']) if (!(k in o)) throw new Error();
    if (!Number.isInteger(o.format) || typeof o.vault_id !== 'string' || !Number.isInteger(o.counter) || !Number.isInteger(o.count) || typeof o.set_hash !== 'string' || typeof o.signature !== 'string') throw new Error();
    if (o.signer !== undefined && o.signer !== null && typeof o.signer !== 'string') throw new Error();
    m = o as Manifest;
  } catch {
    throw new IntegrityError(`the manifest of share ${vaultId} is malformed`);
  }
  if (m.format !== 2 || !m.signer) throw new IntegrityError(`the manifest of share ${vaultId} does not name a signer`);
  const signer = m.signer.toLowerCase();
  if (m.vault_id.toLowerCase() !== vaultId || m.counter !== counter || m.count < 0) throw new IntegrityError(`the manifest of share ${vaultId} is mislabelled`);
  const key = writerKey(signer);
  if (!key) throw new IntegrityError(`the manifest of share ${vaultId} is signed by ${signer}, who is not a writer of the share`);
  let setHash: Uint8Array;
  try {
    setHash = fromB64u(m.set_hash);
    verifyStatement(key, STATEMENT, shareManifestBody(vaultId, m.counter, m.count, setHash, signer), fromB64u(m.signature));
  } catch {
    throw new IntegrityError(`the manifest of share ${vaultId} has an invalid signature`);
  }
  try {
    SetHash.fromBytes(setHash);
  } catch {
    throw new IntegrityError('a manifest carries an invalid set hash');
  }
  return { ...m, signer };
}
