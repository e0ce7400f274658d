// Organisation backup operations of an admin in the browser, step by step as
// crates/castellan-client/src/backup/mod.rs: listing, restoring (download, VERIFY, then open with
// the kit, the words or the Recovery Group key), handing the items over to a member's new
// account, importing them into the admin's own Business profile, the encrypted export file, the
// audit record, and the Recovery Group mode (enable, add a member, remove a member = new key).
import { b64u, ctEq, fromB64u, uuidV4 } from '../crypto/bytes';
import { x25519PublicKey } from '../crypto/hpke';
import { signStatement } from '../crypto/sign';
import { IntegrityError } from '../client/account';
import type { Api } from '../client/api';
import type { VaultClient } from '../client/vault';
import type { ItemData } from '../model/item';
import { backupKeyFingerprint } from './backup';
import { decodeWords, kitSecretFor, openBackup, sealHandover, verifyBackup, writeExport, folderPath, type BackupDto, type BackupPayload } from './backup-restore';
import { normaliseEmail, signDoc, STATEMENT, verifyMemberCert, verifyRoster } from './docs';
import { KeyPair, keysDto, publicKeys, type PublicKeys } from './keys';
import { nowSecs, OrgError, OrgSession } from './session';
import type { BackupListResponse, CompanyDto, GroupDto, GroupGrantDto, GroupRosterBody, MemberCertBody, MemberDto, OrgBackupPolicy, SignedDoc } from './types';

export const RECOVERY_GROUP = 'Recovery Group';

export type RestoreTarget = 'me' | 'user' | 'file';

interface MyGroupDto {
  group: GroupDto;
  grant: string;
}

/** The backup endpoints (crates/castellan-types/src/backups.rs, module docs). */
export class BackupApi {
  constructor(private readonly api: Api) {}
  static of(s: OrgSession): BackupApi {
    return new BackupApi(s.api.api);
  }
  list(cid: string, userId?: string) {
    return this.api.call<BackupListResponse>('GET', `/companies/${cid}/backups${userId ? `?user_id=${encodeURIComponent(userId)}` : ''}`);
  }
  /** One backup; the server records the download in the audit log. */
  get(cid: string, bid: string) {
    return this.api.call<BackupDto>('GET', `/companies/${cid}/backups/${bid}`);
  }
  restored(cid: string, bid: string, into: RestoreTarget, items: number) {
    return this.api.call<unknown>('POST', `/companies/${cid}/backups/${bid}/restored`, { into, items });
  }
  createRecoveryGroup(cid: string, dto: { group_id: string; name: string; keys: ReturnType<typeof keysDto>; roster: SignedDoc; grants: GroupGrantDto[] }) {
    return this.api.call<GroupDto>('POST', `/companies/${cid}/recovery-groups`, dto);
  }
  createHandover(cid: string, req: unknown) {
    return this.api.call<unknown>('POST', `/companies/${cid}/handovers`, req);
  }
  myGroups() {
    return this.api.call<{ groups: MyGroupDto[] }>('GET', '/me/groups');
  }
}

/** Where the restoring admin's key comes from (backup::KeySource). */
export type KeySource = { kind: 'kit'; text: string; name: string } | { kind: 'words'; text: string } | { kind: 'group' };

/** A backup opened after verification. */
export interface Restored {
  backup: BackupDto;
  payload: BackupPayload;
  /** The member certificate the backup carried (verified against the pinned company key). */
  cert: MemberCertBody;
  source: KeySource['kind'];
}

/**
 * Downloads, VERIFIES and opens one backup (backup::restore). Nothing is opened before the
 * certificate and the signature verified; the key version must agree with the kit and with the
 * company's signed policy.
 */
