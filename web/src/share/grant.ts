// Share key grants and share name envelopes (crates/castellan-client/src/share/grant.rs).
//
// A grant is the 32-byte share key sealed with HPKE (aad empty) to a principal's encryption key,
// `enc(32) || ciphertext`, with info "castellan/v1/share-key-grant" || share_id || kind (1 user,
// 2 group) || principal_id || key_version (u64 BE), signed (statement `share-grant`) by the owner
// who made it over LP(share_id) || LP(kind) || LP(principal_id) || LP(key_version) ||
// LP(SHA-256(sealed)). The name is JSON {"name": …} sealed under the share key (ShareMetadata,
// key id vault_key_id(share_id, key_version)), and for the admins HPKE-sealed to the company
// encryption key with info "castellan/v1/share-name-admin" || share_id || company_id.
import { b64u, concat, dec, fromB64u, lp, u64be, utf8, uuidBytes } from '../crypto/bytes';
import { Context, open, seal } from '../crypto/envelope';
import { hpkeOpen, hpkeSeal } from '../crypto/hpke';
import { vaultKeyId } from '../crypto/keyids';
import { sha256 } from '../crypto/primitives';
import { signStatement, verifyStatement } from '../crypto/sign';
import { IntegrityError } from '../client/account';
import type { PublicKeys } from '../org/keys';
import { GRANT_STATEMENT, isOwner } from './acl';
import type { Directory } from './directory';
import type { Principal, ShareAclBody, ShareGrantDto } from './types';

export const GRANT_INFO = 'castellan/v1/share-key-grant';
export const ADMIN_NAME_INFO = 'castellan/v1/share-name-admin';

const kindByte = (p: Principal) => new Uint8Array([p.kind === 'user' ? 1 : 2]);

export function grantInfo(shareId: string, p: Principal, keyVersion: number): Uint8Array {
  return concat(utf8(GRANT_INFO), uuidBytes(shareId), kindByte(p), uuidBytes(p.id), u64be(Math.max(0, keyVersion)));
}

export function grantSigBody(shareId: string, p: Principal, keyVersion: number, sealed: Uint8Array): Uint8Array {
  return concat(lp(uuidBytes(shareId)), lp(kindByte(p)), lp(uuidBytes(p.id)), lp(u64be(Math.max(0, keyVersion))), lp(sha256(sealed)));
}

/** Seals the share key to a principal's key (from a verified certificate or roster) and signs the grant. */
export async function sealGrant(signerSeed: Uint8Array, signerId: string, shareId: string, key: Uint8Array, keyVersion: number, principal: Principal, recipient: PublicKeys): Promise<ShareGrantDto> {
  const { enc, ct } = await hpkeSeal(recipient.encryption, grantInfo(shareId, principal, keyVersion), new Uint8Array(0), key);
  if (enc.length !== 32) throw new Error('unexpected HPKE encapsulation');
  const sealed = concat(enc, ct);
  const sig = signStatement(signerSeed, GRANT_STATEMENT, grantSigBody(shareId, principal, keyVersion, sealed));
  return { principal: { ...principal }, key_version: keyVersion, sealed: b64u(sealed), granted_by: signerId, signature: b64u(sig) };
}

/**
 * Checks a grant's signature: by an owner of the verified list, with their certified key. Under a
 * company-signed list a grant by any certified member is accepted too (see the Rust client).
 */
export function verifyGrant(grant: ShareGrantDto, shareId: string, acl: ShareAclBody, dir: Directory): void {
  const vouched = acl.signer.kind === 'company' && dir.members.has(grant.granted_by);
  if (!isOwner(acl, grant.granted_by) && !vouched) throw new IntegrityError(`the key grant of share ${shareId} is not signed by an owner of the share`);
  const vk = dir.member(grant.granted_by).keys.signing;
  try {
    verifyStatement(vk, GRANT_STATEMENT, grantSigBody(shareId, grant.principal, grant.key_version, fromB64u(grant.sealed)), fromB64u(grant.signature));
  } catch {
    throw new IntegrityError(`the key grant of share ${shareId} has an invalid signature`);
  }
}

