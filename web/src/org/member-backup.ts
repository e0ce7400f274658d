// Organisation backup on the member's side, in the browser, as the Rust client does after every
// sync (crates/castellan-client/src/backup/mod.rs `after_sync`, `import_handovers`,
// `write_backup`; docs/org-backup.md):
//
// - Handovers: an admin restored this member's backup "into the user". Each handover is checked
//   BEFORE it is opened: addressed to me, of my own (pinned) company, the admin's certificate
//   verifies with the pinned company key and says role admin, the admin's Ed25519 signature over
//   `handover_signed_bytes` verifies with the certified key; it must then open with MY private
//   key (HPKE, info bound to company, user and handover id) and parse strictly to a payload that
//   names the same company and user. Its items become new Business items (folders flattened, as
//   Rust) and the handover is deleted. One that fails is never imported: a warning says why.
// - Backups: when the VERIFIED company policy has `org_backup`, the Business items and folders
//   (never the Personal profile, never a share, never a key) are sealed under a fresh key, that
//   key is HPKE-sealed ONLY to the verified policy's public key, and the backup is signed with my
//   identity key and uploaded with my member certificate (which must certify this account's keys).
//   Written after a sync that changed the Business vault, and at least daily.
import { signal } from '@preact/signals';
import { b64u, concat, ctEq, dec, fromB64u, hex, i64be, randomBytes, utf8, uuidBytes, uuidV4 } from '../crypto/bytes';
import { Context, seal as sealEnvelope } from '../crypto/envelope';
import { hpkeOpen, hpkeSeal, x25519PublicKey } from '../crypto/hpke';
import { sha256 } from '../crypto/primitives';
import { signStatement, verifyStatement } from '../crypto/sign';
import { IntegrityError, type UnlockedAccount } from '../client/account';
import { type Api, ApiFailure } from '../client/api';
import { openDetails, openFolder } from '../client/codec';
import type { LocalCache } from '../client/db';
import type { VaultClient } from '../client/vault';
import { cloneItem, type ItemData } from '../model/item';
import { BACKUP_STATEMENT, type BackupFolder, backupSignedBytes, type BackupPayload, HANDOVER_STATEMENT, handoverInfo, handoverSignedBytes, keyInfo, parsePayload, payloadJson } from './backup-restore';
import { verifyMemberCert } from './docs';
import { checkOrPinDto, pinnedKeys, type OrgPins, type PinStorage, updatePins } from './pins';
import { type EffectivePolicy, resolvePolicy } from './policy';
import type { MemberCertBody, MembershipResponse, OrgBackupPolicy, SignedDoc } from './types';

/** A backup is written at least this often while the vault syncs (Rust MAX_BACKUP_AGE_SECS). */
export const MAX_BACKUP_AGE_SECS = 86_400;
const PAYLOAD_FORMAT = 1;
/** How long "not enrolled" holds while the Business vault is unchanged. */
const NOT_ENROLLED_RECHECK_MS = 5 * 60_000;

const nowSecs = () => Math.floor(Date.now() / 1000);

// ------------------------------------------------------------ handovers

/** `GET /me/handovers` (castellan-types `HandoverDto`). */
export interface HandoverDto {
  id: string;
  company_id: string;
  user_id: string;
  created_by: string;
  created_at: number;
  sealed: string;
  admin_cert: SignedDoc;
  signature: string;
}

/** A handover that failed a check: never opened or imported. */
export class HandoverRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HandoverRefused';
  }
}

/**
 * The checks of `import_handovers` made BEFORE a handover is opened: it is addressed to me, it
 * comes from my own company whose key this browser pinned, the admin's certificate verifies with
 * that key (naming the company and the admin who made the handover) and says role admin, and the
 * admin's signature over the ids and the SHA-256 of the sealed bytes verifies with the certified
 * key. Returns the admin's certificate body.
 */