export async function restoreBackup(s: OrgSession, companyId: string, userId: string, backupId: string, source: KeySource): Promise<Restored> {
  const pub = await s.companyPublic(companyId);
  const api = BackupApi.of(s);
  const b = await api.get(companyId, backupId);
  if (b.backup_id !== backupId) throw new IntegrityError('the server sent another backup');
  const cert = verifyBackup(pub, companyId, userId, b);
  // The key version must be one the company signed: never newer than the verified policy's,
  // and the current version's key is the policy's key (the server checks this at upload; a
  // browser does not take the server's word for it).
  const policy = (await s.policy(companyId)).policies.org_backup;
  if (policy) {
    if (b.key_version > policy.key_version) throw new IntegrityError(`the backup names backup key version ${b.key_version}, which the company's signed policy never published (it is at version ${policy.key_version})`);
    if (b.key_version === policy.key_version && !ctEq(fromB64u(b.public_key), fromB64u(policy.public_key))) throw new IntegrityError(`the backup is sealed to another key than the one of key version ${b.key_version} in the company's signed policy`);
  }
  let secret: Uint8Array;
  switch (source.kind) {
    case 'kit':
      secret = kitSecretFor(source.text, source.name, companyId, b.key_version);
      break;
    case 'words':
      secret = decodeWords(source.text);
      break;
    case 'group':
      secret = await groupSecretFor(s, companyId, pub, fromB64u(b.public_key));
      break;
  }
  try {
    const payload = await openBackup(secret, b);
    return { backup: b, payload, cert, source: source.kind };
  } finally {
    secret.fill(0);
  }
}

/** The Recovery Group key (from my grant) whose VERIFIED roster names `publicKey`. */
async function groupSecretFor(s: OrgSession, companyId: string, company: PublicKeys, publicKey: Uint8Array): Promise<Uint8Array> {
  const mine = (await BackupApi.of(s).myGroups()).groups;
  for (const g of mine) {
    if (g.group.company_id !== companyId) continue;
    let roster: GroupRosterBody;
    try {
      roster = verifyRoster(company, g.group.roster, companyId, g.group.id);
    } catch {
      continue;
    }
    if (!ctEq(fromB64u(roster.encryption_public_key), publicKey) || !roster.members.includes(s.me)) continue;
    const expected = publicKeys(fromB64u(roster.signing_public_key), fromB64u(roster.encryption_public_key));
    const kp = await KeyPair.openGroupGrant(s.account.encryptionPrivate, fromB64u(g.grant), g.group.id, s.me, expected);
    const secret = kp.encryptionKey.slice();
    kp.wipe();
    return secret;
  }
  throw new OrgError('you are not a member of the Recovery Group that holds this backup\'s key; a current member must add you');
}

/** Records the restore in the audit log (backup::record_restore). */
export async function recordRestore(s: OrgSession, companyId: string, r: Restored, into: RestoreTarget): Promise<void> {
  await BackupApi.of(s).restored(companyId, r.backup.backup_id, into, r.payload.items.length);
}

/** The member a backup can be handed over to: the current CERTIFIED account with the backup's email. */
export async function handoverTarget(s: OrgSession, companyId: string, email: string): Promise<{ member: MemberDto; cert: MemberCertBody }> {
  const pub = await s.companyPublic(companyId);
  const want = normaliseEmail(email);
  const m = (await s.api.members(companyId)).members.find((x) => normaliseEmail(x.email) === want);
  try {
    if (!m) throw new OrgError(`no member ${want}`);
    if (m.status !== 'confirmed') throw new OrgError(`${want} is not confirmed yet`);
    return { member: m, cert: OrgSession.certifiedKeys(pub, companyId, m) };
  } catch (e) {
    const why = (e as Error).message;
    if (e instanceof IntegrityError) throw new IntegrityError(`${want}'s account cannot receive the items: ${why}`);
    throw new OrgError(`${want} has no certified account to hand the items to (${why}); invite or reset them and confirm their new account first`);
  }
}

/**
 * Hands the restored items to the user's (new) account (backup::hand_over): sealed to their
 * CERTIFIED key, signed with my identity key and my admin certificate; their client imports the
 * items as new Business items at its next sync.
 */
