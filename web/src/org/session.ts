// The organisation operations in the browser (crates/castellan-client/src/org/admin.rs): setup,
// customers, invitations and joining, confirming members, member lifecycle, technicians, groups,
// policies, templates and the audit log.
//
// Rules kept everywhere here, as in the Rust client:
// - company keys are used only after their grant opened to the pinned keys;
// - keys are sealed to a member only after their certificate verified against the pinned
//   company key (or, at confirmation, their self-signed key binding verified and a human
//   compared the fingerprint); a served key that differs from the certified one is refused;
// - documents are verified before their bodies are read; a roster is always rebuilt from the
//   signed one, never from the server's member list.
import { b64u, ctEq, fromB64u, randomBytes, uuidV4 } from '../crypto/bytes';
import { sha256 } from '../crypto/primitives';
import { x25519PublicKey } from '../crypto/hpke';
import { IntegrityError, verifyKeyBinding, type UnlockedAccount } from '../client/account';
import { ApiFailure, type Api } from '../client/api';
import { OrgApi } from './api';
import { normaliseEmail, peekDoc, signDoc, STATEMENT, verifyInvitation, verifyMemberCert, verifyRevocations, verifyRoster } from './docs';
import { checkRevocations, MemorySharePins, recordRevocations, updateSharePins, type SharePinStore } from '../share/pins';
import { formatInviteLink, type InviteLink } from './invite';
import { companyFingerprint, fingerprintDisplay, KeyPair, keysDto, memberFingerprint, publicFromDto, publicKeys, sameKeys, type PublicKeys } from './keys';
import { checkOrPin, checkOrPinDto, pinnedKeys, recordPolicy, updatePins, type OrgPins, type PinStorage } from './pins';
import { resolvePolicy, type EffectivePolicy } from './policy';
import type {
  AuditEventDto,
  AuditFilter,
  CompanyDto,
  CreateInvitationRequest,
  GroupDto,
  GroupGrantDto,
  GroupRosterBody,
  InvitationBody,
  InvitationDto,
  InvitationPreviewResponse,
  MemberCertBody,
  MemberDto,
  MembershipResponse,
  NewGroupDto,
  Plan,
  PolicyBody,
  PolicySet,
  PolicyTemplateDto,
  RevocationListBody,
  Role,
  RosterUpdateRequest,
  UpdateMemberRequest,
} from './types';

export const INVITATION_DAYS = 7;
export const EVERYONE = 'Everyone';

export const nowSecs = () => Math.floor(Date.now() / 1000);

/** A refusal the user can act on (not an integrity failure). */
export class OrgError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OrgError';
  }
}

export interface CreatedCompany {
  id: string;
  name: string;
  fingerprint: string;
}

export interface Invited {
  invitationId: string;
  companyId: string;
  email: string;
  role: Role;
  expiresAt: number;
  mailed: boolean;
  /** The company key fingerprint (8 groups) for the out-of-band check. */
  fingerprint: string;
  link: string;
}

export interface MemberView {
  userId: string;
  email: string;
  role: Role;
  status: 'accepted' | 'confirmed';
  disabled: boolean;
  /** The member's certificate verifies against the pinned company key. */
  certified: boolean;
  twoFactor: boolean;
  requirePasswordChange: boolean;
  fingerprint: string;
  joinedAt: number;
  confirmedAt: number | null;
}

export interface GroupView {
  id: string;
  name: string;
  isEveryone: boolean;
  /** A Recovery Group of organisation backup (managed on the Backup page). */
  isRecovery?: boolean;
  version: number;
  /** From the signed roster. */
  members: string[];
}

/** What an admin is about to confirm, shown to a human before they press Confirm. */
export interface ConfirmPreview {
  companyId: string;
  userId: string;
  email: string;
  /** From the signed invitation, never from the server's member record. */
  role: Role;
  fingerprint: string;
  fingerprintRaw: Uint8Array;
  member: MemberDto;
}

export interface VerifiedInvitation {
  preview: InvitationPreviewResponse;
  body: InvitationBody;
  keys: PublicKeys;
  policy: EffectivePolicy;
  fingerprint: string;
}

export interface TemplateResult {
  companyId: string;
  name: string;
  ok: boolean;
  message: string;
}

function myEncryptionPublic(a: UnlockedAccount): Uint8Array {
  return x25519PublicKey(a.encryptionPrivate);
}