export function verifyHandover(pins: OrgPins, myUserId: string, h: HandoverDto): MemberCertBody {
  if (h.user_id !== myUserId) throw new HandoverRefused('it is addressed to another account');
  const company = pinnedKeys(pins, h.company_id);
  if (!company || pins.my_company !== h.company_id) throw new HandoverRefused("it comes from a company that is not yours (or whose key this browser has not pinned)");
  let cert: MemberCertBody;
  try {
    cert = verifyMemberCert(company, h.admin_cert, h.company_id, h.created_by);
  } catch (e) {
    throw new HandoverRefused(`the administrator's certificate does not verify with your company's key (${(e as Error).message})`);
  }
  if (cert.role !== 'admin') throw new HandoverRefused('it was not made by an administrator of your company');
  let sealed: Uint8Array;
  let signature: Uint8Array;
  try {
    sealed = fromB64u(h.sealed);
    signature = fromB64u(h.signature);
  } catch {
    throw new HandoverRefused('it is malformed');
  }
  if (sealed.length < 48) throw new HandoverRefused('it is malformed');
  try {
    verifyStatement(fromB64u(cert.signing_public_key), HANDOVER_STATEMENT, handoverSignedBytes(h.id, h.company_id, h.user_id, sha256(sealed)), signature);
  } catch {
    throw new HandoverRefused("the administrator's signature does not verify (tampered or forged)");
  }
  return cert;
}

/**
 * Opens a VERIFIED handover with my private key: it opens only if it was sealed to my key. The
 * payload is parsed strictly and must name the handover's company and user.
 */
export async function openHandoverFor(myEncryptionPrivate: Uint8Array, h: HandoverDto): Promise<BackupPayload> {
  const sealed = fromB64u(h.sealed);
  let pt: Uint8Array;
  try {
    pt = await hpkeOpen(myEncryptionPrivate, sealed.subarray(0, 32), handoverInfo(h.company_id, h.user_id, h.id), new Uint8Array(0), sealed.subarray(32));
  } catch {
    throw new HandoverRefused('it does not open with your key (it was not sealed to your certified key, or it was altered)');
  }
  let payload: BackupPayload;
  try {
    payload = parsePayload(JSON.parse(dec.decode(pt)));
  } catch (e) {
    throw new HandoverRefused(`its contents are malformed (${(e as Error).message})`);
  } finally {
    pt.fill(0);
  }
  if (payload.company_id !== h.company_id || payload.user_id !== h.user_id) throw new HandoverRefused('its contents name another company or user');
  return payload;
}

/** The items to create: folders are flattened away, as `queue_items` does (the user files them again). */
export function handoverItems(p: BackupPayload): ItemData[] {
  return p.items.map((i) => {
    const d = cloneItem(i);
    d.folder_id = null;
    return d;
  });
}

// ------------------------------------------------------------ writing backups

/** What this browser remembers about its backups (Rust `BackupState`, backup_state.json). */
export interface BackupState {
  digest: string | null;
  last_at: number | null;
  key_version: number | null;
  last_error: string | null;
}

export interface BackupStateStore {
  load(): BackupState;
  save(s: BackupState): void;
}

const emptyState = (): BackupState => ({ digest: null, last_at: null, key_version: null, last_error: null });

export class MemoryBackupState implements BackupStateStore {
  constructor(public state: BackupState = emptyState()) {}
  load(): BackupState {
    return { ...this.state };
  }
  save(s: BackupState): void {
    this.state = { ...s };
  }
}

/**
 * The state in localStorage under the user id: ids and versions only (no plaintext, no key), kept
 * apart from the device state so that it never races with the pins.
 */
export function localBackupState(userId: string): BackupStateStore {
  const key = `castellan-org-backup-v1:${userId}`;
  const mem = new MemoryBackupState();
  return {
    load() {
      try {
        const raw = window.localStorage.getItem(key);
        if (!raw) return mem.load();
        const o = JSON.parse(raw) as Partial<BackupState>;
        return {
          digest: typeof o.digest === 'string' ? o.digest : null,
          last_at: typeof o.last_at === 'number' ? o.last_at : null,
          key_version: typeof o.key_version === 'number' ? o.key_version : null,
          last_error: typeof o.last_error === 'string' ? o.last_error : null,
        };
      } catch {
        return mem.load();
      }
    },
    save(s) {
      mem.save(s);
      try {
        window.localStorage.setItem(key, JSON.stringify(s));
      } catch {
        // private mode or full: the state stays in memory for this session
      }
    },
  };
}