export async function handOver(s: OrgSession, companyId: string, r: Restored): Promise<string> {
  const { member, cert } = await handoverTarget(s, companyId, r.backup.user_email);
  const own = s.membership.member;
  let adminCert: SignedDoc;
  if (own && own.company_id === companyId && own.cert) {
    adminCert = own.cert;
  } else {
    // A partner admin or technician is not a member of the customer but holds its root key:
    // they certify their own identity keys as an admin of it for this handover (as the CLI).
    const [keys] = await s.companyKeys(companyId);
    try {
      const body: MemberCertBody = {
        company_id: companyId,
        user_id: s.me,
        email: normaliseEmail(s.account.email),
        role: 'admin',
        signing_public_key: b64u(s.account.signingPublic),
        encryption_public_key: b64u(x25519PublicKey(s.account.encryptionPrivate)),
        serial: uuidV4(),
        issued_at: nowSecs(),
        issued_by: s.me,
      };
      adminCert = signDoc(keys, STATEMENT.MEMBER_CERT, body);
    } finally {
      keys.wipe();
    }
  }
  const req = await sealHandover({
    id: uuidV4(),
    companyId,
    userId: member.user_id,
    memberEncryptionKey: fromB64u(cert.encryption_public_key),
    payload: r.payload,
    adminCert,
    adminSigningSeed: s.account.signingSeed,
    sign: signStatement,
  });
  await BackupApi.of(s).createHandover(companyId, req);
  return member.email;
}

/** A folder path in my Business profile, made where missing (VaultSession::ensure_folder_path). */
async function ensureFolderPath(v: VaultClient, path: string): Promise<string> {
  let parent: string | null = null;
  for (const raw of path.split('/')) {
    const name = raw.trim();
    if (!name) continue;
    const existing = v.folders.value.find((f) => f.profile === 'business' && f.data.parent_id === parent && f.data.name === name);
    parent = existing ? existing.id : await v.createFolder('business', name, parent);
  }
  if (!parent) throw new OrgError('empty folder path');
  return parent;
}

/**
 * Imports the restored items into MY Business profile under "Restored <email>" (the backup's
 * folders below it), as `castellan backup restore --into me`.
 */
export async function importIntoMe(v: VaultClient, r: Restored): Promise<number> {
  const root = `Restored ${r.backup.user_email.replace(/\//g, '_')}`;
  const rootId = await ensureFolderPath(v, root);
  const map = new Map<string, string>();
  for (const f of r.payload.folders) {
    const path = folderPath(r.payload, f.id);
    if (path) map.set(f.id, await ensureFolderPath(v, `${root}/${path.replace(/\/+/g, '/')}`));
  }
  const items: ItemData[] = r.payload.items.map((i) => ({ ...i, folder_id: (i.folder_id && map.get(i.folder_id)) || rootId }));
  await v.createItems('business', items);
  return items.length;
}

/** The restored items as an encrypted export file's text (`--into file`). */
export function exportFile(r: Restored, passphrase: string): Promise<string> {
  return writeExport(r.backup, r.payload, passphrase);
}

// ------------------------------------------------------------ Recovery Group mode

export interface RecoveryGroupState {
  policy: OrgBackupPolicy;
  group: GroupDto;
  roster: GroupRosterBody;
  members: { userId: string; email: string }[];
  /** I am on the verified roster. */
  iAmMember: boolean;
}