/** Builds a new group: keys, roster version 1, the admin copy and the members' grants. */
async function newGroup(company: KeyPair, companyId: string, name: string, isEveryone: boolean, members: [string, Uint8Array][]): Promise<NewGroupDto> {
  const groupId = uuidV4();
  const keys = KeyPair.generate();
  const pub = keys.publicKeys;
  const body: GroupRosterBody = {
    company_id: companyId,
    group_id: groupId,
    name,
    is_everyone: isEveryone,
    version: 1,
    signing_public_key: b64u(pub.signing),
    encryption_public_key: b64u(pub.encryption),
    members: members.map(([u]) => u),
  };
  const grants: GroupGrantDto[] = [];
  for (const [u, pk] of members) grants.push({ user_id: u, sealed: b64u(await keys.sealGroupGrant(pk, groupId, u)) });
  const admin = await keys.sealGroupAdminGrant(company.publicKeys.encryption, groupId, companyId);
  keys.wipe();
  return { group_id: groupId, name, keys: keysDto(pub), roster: signDoc(company, STATEMENT.GROUP_ROSTER, body), admin_grant: b64u(admin), grants };
}

/** Previews an invitation and verifies it against the link; pins the company keys in `pins`. */
export async function verifyInvitationPreview(api: OrgApi, link: InviteLink, pins: OrgPins): Promise<VerifiedInvitation> {
  const preview = await api.previewInvitation(link.invitationId, link.secret);
  const keys = publicFromDto(preview.keys);
  const fp = companyFingerprint(keys);
  if (!ctEq(fp, link.fingerprint)) throw new IntegrityError('the company keys the server sent do not match the fingerprint in the invitation link; not joining');
  const body = verifyInvitation(keys, preview.invitation, preview.company_id);
  if (body.invitation_id !== link.invitationId) throw new IntegrityError('the signed invitation is for another link');
  if (normaliseEmail(body.email) !== normaliseEmail(preview.email) || body.role !== preview.role) throw new IntegrityError('the invitation the server describes differs from the signed one');
  checkOrPin(pins, preview.company_id, keys, 'invite-link');
  const policy = resolvePolicy(pins, preview.company_id, preview.policy);
  return { preview, body, keys, policy, fingerprint: fingerprintDisplay(fp) };
}

/** Accepts an invitation with the signed-in account; nothing is accepted when a check fails. */
export async function joinWithLink(api: OrgApi, store: PinStorage, email: string, link: InviteLink): Promise<{ companyName: string; role: Role; fingerprint: string; warnings: string[] }> {
  const pins = store.load();
  const v = await verifyInvitationPreview(api, link, pins);
  if (normaliseEmail(v.body.email) !== normaliseEmail(email)) throw new OrgError(`this invitation is for ${v.body.email}, but this browser is signed in as ${email}`);
  if (v.body.expires_at <= nowSecs()) throw new OrgError('this invitation has expired');
  await updatePins(store, (p) => {
    checkOrPin(p, v.preview.company_id, v.keys, 'invite-link');
    resolvePolicy(p, v.preview.company_id, v.preview.policy);
  });
  await api.acceptInvitation(link.invitationId, link.secret);
  await updatePins(store, (p) => {
    p.my_company = v.preview.company_id;
  });
  return { companyName: v.preview.company_name, role: v.body.role, fingerprint: v.fingerprint, warnings: v.policy.warnings };
}

/** Creates the first partner (or another with an operator's token) with the caller as admin. */
export async function setupPartner(api: OrgApi, store: PinStorage, account: UnlockedAccount, token: string, name: string): Promise<CreatedCompany> {
  const n = name.trim();
  if (!n) throw new OrgError('the partner name cannot be empty');
  if (!token.trim()) throw new OrgError('the setup token is required');
  const companyId = uuidV4();
  const keys = KeyPair.generate();
  const pub = keys.publicKeys;
  const me = account.userId;
  const myEnc = myEncryptionPublic(account);
  const cert: MemberCertBody = {
    company_id: companyId,
    user_id: me,
    email: normaliseEmail(account.email),
    role: 'admin',
    signing_public_key: b64u(account.signingPublic),
    encryption_public_key: b64u(myEnc),
    serial: uuidV4(),
    issued_at: nowSecs(),
    issued_by: me,
  };
  try {
    await api.setup({
      setup_token: token.trim(),
      company_id: companyId,
      name: n,
      keys: keysDto(pub),
      key_grant: b64u(await keys.sealCompanyGrant(myEnc, companyId, me)),
      admin_cert: signDoc(keys, STATEMENT.MEMBER_CERT, cert),
      everyone: await newGroup(keys, companyId, EVERYONE, true, [[me, myEnc]]),
    });
  } finally {
    keys.wipe();
  }
  await updatePins(store, (p) => {
    checkOrPin(p, companyId, pub, 'created');
    p.my_company = companyId;
  });
  return { id: companyId, name: n, fingerprint: fingerprintDisplay(companyFingerprint(pub)) };
}

/** An admin's (or member's) view of the organisation, with the unlocked account. */
export class OrgSession {
  readonly api: OrgApi;
  warnings: string[] = [];
  /** The verified policy of the caller's own company. */
  myPolicy: EffectivePolicy | null = null;

