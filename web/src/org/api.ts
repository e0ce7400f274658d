// Typed calls to the organisation API (crates/castellan-types/src/org.rs, module docs).
import type { Api } from '../client/api';
import type {
  AuditFilter,
  BackupListResponse,
  AuditListResponse,
  CompanyDto,
  ConfirmMemberRequest,
  CreateCustomerRequest,
  CreateInvitationRequest,
  GroupDto,
  InvitationDto,
  InvitationPreviewResponse,
  KeyGrantDto,
  MemberDto,
  MembershipResponse,
  NewGroupDto,
  Plan,
  PolicySet,
  PolicyTemplateDto,
  RosterUpdateRequest,
  SetupRequest,
  SignedDoc,
  UpdateMemberRequest,
  CompanyStatus,
} from './types';

export function auditQuery(f: AuditFilter, format?: 'csv' | 'json'): string {
  const p = new URLSearchParams();
  if (f.user) p.set('user', f.user);
  if (f.type) p.set('type', f.type);
  if (f.since !== undefined) p.set('since', String(f.since));
  if (f.until !== undefined) p.set('until', String(f.until));
  if (f.before !== undefined) p.set('before', String(f.before));
  if (f.limit !== undefined) p.set('limit', String(f.limit));
  if (format) p.set('format', format);
  const s = p.toString();
  return s ? `?${s}` : '';
}

export class OrgApi {
  constructor(readonly api: Api) {}

  /** The company directory (members' certificates, rosters, the signed revocation list). */
  directory(id: string) {
    return this.api.call<{ revocations?: SignedDoc | null }>('GET', `/companies/${id}/directory`);
  }
  setRevocations(id: string, revocations: SignedDoc) {
    return this.api.call<unknown>('PUT', `/companies/${id}/revocations`, { revocations });
  }

  setupStatus() {
    return this.api.call<{ open: boolean }>('GET', '/setup');
  }
  setup(req: SetupRequest) {
    return this.api.call<unknown>('POST', '/setup', req);
  }
  membership() {
    return this.api.call<MembershipResponse>('GET', '/me/membership');
  }
  myKeyGrants() {
    return this.api.call<{ grants: KeyGrantDto[] }>('GET', '/me/key-grants');
  }
  customers(partner: string) {
    return this.api.call<{ companies: CompanyDto[] }>('GET', `/partners/${partner}/customers`);
  }
  createCustomer(partner: string, req: CreateCustomerRequest) {
    return this.api.call<unknown>('POST', `/partners/${partner}/customers`, req);
  }
  templates(partner: string) {
    return this.api.call<{ templates: PolicyTemplateDto[] }>('GET', `/partners/${partner}/policy-templates`);
  }
  putTemplate(partner: string, req: { id: string; name: string; policies: PolicySet }) {
    return this.api.call<unknown>('POST', `/partners/${partner}/policy-templates`, req);
  }
  deleteTemplate(partner: string, id: string) {
    return this.api.call<unknown>('DELETE', `/partners/${partner}/policy-templates/${id}`);
  }
  technicianCustomers(partner: string, tech: string) {
    return this.api.call<{ customers: string[] }>('GET', `/partners/${partner}/technicians/${tech}/customers`);
  }
  assignTechnician(partner: string, tech: string, customer: string, keyGrant: string) {
    return this.api.call<unknown>('PUT', `/partners/${partner}/technicians/${tech}/customers/${customer}`, { key_grant: keyGrant });
  }
  unassignTechnician(partner: string, tech: string, customer: string) {
    return this.api.call<unknown>('DELETE', `/partners/${partner}/technicians/${tech}/customers/${customer}`);
  }
  company(id: string) {
    return this.api.call<CompanyDto>('GET', `/companies/${id}`);
  }
  updateCompany(id: string, req: { name?: string; status?: CompanyStatus }) {
    return this.api.call<unknown>('PATCH', `/companies/${id}`, req);
  }
  setSubscription(id: string, req: { plan: Plan; seats: number; trial_ends_at?: number | null }) {
    return this.api.call<unknown>('PUT', `/companies/${id}/subscription`, req);
  }
  policy(id: string) {
    return this.api.call<{ policy: SignedDoc | null }>('GET', `/companies/${id}/policy`);
  }
  setPolicy(id: string, policy: SignedDoc) {
    return this.api.call<unknown>('PUT', `/companies/${id}/policy`, { policy });
  }
  invitations(id: string) {
    return this.api.call<{ invitations: InvitationDto[] }>('GET', `/companies/${id}/invitations`);
  }
  createInvitation(id: string, req: CreateInvitationRequest) {
    return this.api.call<{ invitation: InvitationDto; mailed: boolean }>('POST', `/companies/${id}/invitations`, req);
  }
  revokeInvitation(id: string, invitation: string) {
    return this.api.call<unknown>('DELETE', `/companies/${id}/invitations/${invitation}`);
  }
  previewInvitation(invitation: string, secret: string) {
    return this.api.call<InvitationPreviewResponse>('POST', `/invitations/${invitation}/preview`, { secret });
  }
  acceptInvitation(invitation: string, secret: string) {
    return this.api.call<unknown>('POST', `/invitations/${invitation}/accept`, { secret });
  }
  members(id: string) {
    return this.api.call<{ members: MemberDto[] }>('GET', `/companies/${id}/members`);
  }
  confirmMember(id: string, user: string, req: ConfirmMemberRequest) {
    return this.api.call<unknown>('POST', `/companies/${id}/members/${user}/confirm`, req);
  }
  updateMember(id: string, user: string, req: UpdateMemberRequest) {
    return this.api.call<MemberDto>('PATCH', `/companies/${id}/members/${user}`, req);
  }
  removeMember(id: string, user: string) {
    return this.api.call<unknown>('POST', `/companies/${id}/members/${user}/remove`);
  }
  resetMember(id: string, user: string, invitation: CreateInvitationRequest) {
    return this.api.call<unknown>('POST', `/companies/${id}/members/${user}/reset`, { invitation });
  }
  deleteMember(id: string, user: string) {
    return this.api.call<unknown>('DELETE', `/companies/${id}/members/${user}`);
  }
  groups(id: string) {
    return this.api.call<{ groups: GroupDto[] }>('GET', `/companies/${id}/groups`);
  }
  createGroup(id: string, req: NewGroupDto) {
    return this.api.call<unknown>('POST', `/companies/${id}/groups`, req);
  }
  updateRoster(id: string, group: string, req: RosterUpdateRequest) {
    return this.api.call<unknown>('PUT', `/companies/${id}/groups/${group}/roster`, req);
  }
  deleteGroup(id: string, group: string) {
    return this.api.call<unknown>('DELETE', `/companies/${id}/groups/${group}`);
  }
  deleteBackups(id: string) {
    return this.api.call<{ deleted: number }>('DELETE', `/companies/${id}/backups`);
  }
  backups(id: string) {
    return this.api.call<BackupListResponse>('GET', `/companies/${id}/backups`);
  }
  audit(id: string, f: AuditFilter) {
    return this.api.call<AuditListResponse>('GET', `/companies/${id}/audit${auditQuery(f)}`);
  }
  auditCsv(id: string, f: AuditFilter) {
    return this.api.callText('GET', `/companies/${id}/audit${auditQuery(f, 'csv')}`);
  }
}
