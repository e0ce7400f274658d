// Derived key ids (crates/castellan-client/src/keyids.rs): the first 16 bytes of
// SHA-256("castellan/v1/key-id\0" || purpose || 0x00 || owner || u64_be(version)).
import { concat, u64be, utf8, uuidBytes, uuidFromBytes } from './bytes';
import { sha256 } from './primitives';

export function keyId(purpose: string, owner: string, version: number | bigint): string {
  const d = sha256(concat(utf8('castellan/v1/key-id\0'), utf8(purpose), new Uint8Array([0]), uuidBytes(owner), u64be(version)));
  return uuidFromBytes(d.subarray(0, 16));
}
export const aukId = (userId: string) => keyId('auk', userId, 1);
export const akId = (userId: string, akVersion: number) => keyId('ak', userId, akVersion);
export const lukId = (deviceId: string) => keyId('luk', deviceId, 1);
export const vaultKeyId = (vaultId: string, version: number) => keyId('vault', vaultId, version);
export const itemKeyId = (itemId: string, version: number) => keyId('item', itemId, version);