  private constructor(
    api: Api,
    readonly account: UnlockedAccount,
    readonly pins: PinStorage,
    readonly origin: string,
    public membership: MembershipResponse,
    /** The device's share pins (device.json's `shares`): here, the revocation list versions. */
    readonly sharePins: SharePinStore,
  ) {
    this.api = new OrgApi(api);
  }

  /** Fetches the membership and checks the company keys against the pins (first use pins them). */
  static async open(api: Api, account: UnlockedAccount, pins: PinStorage, origin: string, sharePins: SharePinStore = new MemorySharePins()): Promise<OrgSession> {
    const membership = await new OrgApi(api).membership();
    const s = new OrgSession(api, account, pins, origin, membership, sharePins);
    await s.checkMembership();
    return s;
  }

  async reload(): Promise<void> {
    this.membership = await this.api.membership();
    await this.checkMembership();
  }

  private async checkMembership(): Promise<void> {
    const c = this.membership.company;
    this.warnings = [];
    if (!c) {
      await updatePins(this.pins, (p) => {
        p.my_company = null;
      });
      this.myPolicy = null;
      return;
    }
    const m = this.membership;
    this.myPolicy = await updatePins(this.pins, (p) => {
      checkOrPinDto(p, c.id, c.keys, 'first-use');
      p.my_company = c.id;
      return resolvePolicy(p, c.id, m.policy);
    });
    this.warnings.push(...this.myPolicy.warnings);
  }

  get me(): string {
    return this.account.userId;
  }
  get company(): CompanyDto | null {
    return this.membership.company;
  }
  get role(): Role | null {
    return this.membership.member?.role ?? null;
  }
  get isPartner(): boolean {
    return this.company?.kind === 'partner';
  }
  /** Admin of their company (customer admin or partner admin). */
  get isAdmin(): boolean {
    return this.role === 'admin' && this.membership.member?.status === 'confirmed';
  }
  get isPartnerAdmin(): boolean {
    return this.isPartner && this.isAdmin;
  }
  get isTechnician(): boolean {
    return this.isPartner && this.role === 'technician';
  }

  partnerId(): string {
    const c = this.company;
    if (!c || c.kind !== 'partner') throw new OrgError('only partner admins and technicians can do this (your company is a customer)');
    return c.id;
  }

  /** The partner's customers the caller administers (partner admin: all; technician: assigned). */
  async customers(): Promise<CompanyDto[]> {
    return (await this.api.customers(this.partnerId())).companies;
  }

  /** The public keys of a company: the pin, else from the caller's grant (then pinned). */
  async companyPublic(companyId: string): Promise<PublicKeys> {
    const k = pinnedKeys(this.pins.load(), companyId);
    if (k) return k;
    const [keys, pub] = await this.companyKeys(companyId);
    keys.wipe();
    return pub;
  }

  /** The private keys of a company from the caller's grant, opened to the pinned keys. */
  async companyKeys(companyId: string, served?: CompanyDto): Promise<[KeyPair, PublicKeys]> {
    const company = served ?? (await this.api.company(companyId));
    const servedKeys = publicFromDto(company.keys);
    const pinned = pinnedKeys(this.pins.load(), companyId);
    if (pinned && !sameKeys(pinned, servedKeys)) throw new IntegrityError(`the server sent other keys for ${company.name} than the ones pinned on this browser`);
    const expected = pinned ?? servedKeys;
    const grants = (await this.api.myKeyGrants()).grants;
    const grant = grants.find((g) => g.company_id === companyId && g.user_id === this.me);
    if (!grant) throw new OrgError(`you hold no keys of ${company.name}; only its admins, its partner's admins and assigned technicians do`);
    const keys = await KeyPair.openCompanyGrant(this.account.encryptionPrivate, fromB64u(grant.sealed), companyId, this.me, expected);
    await updatePins(this.pins, (p) => {
      checkOrPin(p, companyId, expected, 'grant');
    });
    return [keys, expected];
  }

  /** A member's certified keys: the certificate verifies, names the member, and matches the served keys. */
  static certifiedKeys(company: PublicKeys, companyId: string, m: MemberDto): MemberCertBody {
    if (!m.cert) throw new OrgError(`${m.email} is not confirmed yet; confirm them first`);
    const body = verifyMemberCert(company, m.cert, companyId, m.user_id);
    if (normaliseEmail(body.email) !== normaliseEmail(m.email)) throw new IntegrityError(`the certificate of ${m.email} names another email`);
    const certified = publicKeys(fromB64u(body.signing_public_key), fromB64u(body.encryption_public_key));
    const served = publicKeys(fromB64u(m.signing_public_key), fromB64u(m.encryption_public_key));
    if (!sameKeys(certified, served)) throw new IntegrityError(`the server sent other public keys for ${m.email} than the certified ones`);
    return body;
  }

  private async member(companyId: string, userId: string): Promise<MemberDto> {
    const m = (await this.api.members(companyId)).members.find((x) => x.user_id === userId);
    if (!m) throw new OrgError('no such member (they may have been removed meanwhile)');
    return m;
  }