/** The verified backup policy in recovery-group mode and its Recovery Group (backup::current_group). */
export async function recoveryGroupState(s: OrgSession, companyId: string): Promise<RecoveryGroupState> {
  const pub = await s.companyPublic(companyId);
  const policy = (await s.policy(companyId)).policies.org_backup;
  if (!policy || policy.mode !== 'recovery-group') throw new OrgError('organisation backup is not in recovery-group mode');
  const gid = policy.recovery_group_id;
  if (!gid) throw new IntegrityError('the policy names no Recovery Group');
  const group = (await s.api.groups(companyId)).groups.find((g) => g.id === gid);
  if (!group) throw new OrgError('the Recovery Group is missing on the server');
  const roster = verifyRoster(pub, group.roster, companyId, gid);
  if (!ctEq(fromB64u(roster.encryption_public_key), fromB64u(policy.public_key))) throw new IntegrityError("the Recovery Group's signed keys differ from the policy's backup key");
  const list = (await s.api.members(companyId)).members;
  const members = roster.members.map((u) => ({ userId: u, email: list.find((m) => m.user_id === u)?.email ?? `(former member ${u.slice(0, 8)})` }));
  return { policy, group, roster, members, iAmMember: roster.members.includes(s.me) };
}

/** My certified encryption key in the company (I must be a confirmed member). */
function myCertified(s: OrgSession, companyId: string, company: PublicKeys): Uint8Array {
  const m = s.membership.member;
  if (!m || m.company_id !== companyId || !m.cert) throw new OrgError("only a confirmed member of this company can hold the Recovery Group's key (a partner admin or technician is not a member of a customer)");
  const body = verifyMemberCert(company, m.cert, companyId, s.me);
  const pk = fromB64u(body.encryption_public_key);
  if (!ctEq(pk, x25519PublicKey(s.account.encryptionPrivate))) throw new IntegrityError("your member certificate is for other keys than this account's");
  return pk;
}

/** Certified encryption keys of members by user id (certificate verified, served keys equal). */
async function certifiedMembers(s: OrgSession, companyId: string, company: PublicKeys, userIds: string[]): Promise<[string, Uint8Array][]> {
  const list = (await s.api.members(companyId)).members;
  return userIds.map((u) => {
    const m = list.find((x) => x.user_id === u);
    if (!m) throw new OrgError('a chosen member is no longer in the company');
    const cert = OrgSession.certifiedKeys(company, companyId, m);
    return [m.user_id, fromB64u(cert.encryption_public_key)];
  });
}

/** A new Recovery Group: roster version 1 signed by the company, keys sealed ONLY to `members`. */
async function newRecoveryGroup(company: KeyPair, companyId: string, members: [string, Uint8Array][]) {
  const groupId = uuidV4();
  const keys = KeyPair.generate();
  try {
    const pub = keys.publicKeys;
    const body: GroupRosterBody = {
      company_id: companyId,
      group_id: groupId,
      name: RECOVERY_GROUP,
      is_everyone: false,
      version: 1,
      signing_public_key: b64u(pub.signing),
      encryption_public_key: b64u(pub.encryption),
      members: members.map(([u]) => u),
    };
    const grants: GroupGrantDto[] = [];
    for (const [u, pk] of members) grants.push({ user_id: u, sealed: b64u(await keys.sealGroupGrant(pk, groupId, u)) });
    return { dto: { group_id: groupId, name: RECOVERY_GROUP, keys: keysDto(pub), roster: signDoc(company, STATEMENT.GROUP_ROSTER, body), grants }, publicKey: pub.encryption };
  } finally {
    keys.wipe();
  }
}

export interface EnabledGroup {
  keyVersion: number;
  fingerprint: string;
  groupId: string;
}

/**
 * Enables recovery-group mode (backup::enable_group): a new Recovery Group sealed only to me (a
 * confirmed member), its encryption key published in a new signed policy (key version + 1).
 */
