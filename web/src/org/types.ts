// Wire types of the organisation API (crates/castellan-types/src/org.rs). Binary fields are
// base64url strings, ids are UUID strings, times Unix seconds.
export type CompanyKind = 'partner' | 'customer';
export type Plan = 'trial' | 'standard' | 'advanced';
export type CompanyStatus = 'active' | 'disabled';
export type Role = 'admin' | 'technician' | 'user';
export type MemberStatus = 'accepted' | 'confirmed';
export type OrgBackupMode = 'offline-key' | 'recovery-group';
/** `OrgBackupPolicy` (crates/castellan-types/src/org.rs): clients seal backup keys only to `public_key` of a verified policy. */
export interface OrgBackupPolicy {
  mode: OrgBackupMode;
  /** X25519 public key, base64url (32 bytes). */
  public_key: string;
  key_version: number;
  recovery_group_id: string | null;
  retention_days: number;
}
export type InvitationState = 'open' | 'accepted' | 'revoked' | 'expired';

export interface SignedDoc {
  body: string;
  signature: string;
}
export interface CompanyKeysDto {
  signing_public_key: string;
  encryption_public_key: string;
}
export type GroupKeysDto = CompanyKeysDto;

export interface CompanyDto {
  id: string;
  kind: CompanyKind;
  partner_id: string | null;
  name: string;
  status: CompanyStatus;
  plan: Plan;
  seats: number | null;
  seats_used: number;
  trial_ends_at: number | null;
  keys: CompanyKeysDto;
  created_at: number;
}
export interface KeyGrantDto {
  company_id: string;
  user_id: string;
  sealed: string;
}

export interface MemberCertBody {
  company_id: string;
  user_id: string;
  email: string;
  role: Role;
  signing_public_key: string;
  encryption_public_key: string;
  serial: string;
  issued_at: number;
  issued_by: string;
}
export interface InvitationBody {
  company_id: string;
  invitation_id: string;
  email: string;
  role: Role;
  expires_at: number;
  invited_by: string;
}
export interface GroupRosterBody {
  company_id: string;
  group_id: string;
  name: string;
  is_everyone: boolean;
  version: number;
  signing_public_key: string;
  encryption_public_key: string;
  members: string[];
}
export interface MasterPasswordPolicy {
  min_length: number;
  require_uppercase: boolean;
  require_lowercase: boolean;
  require_digits: boolean;
  require_symbols: boolean;
  max_age_days: number | null;
}
export interface GeneratorPolicy {
  min_length: number;
  require_uppercase: boolean;
  require_lowercase: boolean;
  require_digits: boolean;
  require_symbols: boolean;
}
export interface PolicySet {
  require_two_factor: boolean;
  master_password: MasterPasswordPolicy | null;
  force_business_domains: string[];
  remove_business_items_on_removal: boolean;
  org_backup: OrgBackupPolicy | null;
  exclude_business_from_emergency_access: boolean;
  restrict_portal_access: boolean;
  restrict_sharing_domains: string[];
  password_auditing: boolean;
  user_change_notifications: string[];
  disable_personal_export: boolean;
  max_vault_timeout_minutes: number | null;
  password_generator: GeneratorPolicy | null;
}
/** The company's signed certificate revocation list (statement "revoked-certs", property 24). */
export interface RevocationListBody {
  company_id: string;
  version: number;
  /** Every revoked certificate serial, oldest first (the list only grows). */
  serials: string[];
  issued_at: number;
  /** The admin whose client signed. */
  issued_by: string;
}

export interface PolicyBody {
  company_id: string;
  counter: number;
  issued_at: number;
  issued_by: string;
  policies: PolicySet;
}

export interface NewGroupDto {
  group_id: string;
  name: string;
  keys: GroupKeysDto;
  roster: SignedDoc;
  admin_grant: string;
  grants: GroupGrantDto[];
}
export interface GroupGrantDto {
  user_id: string;
  sealed: string;
}
export interface RosterUpdateRequest {
  roster: SignedDoc;
  grants: GroupGrantDto[];
}
export interface GroupDto {
  id: string;
  company_id: string;
  name: string;
  is_everyone: boolean;
  /** The company's Recovery Group (organisation backup, recovery-group mode). */
  is_recovery?: boolean;
  keys: GroupKeysDto;
  roster: SignedDoc;
  roster_version: number;
  admin_grant: string;
  members: string[];
}

export interface SetupRequest {
  setup_token: string;
  company_id: string;
  name: string;
  keys: CompanyKeysDto;
  key_grant: string;
  admin_cert: SignedDoc;
  everyone: NewGroupDto;
}
export interface CreateCustomerRequest {
  company_id: string;
  name: string;
  plan: Plan;
  seats: number;
  keys: CompanyKeysDto;
  key_grants: KeyGrantDto[];
  everyone: NewGroupDto;
  policy: SignedDoc | null;
}
export interface MemberDto {
  company_id: string;
  user_id: string;
  email: string;
  role: Role;
  status: MemberStatus;
  disabled: boolean;
  signing_key_id: string;
  signing_public_key: string;
  encryption_key_id: string;
  encryption_public_key: string;
  ak_version: number;
  key_binding_signature: string;
  cert: SignedDoc | null;
  invitation: SignedDoc | null;
  two_factor_enabled: boolean;
  require_password_change: boolean;
  joined_at: number;
  confirmed_at: number | null;
}
export interface MembershipResponse {
  company: CompanyDto | null;
  member: MemberDto | null;
  policy: SignedDoc | null;
  partner: CompanyDto | null;
  managed_customers: string[];
}
export interface CreateInvitationRequest {
  invitation_id: string;
  email: string;
  role: Role;
  secret_hash: string;
  invitation: SignedDoc;
  link: string;
}
export interface InvitationDto {
  id: string;
  company_id: string;
  email: string;
  role: Role;
  state: InvitationState;
  created_at: number;
  expires_at: number;
  invitation: SignedDoc;
}
export interface InvitationPreviewResponse {
  invitation_id: string;
  company_id: string;
  company_name: string;
  email: string;
  role: Role;
  expires_at: number;
  keys: CompanyKeysDto;
  invitation: SignedDoc;
  policy: SignedDoc | null;
}
export interface ConfirmMemberRequest {
  cert: SignedDoc;
  key_grant: string | null;
  everyone_roster: RosterUpdateRequest;
}
export interface UpdateMemberRequest {
  disabled?: boolean;
  require_password_change?: boolean;
  role?: Role;
  cert?: SignedDoc;
  key_grant?: string;
}
export interface PolicyTemplateDto {
  id: string;
  partner_id: string;
  name: string;
  policies: PolicySet;
  created_at: number;
  updated_at: number;
}
export interface AuditEventDto {
  seq: number;
  at: number;
  company_id: string | null;
  actor_id: string | null;
  actor_email: string | null;
  target_user_id: string | null;
  target_email: string | null;
  event: string;
  details: unknown;
  ip: string | null;
}
export interface AuditListResponse {
  events: AuditEventDto[];
  next_before: number | null;
}
export interface AuditFilter {
  user?: string;
  type?: string;
  since?: number;
  until?: number;
  before?: number;
  limit?: number;
}

/** `GET /companies/{cid}/backups` (crates/castellan-types/src/backups.rs). */
export interface BackupPointDto {
  backup_id: string;
  created_at: number;
  key_version: number;
  size: number;
}
export interface BackupUserDto {
  user_id: string;
  email: string;
  points: BackupPointDto[];
}
export interface BackupListResponse {
  users: BackupUserDto[];
  retention_days: number | null;
}