  // ------------------------------------------------------------ customers

  /**
   * Creates a customer: the browser makes its keys, seals them to every admin of the partner
   * after verifying their certificates against the pinned partner key, and the Everyone group.
   */
  async createCustomer(name: string, plan: Plan, seats: number): Promise<CreatedCompany> {
    const partnerId = this.partnerId();
    const partner = await this.companyPublic(partnerId);
    const n = name.trim();
    if (!n) throw new OrgError('the customer name cannot be empty');
    if (!Number.isInteger(seats) || seats < 1) throw new OrgError('the seat count must be a whole number of at least 1');
    const companyId = uuidV4();
    const keys = KeyPair.generate();
    const pub = keys.publicKeys;
    try {
      const keyGrants = [];
      for (const m of (await this.api.members(partnerId)).members) {
        if (m.role !== 'admin' || m.status !== 'confirmed') continue;
        const cert = OrgSession.certifiedKeys(partner, partnerId, m);
        if (cert.role !== 'admin') throw new IntegrityError(`the server lists ${m.email} as an admin but the certificate says otherwise`);
        keyGrants.push({ company_id: companyId, user_id: m.user_id, sealed: b64u(await keys.sealCompanyGrant(fromB64u(cert.encryption_public_key), companyId, m.user_id)) });
      }
      if (!keyGrants.some((g) => g.user_id === this.me)) throw new IntegrityError("the partner's member list does not include you as a certified admin");
      await this.api.createCustomer(partnerId, {
        company_id: companyId,
        name: n,
        plan,
        seats,
        keys: keysDto(pub),
        key_grants: keyGrants,
        everyone: await newGroup(keys, companyId, EVERYONE, true, []),
        policy: null,
      });
    } finally {
      keys.wipe();
    }
    await updatePins(this.pins, (p) => {
      checkOrPin(p, companyId, pub, 'created');
    });
    return { id: companyId, name: n, fingerprint: fingerprintDisplay(companyFingerprint(pub)) };
  }

  // ------------------------------------------------------------ invitations

  private newInvitation(company: KeyPair, pub: PublicKeys, companyId: string, email: string, role: Role): CreateInvitationRequest {
    const e = normaliseEmail(email);
    if (!e.includes('@') || e.length < 3) throw new OrgError(`"${e}" is not an email address`);
    const invitationId = uuidV4();
    const raw = randomBytes(32);
    const secret = b64u(raw);
    raw.fill(0);
    const link = formatInviteLink({ server: this.origin, invitationId, secret, fingerprint: companyFingerprint(pub) });
    const body: InvitationBody = { company_id: companyId, invitation_id: invitationId, email: e, role, expires_at: nowSecs() + INVITATION_DAYS * 86400, invited_by: this.me };
    return {
      invitation_id: invitationId,
      email: e,
      role,
      secret_hash: b64u(sha256(new TextEncoder().encode(secret))),
      invitation: signDoc(company, STATEMENT.INVITATION, body),
      link,
    };
  }

  async invite(company: CompanyDto, email: string, role: Role): Promise<Invited> {
    if (role === 'technician' && company.kind !== 'partner') throw new OrgError('technicians belong to the partner; invite them to the partner company');
    const [keys, pub] = await this.companyKeys(company.id, company);
    let req;
    try {
      req = this.newInvitation(keys, pub, company.id, email, role);
    } finally {
      keys.wipe();
    }
    const created = await this.api.createInvitation(company.id, req);
    return {
      invitationId: req.invitation_id,
      companyId: company.id,
      email: req.email,
      role,
      expiresAt: created.invitation.expires_at,
      mailed: created.mailed,
      fingerprint: fingerprintDisplay(companyFingerprint(pub)),
      link: req.link,
    };
  }

  async invitations(companyId: string): Promise<InvitationDto[]> {
    return (await this.api.invitations(companyId)).invitations;
  }

  // ------------------------------------------------------------ members

  async members(companyId: string): Promise<MemberView[]> {
    let pub: PublicKeys | null = null;
    try {
      pub = await this.companyPublic(companyId);
    } catch {
      pub = null;
    }
    const list = (await this.api.members(companyId)).members;
    return list.map((m) => {
      let certified = false;
      if (pub && m.cert) {
        try {
          OrgSession.certifiedKeys(pub, companyId, m);
          certified = true;
        } catch {
          certified = false;
        }
      }
      return {
        userId: m.user_id,
        email: m.email,
        role: m.role,
        status: m.status,
        disabled: m.disabled,
        certified,
        twoFactor: m.two_factor_enabled,
        requirePasswordChange: m.require_password_change,
        fingerprint: fingerprintDisplay(memberFingerprint(fromB64u(m.signing_public_key), fromB64u(m.encryption_public_key))),
        joinedAt: m.joined_at,
        confirmedAt: m.confirmed_at,
      };
    });
  }

