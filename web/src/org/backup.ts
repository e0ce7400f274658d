// Organisation backup, offline-key mode, as crates/castellan-client/src/backup/ does it: a new
// X25519 pair made in this browser; the public half published in a new signed policy (key
// version + 1); the private half given once as the recovery kit file (the Rust `RecoveryKit`,
// written as serde_json's pretty printer writes it) and as 33 recovery words (words.rs).
import { b64u, concat, randomBytes, utf8 } from '../crypto/bytes';
import { x25519PublicKey } from '../crypto/hpke';
import { fingerprint } from '../crypto/fingerprint';
import { sha256 } from '../crypto/primitives';
import { fingerprintDisplay } from './keys';
import type { OrgBackupPolicy, PolicySet } from './types';

export const KEY_FINGERPRINT_TYPE = 'org-backup-key';

/** 256 distinct words, index = byte value (crates/castellan-client/src/backup/words.rs). */
export const WORDS: readonly string[] = [
  'able', 'acid', 'aged', 'also', 'arch', 'area', 'army', 'away', 'baby', 'back', 'bail', 'bake',
  'ball', 'band', 'bank', 'barn', 'base', 'bath', 'bead', 'beam', 'bean', 'bear', 'beef', 'bell',
  'belt', 'bend', 'best', 'bike', 'bird', 'bite', 'blue', 'boat', 'body', 'bolt', 'bone', 'book',
  'boot', 'born', 'boss', 'bowl', 'brag', 'bulb', 'bush', 'busy', 'cake', 'calm', 'camp', 'card',
  'care', 'cart', 'case', 'cash', 'cast', 'cave', 'cell', 'chef', 'chin', 'chip', 'city', 'clay',
  'clip', 'club', 'coal', 'coat', 'code', 'coin', 'cold', 'cone', 'cook', 'cool', 'copy', 'cord',
  'corn', 'cost', 'crew', 'crop', 'cube', 'cure', 'dark', 'dash', 'data', 'dawn', 'deal', 'deck',
  'deep', 'deer', 'desk', 'dial', 'dice', 'dish', 'dock', 'dome', 'door', 'dose', 'dove', 'down',
  'drum', 'duck', 'dust', 'duty', 'east', 'easy', 'echo', 'edge', 'epic', 'exit', 'face', 'fact',
  'fair', 'farm', 'fast', 'fawn', 'fern', 'film', 'fire', 'fish', 'flag', 'flat', 'flow', 'foam',
  'fold', 'font', 'food', 'foot', 'fork', 'form', 'fort', 'frog', 'fuel', 'fund', 'gain', 'game',
  'gate', 'gear', 'gift', 'girl', 'glad', 'glow', 'glue', 'goal', 'gold', 'golf', 'good', 'gown',
  'grid', 'grip', 'hair', 'half', 'hall', 'hand', 'harp', 'hawk', 'heat', 'herb', 'hero', 'hill',
  'hint', 'hive', 'hole', 'home', 'hook', 'hope', 'horn', 'host', 'hour', 'hunt', 'idea', 'inch',
  'iron', 'item', 'jade', 'jazz', 'jeep', 'jump', 'jury', 'keen', 'kept', 'kick', 'kind', 'king',
  'kite', 'knee', 'knot', 'lace', 'lake', 'lamp', 'land', 'lane', 'last', 'lawn', 'leaf', 'lend',
  'lens', 'life', 'lift', 'lime', 'line', 'lion', 'list', 'load', 'loaf', 'lock', 'loft', 'logo',
  'long', 'loop', 'lord', 'luck', 'lung', 'mail', 'main', 'malt', 'mane', 'map', 'mask', 'mast',
  'maze', 'meal', 'meat', 'melt', 'menu', 'mild', 'milk', 'mill', 'mind', 'mint', 'mist', 'mode',
  'mole', 'moon', 'moss', 'moth', 'move', 'mule', 'nail', 'name', 'navy', 'neck', 'nest', 'news',
  'nice', 'nine', 'node', 'noon', 'nose', 'note', 'oak', 'oath', 'oval', 'oven', 'owl', 'pace',
  'pack', 'page', 'palm', 'park',
];

function checksum(key: Uint8Array): number {
  return sha256(concat(utf8('castellan/v1/backup-words'), key))[0];
}

/** The 33 recovery words of a 32-byte key: one word per byte, then a checksum word. */
export function keyWords(key: Uint8Array): string {
  if (key.length !== 32) throw new Error('a backup key is 32 bytes');
  return [...key, checksum(key)].map((b) => WORDS[b]).join(' ');
}

/** The backup key's fingerprint as the CLI shows it (8 groups of 4 hex digits). */
export function backupKeyFingerprint(publicKey: Uint8Array): string {
  return fingerprintDisplay(fingerprint(KEY_FINGERPRINT_TYPE, publicKey));
}

export interface OfflineKeyEnable {
  policy: OrgBackupPolicy;
  fingerprint: string;
  /** The recovery kit file's text (JSON, the Rust layout). */
  kit: string;
  words: string;
}

/** A new offline backup key for the next policy; nothing is published here. */
export function newOfflineKey(companyId: string, current: PolicySet, retentionDays?: number): OfflineKeyEnable {
  const cur = current.org_backup;
  const keyVersion = (cur?.key_version ?? 0) + 1;
  const secret = randomBytes(32);
  const pub = x25519PublicKey(secret);
  const fp = backupKeyFingerprint(pub);
  const kit = JSON.stringify({ kind: 'castellan-backup-recovery-kit', company_id: companyId, key_version: keyVersion, fingerprint: fp, private_key: b64u(secret) }, null, 2);
  const words = keyWords(secret);
  secret.fill(0);
  return {
    policy: { mode: 'offline-key', public_key: b64u(pub), key_version: keyVersion, recovery_group_id: null, retention_days: retentionDays ?? cur?.retention_days ?? 90 },
    fingerprint: fp,
    kit,
    words,
  };
}
