// Invitation links: `{server}/join#v1.{invitation_id}.{secret}.{fingerprint}` (as
// crates/castellan-client/src/org/mod.rs). The fragment never reaches the server.
import { fromB64u, b64u } from '../crypto/bytes';

export interface InviteLink {
  server: string;
  invitationId: string;
  secret: string;
  fingerprint: Uint8Array;
}

export function parseInviteLink(link: string): InviteLink {
  const bad = () => new Error('this is not a Castellan invitation link');
  const t = link.trim();
  const i = t.indexOf('#');
  if (i < 0) throw bad();
  const head = t.slice(0, i);
  const frag = t.slice(i + 1);
  const server = (head.endsWith('/join') ? head.slice(0, -5) : head).replace(/\/+$/, '');
  const parts = frag.split('.');
  if (parts.length !== 4) throw bad();
  const [v, id, secret, fp] = parts;
  if (v !== 'v1') throw new Error(`unsupported invitation link version "${v}"; reload the page`);
  if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(id)) throw bad();
  let fingerprint: Uint8Array;
  try {
    fingerprint = fromB64u(fp);
  } catch {
    throw bad();
  }
  if (fingerprint.length !== 32 || !secret) throw bad();
  return { server, invitationId: id.toLowerCase(), secret, fingerprint };
}

export function formatInviteLink(l: InviteLink): string {
  return `${l.server}/join#v1.${l.invitationId}.${l.secret}.${b64u(l.fingerprint)}`;
}