  /**
   * Checks everything about an accepted member before a human decides: the self-signed key
   * binding, and a signed invitation for exactly that email, whose role is used.
   */
  async prepareConfirm(company: CompanyDto, userId: string): Promise<ConfirmPreview> {
    const pub = await this.companyPublic(company.id);
    const m = await this.member(company.id, userId);
    if (m.status === 'confirmed') throw new OrgError(`${m.email} is already confirmed`);
    verifyKeyBinding(m.user_id, m.ak_version, m.signing_key_id, m.signing_public_key, m.encryption_key_id, m.encryption_public_key, m.key_binding_signature);
    publicKeys(fromB64u(m.signing_public_key), fromB64u(m.encryption_public_key));
    const candidates = m.invitation ? [m.invitation] : (await this.invitations(company.id)).filter((i) => normaliseEmail(i.email) === normaliseEmail(m.email)).map((i) => i.invitation);
    let invitation: InvitationBody | null = null;
    for (const d of candidates) {
      try {
        const b = verifyInvitation(pub, d, company.id);
        if (normaliseEmail(b.email) === normaliseEmail(m.email)) {
          invitation = b;
          break;
        }
      } catch {
        // not signed by the company: ignored
      }
    }
    if (!invitation) throw new IntegrityError(`there is no invitation for ${m.email} signed with the company key; the member is not confirmed`);
    if (invitation.role !== m.role) throw new IntegrityError(`the server lists ${m.email} as ${m.role} but the signed invitation says ${invitation.role}; the member is not confirmed`);
    if (invitation.role === 'technician' && company.kind !== 'partner') throw new IntegrityError('a technician invitation for a customer company');
    const fp = memberFingerprint(fromB64u(m.signing_public_key), fromB64u(m.encryption_public_key));
    return { companyId: company.id, userId: m.user_id, email: normaliseEmail(m.email), role: invitation.role, fingerprint: fingerprintDisplay(fp), fingerprintRaw: fp, member: m };
  }

  /**
   * Confirms the member a human approved (called only from the Confirm button of the dialog that
   * shows the preview): signs the certificate, adds them to Everyone with the group keys and,
   * for an admin, seals the company keys to them.
   */
  async confirm(preview: ConfirmPreview): Promise<void> {
    const cid = preview.companyId;
    const [keys, pub] = await this.companyKeys(cid);
    try {
      const m = preview.member;
      const fp = memberFingerprint(fromB64u(m.signing_public_key), fromB64u(m.encryption_public_key));
      if (!ctEq(fp, preview.fingerprintRaw)) throw new OrgError('the confirmation was given for other keys');
      const body: MemberCertBody = {
        company_id: cid,
        user_id: m.user_id,
        email: preview.email,
        role: preview.role,
        signing_public_key: m.signing_public_key,
        encryption_public_key: m.encryption_public_key,
        serial: uuidV4(),
        issued_at: nowSecs(),
        issued_by: this.me,
      };
      const memberEnc = fromB64u(m.encryption_public_key);
      const groups = (await this.api.groups(cid)).groups;
      const everyone = groups.find((g) => g.is_everyone);
      if (!everyone) throw new IntegrityError('the company has no Everyone group');
      const everyoneRoster = await this.rosterChange(keys, pub, cid, everyone, null, [[m.user_id, memberEnc]], []);
      const keyGrant = preview.role === 'admin' ? b64u(await keys.sealCompanyGrant(memberEnc, cid, m.user_id)) : null;
      await this.api.confirmMember(cid, m.user_id, { cert: signDoc(keys, STATEMENT.MEMBER_CERT, body), key_grant: keyGrant, everyone_roster: everyoneRoster });
    } finally {
      keys.wipe();
    }
  }

  /** A new signed roster from the VERIFIED current one (never the server's list). */
  private async rosterChange(company: KeyPair, pub: PublicKeys, companyId: string, group: GroupDto, rename: string | null, add: [string, Uint8Array][], remove: string[]): Promise<RosterUpdateRequest> {
    const current = verifyRoster(pub, group.roster, companyId, group.id);
    const rosterKeys = publicKeys(fromB64u(current.signing_public_key), fromB64u(current.encryption_public_key));
    if (current.version !== group.roster_version || !sameKeys(rosterKeys, publicFromDto(group.keys))) throw new IntegrityError(`the group ${group.name} does not match its signed roster`);
    const groupKeys = await KeyPair.openGroupAdminGrant(company, fromB64u(group.admin_grant), group.id, companyId, rosterKeys);
    try {
      const members = current.members.filter((u) => !remove.includes(u));
      const grants: GroupGrantDto[] = [];
      for (const [u, pk] of add) {
        if (members.includes(u)) continue;
        members.push(u);
        grants.push({ user_id: u, sealed: b64u(await groupKeys.sealGroupGrant(pk, group.id, u)) });
      }
      const body: GroupRosterBody = { ...current, name: rename ?? current.name, version: current.version + 1, members };
      return { roster: signDoc(company, STATEMENT.GROUP_ROSTER, body), grants };
    } finally {
      groupKeys.wipe();
    }
  }

