// Wire types of sharing (crates/castellan-types/src/shares.rs). Binary fields are base64url
// strings, ids UUID strings, times Unix seconds.
import type { ManifestDto } from '../client/types';
import type { GroupDto, SignedDoc } from '../org/types';

export type ShareRole = 'owner' | 'editor' | 'read_only' | 'read_only_hidden';
export type PrincipalKind = 'user' | 'group';
export type ShareState = 'owned' | 'invited' | 'accepted' | 'declined' | 'admin';

export interface Principal {
  kind: PrincipalKind;
  id: string;
}
export interface AclEntry {
  principal: Principal;
  role: ShareRole;
}
export type AclSigner = { kind: 'member'; user_id: string } | { kind: 'company' };

/** `ShareAclBody`, in serde's field order. */
export interface ShareAclBody {
  share_id: string;
  company_id: string;
  version: number;
  key_version: number;
  entries: AclEntry[];
  expires_at: number | null;
  issued_at: number;
  signer: AclSigner;
}

export interface ShareGrantDto {
  principal: Principal;
  key_version: number;
  sealed: string;
  granted_by: string;
  signature: string;
}

export interface ShareDto {
  id: string;
  company_id: string;
  owner_ids: string[];
  acl: SignedDoc;
  acl_version: number;
  key_version: number;
  expires_at: number | null;
  name: string;
  name_for_admins: string;
  state: ShareState;
  role: ShareRole | null;
  grant: ShareGrantDto | null;
  grants: ShareGrantDto[];
  manifest: ManifestDto | null;
  object_count: number;
  created_at: number;
  updated_at: number;
}

export interface ShareSummaryDto {
  id: string;
  acl_version: number;
  key_version: number;
  state: ShareState;
  role: ShareRole;
}

export interface CreateShareRequest {
  share_id: string;
  company_id: string;
  acl: SignedDoc;
  name: string;
  name_for_admins: string;
  grants: ShareGrantDto[];
  manifest: ManifestDto;
}

export interface UpdateAclRequest {
  acl: SignedDoc;
  grants: ShareGrantDto[];
}

export interface RewrappedObjectDto {
  id: string;
  expected_version: number;
  key_wrap: string;
  overview: string;
  details: string;
}

export interface RotateShareRequest {
  acl: SignedDoc;
  name: string;
  name_for_admins: string;
  objects: RewrappedObjectDto[];
  grants: ShareGrantDto[];
  manifest: ManifestDto;
}

export interface DirectoryEntryDto {
  user_id: string;
  email: string;
  cert: SignedDoc;
}
export interface DirectoryResponse {
  members: DirectoryEntryDto[];
  groups: GroupDto[];
  /** The company's signed certificate revocation list (a RevocationListBody), if any certificate was ever revoked. */
  revocations?: SignedDoc | null;
}
export interface MyGroupDto {
  group: GroupDto;
  grant: string;
}
