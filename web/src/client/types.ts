// Wire types of the HTTP API (crates/castellan-types). Binary fields are base64url strings.
export interface KsfProfile {
  m_kib: number;
  t: number;
  p: number;
}
export interface AccountKeyset {
  format: number;
  ak_version: number;
  account_key_wrap: string;
  ksf: KsfProfile;
  signing_key_id: string;
  signing_public_key: string;
  signing_key_wrap: string;
  encryption_key_id: string;
  encryption_public_key: string;
  encryption_key_wrap: string;
  key_binding_signature: string;
}
export type VaultKind = 'personal' | 'business';
export interface VaultDto {
  id: string;
  kind: VaultKind;
  key_wrap: string;
  key_version: number;
}
export interface AccountResponse {
  user_id: string;
  email: string;
  credentials_version: number;
  keyset: AccountKeyset;
  vaults: VaultDto[];
}
export type ObjectKind = 'item' | 'folder';
export interface ObjectDto {
  id: string;
  vault_id: string;
  kind: ObjectKind;
  version: number;
  trashed: boolean;
  key_wrap: string;
  overview: string;
  details: string;
  created_at: number;
  updated_at: number;
  seq: number;
  /** The writer of a share object, as the server recorded it (absent in own vaults). */
  author_id?: string | null;
}
export interface ManifestDto {
  vault_id: string;
  counter: number;
  manifest: string;
}
export interface TombstoneDto {
  id: string;
  vault_id: string;
  seq: number;
}
export interface SyncResponse {
  objects: ObjectDto[];
  tombstones: TombstoneDto[];
  cursor: number;
  has_more: boolean;
  reset: boolean;
  manifests: ManifestDto[];
  /** The shares this user can see (`ShareSummaryDto`). */
  shares?: { id: string; acl_version?: number; key_version?: number; state?: string; role?: string }[];
}
export interface LoginStartResponse {
  login_id: string;
  user_id: string;
  credential_response: string;
  ksf: KsfProfile;
}
export interface LoginFinishResponse {
  session_token: string;
  session_id: string;
  expires_at: number;
  account: AccountResponse;
  /** `two_factor_setup` or `password_change`: the session may only fix that first. */
  restriction?: string | null;
  /** Logins left before two-step verification becomes mandatory. */
  two_factor_grace_remaining?: number | null;
}
export interface RegisterStartResponse {
  registration_response: string;
  ksf: KsfProfile;
}