  async updateMember(companyId: string, userId: string, req: UpdateMemberRequest): Promise<void> {
    await this.api.updateMember(companyId, userId, req);
  }

  /** A role change of a confirmed member: a new certificate (and the company keys for a new admin). */
  async changeRole(company: CompanyDto, userId: string, role: Role): Promise<void> {
    if (role === 'technician' && company.kind !== 'partner') throw new OrgError('only a partner has technicians');
    const m = await this.member(company.id, userId);
    if (m.status !== 'confirmed') throw new OrgError(`${m.email} is not confirmed yet; their role comes from the invitation`);
    const [keys, pub] = await this.companyKeys(company.id, company);
    try {
      const current = OrgSession.certifiedKeys(pub, company.id, m);
      const body: MemberCertBody = { ...current, role, serial: uuidV4(), issued_at: nowSecs(), issued_by: this.me };
      const req: UpdateMemberRequest = { role, cert: signDoc(keys, STATEMENT.MEMBER_CERT, body) };
      if (role === 'admin') req.key_grant = b64u(await keys.sealCompanyGrant(fromB64u(current.encryption_public_key), company.id, m.user_id));
      await this.api.updateMember(company.id, userId, req);
      // The old certificate (with the old role) is superseded: revoke it, so a server cannot keep
      // serving it (for example an admin's certificate after a demotion).
      try {
        await this.revokeCertificates(company.id, [current.serial]);
      } catch (e) {
        throw new OrgError(`the role was changed, but the previous certificate could not be revoked (${(e as Error).message}); change the role again to retry`);
      }
    } finally {
      keys.wipe();
    }
  }

  /**
   * Adds certificate serials to the company's signed revocation list (`admin::revoke_certificates`,
   * property 24): a new version signed with the company key over the verified current one (never
   * below the version this browser pinned), every earlier serial kept. Retries when another admin
   * changed the list meanwhile (409).
   */
  async revokeCertificates(companyId: string, serials: string[]): Promise<void> {
    if (serials.length === 0) return;
    const [keys, pub] = await this.companyKeys(companyId);
    try {
      for (let attempt = 1; ; attempt++) {
        const served = (await this.api.directory(companyId)).revocations ?? null;
        const current = served ? verifyRevocations(pub, served, companyId) : null;
        checkRevocations(this.sharePins.load(), companyId, current ? current.version : null);
        const version = current?.version ?? 0;
        const list = [...(current?.serials ?? [])];
        if (serials.every((x) => list.includes(x))) return;
        for (const x of serials) if (!list.includes(x)) list.push(x);
        const body: RevocationListBody = { company_id: companyId, version: version + 1, serials: list, issued_at: nowSecs(), issued_by: this.me };
        try {
          await this.api.setRevocations(companyId, signDoc(keys, STATEMENT.REVOKED_CERTS, body));
        } catch (e) {
          if (e instanceof ApiFailure && e.status === 409 && attempt < 3) continue;
          throw e;
        }
        await updateSharePins(this.sharePins, (p) => recordRevocations(p, companyId, body.version));
        return;
      }
    } finally {
      keys.wipe();
    }
  }

  /**
   * Revokes a member's current certificate before they leave the company, so a server replaying
   * it cannot make clients share to them again. A certificate that does not verify is refused by
   * every client anyway: nothing to revoke.
   */
  private async revokeBeforeLeaving(companyId: string, m: MemberDto): Promise<void> {
    if (!m.cert) return;
    const pub = await this.companyPublic(companyId);
    let serial: string;
    try {
      serial = verifyMemberCert(pub, m.cert, companyId, m.user_id).serial;
    } catch {
      return;
    }
    await this.revokeCertificates(companyId, [serial]);
  }

  /** Removes a member, then re-signs the rosters of the groups they were in (failures are warnings). */
  async removeMember(companyId: string, userId: string): Promise<string[]> {
    await this.revokeBeforeLeaving(companyId, await this.member(companyId, userId));
    await this.api.removeMember(companyId, userId);
    return this.resignRostersWithout(companyId, userId);
  }

  /** Re-signs the rosters of the groups a member who left was in (`resign_rosters_without`; failures are warnings). */
  private async resignRostersWithout(companyId: string, userId: string): Promise<string[]> {
    const warnings: string[] = [];
    let keys: KeyPair;
    let pub: PublicKeys;
    try {
      [keys, pub] = await this.companyKeys(companyId);
    } catch (e) {
      return [`rosters not re-signed: ${(e as Error).message}`];
    }
    try {
      for (const g of (await this.api.groups(companyId)).groups) {
        let r: GroupRosterBody;
        try {
          r = verifyRoster(pub, g.roster, companyId, g.id);
        } catch {
          warnings.push(`group ${g.name}: its roster does not verify`);
          continue;
        }
        if (!r.members.includes(userId)) continue;
        try {
          await this.api.updateRoster(companyId, g.id, await this.rosterChange(keys, pub, companyId, g, null, [], [userId]));
        } catch (e) {
          warnings.push(`group ${r.name}: ${(e as Error).message}`);
        }
      }
    } finally {
      keys.wipe();
    }
    return warnings;
  }