function businessVaultId(account: UnlockedAccount): string {
  const v = account.vaults.find((x) => x.kind === 'business');
  if (!v) throw new IntegrityError('the business vault is missing');
  return v.id;
}

/** A digest of the synced Business vault (ids and versions): a backup is due when it changes. */
export function businessDigest(cache: LocalCache, account: UnlockedAccount): string {
  const business = businessVaultId(account);
  const v = [...cache.objects.values()].filter((o) => o.dto.vault_id === business).map((o) => [o.dto.id, o.dto.version] as const);
  v.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
  return hex(sha256(concat(...v.flatMap(([id, ver]) => [uuidBytes(id), i64be(ver)]))));
}

/** The Business items and folders as last synced: never the Personal profile, never a share. */
export async function businessPayload(cache: LocalCache, account: UnlockedAccount, companyId: string, createdAt: number): Promise<BackupPayload> {
  const business = businessVaultId(account);
  const items: ItemData[] = [];
  const folders: BackupFolder[] = [];
  for (const { dto } of cache.objects.values()) {
    if (dto.vault_id !== business) continue;
    if (dto.kind === 'item') {
      const { data, key } = await openDetails(account, dto);
      key.fill(0);
      items.push(data);
    } else {
      const f = await openFolder(account, dto);
      folders.push({ id: f.id, data: f.data });
    }
  }
  return { format: PAYLOAD_FORMAT, company_id: companyId, user_id: account.userId, created_at: createdAt, items, folders };
}

/** `POST /companies/{cid}/backups` (castellan-types `UploadBackupRequest`). */
export interface UploadBackupRequest {
  backup_id: string;
  created_at: number;
  key_version: number;
  public_key: string;
  sealed_key: string;
  envelope: string;
  member_cert: SignedDoc;
  signature: string;
}

/**
 * Seals a payload as `seal_backup`: a fresh key, the envelope (`OrgBackup` context: company,
 * user, backup id, key version), the key HPKE-sealed to the policy's key, my signature. `policy`
 * must come from a VERIFIED policy document.
 */
export async function sealBackup(account: UnlockedAccount, policy: OrgBackupPolicy, memberCert: SignedDoc, payload: BackupPayload): Promise<UploadBackupRequest> {
  const backupId = uuidV4();
  const publicKey = fromB64u(policy.public_key);
  if (publicKey.length !== 32) throw new IntegrityError("the policy's backup key is not an X25519 key");
  const key = randomBytes(32);
  const pt = utf8(payloadJson(payload));
  let envelope: Uint8Array;
  let sealedKey: Uint8Array;
  try {
    envelope = await sealEnvelope(key, backupId, Context.orgBackup(payload.company_id, account.userId, backupId, policy.key_version), pt);
    const { enc, ct } = await hpkeSeal(publicKey, keyInfo(payload.company_id, account.userId, backupId, policy.key_version), new Uint8Array(0), key);
    sealedKey = concat(enc, ct);
  } finally {
    key.fill(0);
    pt.fill(0);
  }
  const bytes = backupSignedBytes(backupId, payload.company_id, account.userId, payload.created_at, policy.key_version, publicKey, sha256(sealedKey), sha256(envelope));
  const signature = signStatement(account.signingSeed, BACKUP_STATEMENT, bytes);
  return { backup_id: backupId, created_at: payload.created_at, key_version: policy.key_version, public_key: policy.public_key, sealed_key: b64u(sealedKey), envelope: b64u(envelope), member_cert: memberCert, signature: b64u(signature) };
}

/**
 * The membership with the company key checked against the pin (first use pins it) and the
 * verified policy (`refresh_membership`). Null without a company (or an organisation-less server).
 */
export async function refreshMembership(api: Api, pins: PinStorage): Promise<{ membership: MembershipResponse; policy: EffectivePolicy } | null> {
  let m: MembershipResponse;
  try {
    m = await api.call<MembershipResponse>('GET', '/me/membership');
  } catch (e) {
    if (e instanceof ApiFailure && e.status === 404) return null;
    throw e;
  }
  const c = m.company;
  if (!c) {
    await updatePins(pins, (p) => {
      p.my_company = null;
    });
    return null;
  }
  const policy = await updatePins(pins, (p) => {
    checkOrPinDto(p, c.id, c.keys, 'first-use');
    p.my_company = c.id;
    return resolvePolicy(p, c.id, m.policy);
  });
  return { membership: m, policy };
}