/** Verifies and opens a grant addressed to `principal` (me, or one of my groups, whose private key is `me`). */
export async function openGrant(grant: ShareGrantDto, shareId: string, principal: Principal, acl: ShareAclBody, dir: Directory, me: Uint8Array): Promise<Uint8Array> {
  if (grant.principal.kind !== principal.kind || grant.principal.id !== principal.id) throw new IntegrityError(`the key grant of share ${shareId} is addressed to someone else`);
  if (grant.key_version !== acl.key_version) throw new IntegrityError(`the key grant of share ${shareId} is for key version ${grant.key_version}, the access list says ${acl.key_version}`);
  verifyGrant(grant, shareId, acl, dir);
  const sealed = fromB64u(grant.sealed);
  if (sealed.length < 32) throw new IntegrityError('a share key grant is malformed');
  let pt: Uint8Array;
  try {
    pt = await hpkeOpen(me, sealed.subarray(0, 32), grantInfo(shareId, principal, grant.key_version), new Uint8Array(0), sealed.subarray(32));
  } catch {
    throw new IntegrityError(`the key grant of share ${shareId} does not open`);
  }
  if (pt.length !== 32) throw new IntegrityError('a share key grant has the wrong length');
  return pt;
}

export function shareKeyId(shareId: string, keyVersion: number): string {
  return vaultKeyId(shareId, Math.max(0, keyVersion));
}

/** serde_json of `NameDoc { name }`. */
function nameJson(name: string): Uint8Array {
  return utf8(JSON.stringify({ name }));
}

function parseName(pt: Uint8Array): string {
  try {
    const o = JSON.parse(dec.decode(pt));
    if (typeof o?.name !== 'string') throw new Error();
    return o.name;
  } catch {
    throw new IntegrityError('a share name is malformed');
  }
}

export function sealName(key: Uint8Array, companyId: string, shareId: string, keyVersion: number, name: string): Promise<Uint8Array> {
  return seal(key, shareKeyId(shareId, keyVersion), Context.shareMetadata(companyId, shareId, Math.max(0, keyVersion)), nameJson(name));
}

/** Opens the share name: also the check that a grant's key is the share's key. */
export async function openName(key: Uint8Array, companyId: string, shareId: string, keyVersion: number, envelope: Uint8Array): Promise<string> {
  let pt: Uint8Array;
  try {
    pt = await open(key, shareKeyId(shareId, keyVersion), Context.shareMetadata(companyId, shareId, Math.max(0, keyVersion)), envelope);
  } catch {
    throw new IntegrityError(`the share key of share ${shareId} does not open its name: the key or the name was substituted`);
  }
  return parseName(pt);
}

function adminInfo(shareId: string, companyId: string): Uint8Array {
  return concat(utf8(ADMIN_NAME_INFO), uuidBytes(shareId), uuidBytes(companyId));
}

/** The name sealed to the company encryption key (the admins' overview). */
export async function sealNameForAdmins(company: PublicKeys, companyId: string, shareId: string, name: string): Promise<Uint8Array> {
  const { enc, ct } = await hpkeSeal(company.encryption, adminInfo(shareId, companyId), new Uint8Array(0), nameJson(name));
  return concat(enc, ct);
}

export async function openNameForAdmins(companyPrivate: Uint8Array, companyId: string, shareId: string, sealed: Uint8Array): Promise<string> {
  if (sealed.length < 32) throw new IntegrityError('a share name for admins is malformed');
  let pt: Uint8Array;
  try {
    pt = await hpkeOpen(companyPrivate, sealed.subarray(0, 32), adminInfo(shareId, companyId), new Uint8Array(0), sealed.subarray(32));
  } catch {
    throw new IntegrityError('a share name for admins does not open');
  }
  return parseName(pt);
}