  /** Deletes a member's account (certificate revoked first), then re-signs their groups' rosters. */
  async deleteMember(companyId: string, userId: string): Promise<string[]> {
    await this.revokeBeforeLeaving(companyId, await this.member(companyId, userId));
    await this.api.deleteMember(companyId, userId);
    return this.resignRostersWithout(companyId, userId);
  }

  /** Deletes the account and issues a new invitation for the same email and (certified) role. */
  async resetMember(company: CompanyDto, userId: string): Promise<Invited> {
    const m = await this.member(company.id, userId);
    const [keys, pub] = await this.companyKeys(company.id, company);
    let req: CreateInvitationRequest;
    let role: Role;
    try {
      role = m.cert ? OrgSession.certifiedKeys(pub, company.id, m).role : m.role;
      req = this.newInvitation(keys, pub, company.id, m.email, role);
    } finally {
      keys.wipe();
    }
    await this.revokeBeforeLeaving(company.id, m);
    await this.api.resetMember(company.id, m.user_id, req);
    return {
      invitationId: req.invitation_id,
      companyId: company.id,
      email: req.email,
      role,
      expiresAt: nowSecs() + INVITATION_DAYS * 86400,
      mailed: false,
      fingerprint: fingerprintDisplay(companyFingerprint(pub)),
      link: req.link,
    };
  }

  // ------------------------------------------------------------ technicians

  async assignTechnician(techId: string, customer: CompanyDto): Promise<void> {
    const partnerId = this.partnerId();
    const partner = await this.companyPublic(partnerId);
    const tech = await this.member(partnerId, techId);
    const cert = OrgSession.certifiedKeys(partner, partnerId, tech);
    if (cert.role !== 'technician') throw new OrgError(`${tech.email} is not a technician of the partner`);
    if (customer.partner_id !== partnerId) throw new OrgError(`no customer ${customer.name}`);
    const [keys] = await this.companyKeys(customer.id, customer);
    try {
      const sealed = await keys.sealCompanyGrant(fromB64u(cert.encryption_public_key), customer.id, tech.user_id);
      await this.api.assignTechnician(partnerId, tech.user_id, customer.id, b64u(sealed));
    } finally {
      keys.wipe();
    }
  }

  async unassignTechnician(techId: string, customerId: string): Promise<void> {
    await this.api.unassignTechnician(this.partnerId(), techId, customerId);
  }

  async technicianCustomers(techId: string): Promise<string[]> {
    return (await this.api.technicianCustomers(this.partnerId(), techId)).customers;
  }

  // ------------------------------------------------------------ groups

  /** Groups with their VERIFIED rosters. */
  async groups(companyId: string): Promise<GroupView[]> {
    const pub = await this.companyPublic(companyId);
    return (await this.api.groups(companyId)).groups.map((g) => {
      const r = verifyRoster(pub, g.roster, companyId, g.id);
      return { id: g.id, name: r.name, isEveryone: r.is_everyone, isRecovery: g.is_recovery === true, version: r.version, members: r.members };
    });
  }

  /** Members' certified encryption keys. */
  private async certifiedMembers(companyId: string, pub: PublicKeys, userIds: string[]): Promise<[string, Uint8Array][]> {
    const list = (await this.api.members(companyId)).members;
    return userIds.map((u) => {
      const m = list.find((x) => x.user_id === u);
      if (!m) throw new OrgError('a chosen member is no longer in the company');
      const cert = OrgSession.certifiedKeys(pub, companyId, m);
      return [m.user_id, fromB64u(cert.encryption_public_key)];
    });
  }

  async createGroup(companyId: string, name: string, memberIds: string[]): Promise<string> {
    const n = name.trim();
    if (!n || n.toLowerCase() === EVERYONE.toLowerCase()) throw new OrgError(`"${n}" cannot be a group name`);
    const [keys, pub] = await this.companyKeys(companyId);
    try {
      const members = await this.certifiedMembers(companyId, pub, memberIds);
      const g = await newGroup(keys, companyId, n, false, members);
      await this.api.createGroup(companyId, g);
      return g.group_id;
    } finally {
      keys.wipe();
    }
  }