export async function enableRecoveryGroup(s: OrgSession, company: CompanyDto, retentionDays?: number): Promise<EnabledGroup> {
  const cid = company.id;
  const [keys, pub] = await s.companyKeys(cid);
  try {
    const me = myCertified(s, cid, pub);
    const current = await s.policy(cid);
    const cur = current.policies.org_backup;
    const keyVersion = (cur?.key_version ?? 0) + 1;
    const retention = retentionDays ?? cur?.retention_days ?? 90;
    const g = await newRecoveryGroup(keys, cid, [[s.me, me]]);
    await BackupApi.of(s).createRecoveryGroup(cid, g.dto);
    const policy: OrgBackupPolicy = { mode: 'recovery-group', public_key: b64u(g.publicKey), key_version: keyVersion, recovery_group_id: g.dto.group_id, retention_days: retention };
    await s.setPolicy(cid, { ...current.policies, org_backup: policy });
    return { keyVersion, fingerprint: backupKeyFingerprint(g.publicKey), groupId: g.dto.group_id };
  } finally {
    keys.wipe();
  }
}

/**
 * Adds a member to the Recovery Group (backup::add_recovery_member): only a current member can,
 * because their grant is the only copy of the group keys they can open.
 */
export async function addRecoveryMember(s: OrgSession, companyId: string, userId: string): Promise<void> {
  const [keys, pub] = await s.companyKeys(companyId);
  try {
    const st = await recoveryGroupState(s, companyId);
    if (st.roster.members.includes(userId)) throw new OrgError('they are in the Recovery Group already');
    const expected = publicKeys(fromB64u(st.roster.signing_public_key), fromB64u(st.roster.encryption_public_key));
    const mine = (await BackupApi.of(s).myGroups()).groups.find((g) => g.group.id === st.group.id);
    if (!mine) throw new OrgError('you are not a member of the Recovery Group; a current member must add people');
    const groupKeys = await KeyPair.openGroupGrant(s.account.encryptionPrivate, fromB64u(mine.grant), st.group.id, s.me, expected);
    try {
      const [[uid, pk]] = await certifiedMembers(s, companyId, pub, [userId]);
      const body: GroupRosterBody = { ...st.roster, version: st.roster.version + 1, members: [...st.roster.members, uid] };
      await s.api.updateRoster(companyId, st.group.id, { roster: signDoc(keys, STATEMENT.GROUP_ROSTER, body), grants: [{ user_id: uid, sealed: b64u(await groupKeys.sealGroupGrant(pk, st.group.id, uid)) }] });
    } finally {
      groupKeys.wipe();
    }
  } finally {
    keys.wipe();
  }
}

/**
 * Removes a member and rotates the key (backup::remove_recovery_member): the old group keeps
 * serving older backups without them; a NEW Recovery Group sealed to the remaining members and a
 * new signed policy (key version + 1) for the backups made from now on.
 */
export async function removeRecoveryMember(s: OrgSession, companyId: string, userId: string): Promise<EnabledGroup> {
  const [keys, pub] = await s.companyKeys(companyId);
  try {
    const st = await recoveryGroupState(s, companyId);
    if (!st.roster.members.includes(userId)) throw new OrgError('they are not in the Recovery Group');
    const remaining = st.roster.members.filter((u) => u !== userId);
    if (remaining.length === 0) throw new OrgError('the Recovery Group would be empty; add another member first (or turn backup off)');
    const members = await certifiedMembers(s, companyId, pub, remaining);
    const old: GroupRosterBody = { ...st.roster, version: st.roster.version + 1, members: remaining };
    await s.api.updateRoster(companyId, st.group.id, { roster: signDoc(keys, STATEMENT.GROUP_ROSTER, old), grants: [] });
    const g = await newRecoveryGroup(keys, companyId, members);
    await BackupApi.of(s).createRecoveryGroup(companyId, g.dto);
    const current = await s.policy(companyId);
    const keyVersion = st.policy.key_version + 1;
    const policy: OrgBackupPolicy = { mode: 'recovery-group', public_key: b64u(g.publicKey), key_version: keyVersion, recovery_group_id: g.dto.group_id, retention_days: st.policy.retention_days };
    await s.setPolicy(companyId, { ...current.policies, org_backup: policy });
    return { keyVersion, fingerprint: backupKeyFingerprint(g.publicKey), groupId: g.dto.group_id };
  } finally {
    keys.wipe();
  }
}