export type WriteOutcome = { kind: 'written'; backupId: string; items: number } | { kind: 'not-due' } | { kind: 'not-enrolled'; reason: string };

/**
 * Writes a backup when one is due (or always with `force`), as `write_backup`. The key comes
 * ONLY from the verified policy; my member certificate must verify with the pinned company key
 * and certify this account's keys.
 */
export async function writeBackup(o: { cache: LocalCache; api: Api; account: UnlockedAccount; pins: PinStorage; state: BackupStateStore; force?: boolean }): Promise<WriteOutcome> {
  const state = o.state.load();
  const digest = businessDigest(o.cache, o.account);
  const recent = state.last_at !== null && nowSecs() - state.last_at < MAX_BACKUP_AGE_SECS;
  if (!o.force && recent && state.digest === digest) return { kind: 'not-due' };
  const r = await refreshMembership(o.api, o.pins);
  if (!r) return { kind: 'not-enrolled', reason: 'no company' };
  const policy = r.policy.policies.org_backup;
  if (!policy) return { kind: 'not-enrolled', reason: 'the verified company policy has no organisation backup' };
  const companyId = r.policy.company_id;
  const certDoc = r.membership.member?.cert ?? null;
  if (!certDoc) return { kind: 'not-enrolled', reason: 'this member has no certificate yet (not confirmed)' };
  const company = pinnedKeys(o.pins.load(), companyId);
  if (!company) throw new IntegrityError('the company is not pinned on this browser');
  const body = verifyMemberCert(company, certDoc, companyId, o.account.userId);
  const certified = ctEq(fromB64u(body.signing_public_key), o.account.signingPublic) && ctEq(fromB64u(body.encryption_public_key), x25519PublicKey(o.account.encryptionPrivate));
  if (!certified) return { kind: 'not-enrolled', reason: "the member certificate is for other keys than this account's" };
  // Backup points are ordered by their signed whole-second time: a later backup of this browser
  // is always at least a second after its previous one.
  const createdAt = state.last_at !== null ? Math.max(nowSecs(), state.last_at + 1) : nowSecs();
  const payload = await businessPayload(o.cache, o.account, companyId, createdAt);
  const req = await sealBackup(o.account, policy, certDoc, payload);
  await o.api.call<unknown>('POST', `/companies/${companyId}/backups`, req);
  o.state.save({ digest, last_at: createdAt, key_version: policy.key_version, last_error: null });
  return { kind: 'written', backupId: req.backup_id, items: payload.items.length };
}

// ------------------------------------------------------------ the member's side, wired to the vault

export interface BackupNotice {
  id: string;
  kind: 'restored' | 'refused' | 'error';
  text: string;
}