  async changeGroup(companyId: string, groupId: string, rename: string | null, add: string[], remove: string[]): Promise<void> {
    const [keys, pub] = await this.companyKeys(companyId);
    try {
      const g = (await this.api.groups(companyId)).groups.find((x) => x.id === groupId);
      if (!g) throw new OrgError('the group no longer exists');
      if (g.is_everyone) throw new OrgError('the Everyone group follows the confirmed members; it cannot be changed by hand');
      if (rename !== null && (!rename.trim() || rename.trim().toLowerCase() === EVERYONE.toLowerCase())) throw new OrgError(`"${rename}" cannot be a group name`);
      const adds = await this.certifiedMembers(companyId, pub, add);
      await this.api.updateRoster(companyId, g.id, await this.rosterChange(keys, pub, companyId, g, rename === null ? null : rename.trim(), adds, remove));
    } finally {
      keys.wipe();
    }
  }

  async deleteGroup(companyId: string, groupId: string): Promise<void> {
    const g = (await this.api.groups(companyId)).groups.find((x) => x.id === groupId);
    if (!g) return;
    if (g.is_everyone) throw new OrgError('the Everyone group cannot be deleted');
    await this.api.deleteGroup(companyId, groupId);
  }

  // ------------------------------------------------------------ policies

  /** The verified effective policy of a company (served documents that fail are ignored). */
  async policy(companyId: string): Promise<EffectivePolicy> {
    await this.companyPublic(companyId);
    const served = (await this.api.policy(companyId)).policy;
    return updatePins(this.pins, (p) => resolvePolicy(p, companyId, served));
  }

  /** Signs a new policy document (counter + 1 over the verified and the served one). */
  /**
   * Signs and publishes the next policy. `keepBackup` keeps the company's verified
   * `org_backup` (its key is the company's own: templates never carry one).
   */
  async setPolicy(companyId: string, policies: PolicySet, opts?: { keepBackup?: boolean }): Promise<EffectivePolicy> {
    const [keys] = await this.companyKeys(companyId);
    try {
      const served = (await this.api.policy(companyId)).policy;
      const current = await updatePins(this.pins, (p) => resolvePolicy(p, companyId, served));
      if (opts?.keepBackup) policies = { ...policies, org_backup: current.policies.org_backup };
      const servedCounter = peekDoc<PolicyBody>(served)?.counter;
      const counter = Math.max(current.counter, typeof servedCounter === 'number' ? servedCounter : 0) + 1;
      const body: PolicyBody = { company_id: companyId, counter, issued_at: nowSecs(), issued_by: this.me, policies };
      const doc = signDoc(keys, STATEMENT.POLICY, body);
      await this.api.setPolicy(companyId, doc);
      await updatePins(this.pins, (p) => recordPolicy(p, companyId, body, doc));
      return { company_id: companyId, counter, policies, warnings: current.warnings };
    } finally {
      keys.wipe();
    }
  }

  async templates(): Promise<PolicyTemplateDto[]> {
    return (await this.api.templates(this.partnerId())).templates;
  }

  async putTemplate(id: string | null, name: string, policies: PolicySet): Promise<string> {
    const n = name.trim();
    if (!n) throw new OrgError('the template needs a name');
    const tid = id ?? uuidV4();
    await this.api.putTemplate(this.partnerId(), { id: tid, name: n, policies });
    return tid;
  }

  async deleteTemplate(id: string): Promise<void> {
    await this.api.deleteTemplate(this.partnerId(), id);
  }

  /** Applies a template to many customers: one signed policy document per customer. */
  async applyTemplate(t: PolicyTemplateDto, customers: CompanyDto[], onProgress?: (r: TemplateResult) => void): Promise<TemplateResult[]> {
    const out: TemplateResult[] = [];
    for (const c of customers) {
      let r: TemplateResult;
      try {
        const eff = await this.setPolicy(c.id, t.policies, { keepBackup: true });
        r = { companyId: c.id, name: c.name, ok: true, message: `policy #${eff.counter} signed` };
      } catch (e) {
        r = { companyId: c.id, name: c.name, ok: false, message: (e as Error).message };
      }
      out.push(r);
      onProgress?.(r);
    }
    return out;
  }

  // ------------------------------------------------------------ audit

  async audit(companyId: string, filter: AuditFilter): Promise<{ events: AuditEventDto[]; nextBefore: number | null }> {
    const page = await this.api.audit(companyId, filter);
    return { events: page.events, nextBefore: page.next_before };
  }

  /** Every event matching the filter (paged through, at most `max`). */
  async auditAll(companyId: string, filter: AuditFilter, max = 100000): Promise<AuditEventDto[]> {
    const out: AuditEventDto[] = [];
    const f = { ...filter, limit: 1000 };
    for (;;) {
      const page = await this.api.audit(companyId, f);
      out.push(...page.events);
      if (page.next_before === null || out.length >= max || f.before === page.next_before) break;
      f.before = page.next_before;
    }
    return out.slice(0, max);
  }

  async auditCsv(companyId: string, filter: AuditFilter): Promise<string> {
    return this.api.auditCsv(companyId, { ...filter, limit: 1000 });
  }
}