/** Runs after every sync of an open vault (and every few minutes): handovers, then a backup when due. */
export class MemberBackup {
  readonly notices = signal<BackupNotice[]>([]);
  /** The outcome of the last backup attempt (for the status line). */
  readonly lastOutcome = signal<WriteOutcome | null>(null);
  private readonly imported = new Set<string>();
  private readonly refused = new Map<string, string>();
  private readonly dismissed = new Set<string>();
  private running: Promise<void> | null = null;
  private again = false;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    readonly client: VaultClient,
    readonly pins: PinStorage,
    readonly state: BackupStateStore,
  ) {}

  /** Hooks into the client's syncs and checks again every `intervalMs` while the vault is open. */
  start(intervalMs = 60_000): void {
    this.client.afterSync = () => this.run();
    this.timer = setInterval(() => {
      if (this.client.isStopped) this.stop();
      else void this.run();
    }, intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.client.afterSync) this.client.afterSync = null;
  }

  dismiss(id: string): void {
    this.dismissed.add(id);
    this.publish();
  }

  /** One pass; passes asked for while one runs are folded into one more. Never throws. */
  run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.pass();
        } while (this.again && !this.client.isStopped);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  private handoverError: string | null = null;
  private notEnrolled: { digest: string; at: number } | null = null;
  private backupError: string | null = null;

  private async pass(): Promise<void> {
    this.handoverError = null;
    try {
      await this.importHandovers();
    } catch (e) {
      this.handoverError = `Items your administrator restored for you could not be fetched: ${(e as Error).message}`;
    }
    try {
      // Not enrolled (no company, no policy, not confirmed): ask the server again when the
      // Business vault changes, or after a few minutes, not at every sync.
      const digest = businessDigest(this.client.cache, this.client.account);
      const idle = this.notEnrolled && this.notEnrolled.digest === digest && Date.now() - this.notEnrolled.at < NOT_ENROLLED_RECHECK_MS;
      if (!idle) {
        const out = await writeBackup({ cache: this.client.cache, api: this.client.api, account: this.client.account, pins: this.pins, state: this.state });
        this.lastOutcome.value = out;
        this.notEnrolled = out.kind === 'not-enrolled' ? { digest, at: Date.now() } : null;
      }
      this.backupError = null;
    } catch (e) {
      const msg = (e as Error).message;
      this.state.save({ ...this.state.load(), last_error: msg });
      this.backupError = `Your organisation backup could not be written: ${msg}`;
    }
    this.publish();
  }

  private async importHandovers(): Promise<void> {
    const api = this.client.api;
    let list: HandoverDto[];
    try {
      list = (await api.call<{ handovers: HandoverDto[] }>('GET', '/me/handovers')).handovers;
    } catch (e) {
      if (e instanceof ApiFailure && e.status === 404) return;
      throw e;
    }
    for (const id of [...this.refused.keys()]) if (!list.some((h) => h.id === id)) this.refused.delete(id);
    if (list.length === 0) return;
    // My company's key must be pinned and current before anything is checked.
    let pinError: string | null = null;
    try {
      await refreshMembership(api, this.pins);
    } catch (e) {
      pinError = (e as Error).message;
    }
    const pins = this.pins.load();
    for (const h of list) {
      if (this.imported.has(h.id)) {
        // Imported already; only the deletion failed before.
        await this.deleteHandover(h.id);
        continue;
      }
      let payload: BackupPayload;
      try {
        if (pinError) throw new HandoverRefused(`your company's key could not be checked (${pinError})`);
        verifyHandover(pins, this.client.account.userId, h);
        payload = await openHandoverFor(this.client.account.encryptionPrivate, h);
      } catch (e) {
        this.refused.set(h.id, (e as Error).message);
        continue;
      }
      this.refused.delete(h.id);
      const items = handoverItems(payload);
      await this.client.createItems('business', items);
      this.imported.add(h.id);
      const n = items.length;
      this.pushRestored(h.id, `Your administrator restored ${n} item${n === 1 ? '' : 's'} from the organisation backup into your Business profile.`);
      await this.deleteHandover(h.id);
    }
  }

  private async deleteHandover(id: string): Promise<void> {
    try {
      await this.client.api.call<unknown>('DELETE', `/me/handovers/${id}`);
    } catch (e) {
      if (!(e instanceof ApiFailure && e.status === 404)) throw e;
    }
  }

  private restored: BackupNotice[] = [];

  private pushRestored(id: string, text: string): void {
    this.restored.push({ id: `restored-${id}`, kind: 'restored', text });
    this.publish();
  }

  private publish(): void {
    const out: BackupNotice[] = [...this.restored];
    for (const [id, why] of this.refused) out.push({ id: `refused-${id}`, kind: 'refused', text: `Restored items an administrator sent you were refused for your security and not imported: ${why}. Ask your administrator to restore them again.` });
    for (const text of [this.handoverError, this.backupError]) if (text) out.push({ id: `error-${text}`, kind: 'error', text });
    this.notices.value = out.filter((n) => !this.dismissed.has(n.id));
  }
}

const attached = new WeakMap<VaultClient, MemberBackup>();

/** Starts the member's organisation backup for an open vault (state.ts calls this). */
export function attachMemberBackup(client: VaultClient, pins: PinStorage): MemberBackup {
  const m = new MemberBackup(client, pins, localBackupState(client.account.userId));
  attached.set(client, m);
  m.start();
  return m;
}

export function memberBackupOf(client: VaultClient): MemberBackup | null {
  return attached.get(client) ?? null;
}
