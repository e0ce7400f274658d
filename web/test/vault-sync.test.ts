// The browser's vault state and sync against a fake server with the real API rules: offline
// queue and statuses, signed manifests, merge of concurrent edits, refusal of a server that drops
// or rolls back objects, and an edit made while its previous version is being sent.
import { beforeEach, describe, expect, it } from 'vitest';
import { fromB64u, randomBytes, uuidV4 } from '../src/crypto/bytes';
import { vaultKeyId } from '../src/crypto/keyids';
import { publicKeyFromSeed } from '../src/crypto/sign';
import type { UnlockedAccount } from '../src/client/account';
import { Api } from '../src/client/api';
import { LocalCache, MemoryBackend } from '../src/client/db';
import { verifyManifest } from '../src/client/manifest';
import { VaultClient } from '../src/client/vault';
import { newItem, setField } from '../src/model/item';
import { FakeServer } from './fakeServer';

function account(): UnlockedAccount {
  const seed = randomBytes(32);
  const vault = (kind: 'personal' | 'business') => {
    const id = uuidV4();
    return { id, kind, key: randomBytes(32), keyVersion: 1, keyId: vaultKeyId(id, 1) };
  };
  return { userId: uuidV4(), email: 'a@example.com', ak: randomBytes(32), akVersion: 1, signingSeed: seed, signingPublic: publicKeyFromSeed(seed), encryptionPrivate: randomBytes(32), vaults: [vault('personal'), vault('business')] };
}

/** A second device of the same account (its own cache, copies of the keys). */
function copyAccount(a: UnlockedAccount): UnlockedAccount {
  return { ...a, ak: a.ak.slice(), signingSeed: a.signingSeed.slice(), vaults: a.vaults.map((v) => ({ ...v, key: v.key.slice() })) };
}

let server: FakeServer;
beforeEach(() => {
  server = new FakeServer();
  server.install();
});

async function device(acct: UnlockedAccount): Promise<VaultClient> {
  const cache = new LocalCache(new MemoryBackend());
  await cache.load();
  return new VaultClient(cache, new Api('http://fake', 'token'), acct);
}

function login(title: string, password: string) {
  const d = newItem('login', title, 1000);
  setField(d, 'username', 'alice', 1000);
  setField(d, 'password', password, 1000);
  return d;
}

const byTitle = (c: VaultClient, t: string) => c.items.value.find((i) => i.overview.title === t);

describe('vault sync in the browser', () => {
  it('writes with signed manifests that verify, and a second device reads them', async () => {
    const acct = account();
    const a = await device(acct);
    const id = await a.createItem('business', login('Router', 'pw-1'));
    expect(byTitle(a, 'Router')?.status).toBe('pending');
    await a.sync();
    expect(byTitle(a, 'Router')?.status).toBe('synced');
    const vault = acct.vaults[1].id;
    const m = server.manifests.get(vault)!;
    const verified = verifyManifest(fromB64u(m.manifest), acct.signingPublic, vault, m.counter);
    expect(verified.count).toBe(1);
    expect(server.objects.get(id)!.version).toBe(1);
    const b = await device(copyAccount(acct));
    await b.sync();
    const { data } = await b.getItem(id);
    expect(data.fields.password).toBe('pw-1');
    expect(b.cache.pending.size).toBe(0);
  });

  it('queues changes offline (red), sends them when the server is back (green)', async () => {
    const a = await device(account());
    await a.createItem('personal', login('Bank', 'pw-1'));
    await a.sync();
    server.online = false;
    const id = byTitle(a, 'Bank')!.id;
    await a.updateItem(id, (d) => setField(d, 'password', 'pw-2', 2000));
    await a.sync();
    expect(a.reachable.value).toBe(false);
    expect(byTitle(a, 'Bank')?.status).toBe('offline');
    expect((await a.getItem(id)).data.fields.password).toBe('pw-2');
    server.online = true;
    await a.sync();
    expect(byTitle(a, 'Bank')?.status).toBe('synced');
    expect(server.objects.get(id)!.version).toBe(2);
  });

  it('merges concurrent edits of different fields, keeps a conflict copy for the same field', async () => {
    const acct = account();
    const a = await device(acct);
    const b = await device(copyAccount(acct));
    const id = await a.createItem('personal', login('Mail', 'base'));
    await a.sync();
    await b.sync();
    await a.updateItem(id, (d) => setField(d, 'url', 'https://mail.example', 2000));
    await a.sync();
    server.online = false;
    await b.updateItem(id, (d) => setField(d, 'username', 'bob', 2001));
    server.online = true;
    await b.sync();
    const merged = (await b.getItem(id)).data;
    expect(merged.fields.url).toBe('https://mail.example');
    expect(merged.fields.username).toBe('bob');

    await a.sync();
    await a.updateItem(id, (d) => setField(d, 'password', 'from-a', 3000));
    await a.sync();
    server.online = false;
    await b.updateItem(id, (d) => setField(d, 'password', 'from-b', 3001));
    server.online = true;
    await b.sync();
    expect((await b.getItem(id)).data.fields.password).toBe('from-a');
    const copy = b.items.value.find((i) => i.overview.title.startsWith('Mail (conflict copy'));
    expect(copy).toBeDefined();
    expect((await b.getItem(copy!.id)).data.fields.password).toBe('from-b');
    expect(b.cache.pending.size).toBe(0);
  });

  it('refuses a server that drops an object, and keeps the cache as it was', async () => {
    const acct = account();
    const a = await device(acct);
    await a.createItem('personal', login('One', '1'));
    await a.createItem('personal', login('Two', '2'));
    await a.sync();
    const b = await device(copyAccount(acct));
    server.rewriteSync = (page) => void page.objects.pop();
    await b.sync();
    expect(b.lastError.value).toMatch(/manifest mismatch/);
    expect(b.cache.objects.size).toBe(0);
    expect(b.cache.meta.cursor).toBe(0);
  });

  it('skips objects of a listed share vault (not opened in the browser yet), refuses other foreign vaults', async () => {
    const acct = account();
    const a = await device(acct);
    const id = await a.createItem('personal', login('Mine', '1'));
    await a.sync();
    const shareId = '01900000-0000-7000-8000-00000000aa01';
    const foreign = { ...server.objects.get(id)!, id: '01900000-0000-7000-8000-00000000aa02', vault_id: shareId, seq: server.seq + 1 };
    server.seq += 1;
    server.rewriteSync = (page) => {
      page.objects.push(foreign);
      (page as { shares?: unknown[] }).shares = [{ id: shareId }];
    };
    const b = await device(copyAccount(acct));
    await b.sync();
    expect(b.lastError.value).toBeNull();
    expect(b.cache.objects.has(foreign.id)).toBe(false);
    expect((await b.getItem(id)).data.title).toBe('Mine');
    server.rewriteSync = (page) => void page.objects.push(foreign);
    const c = await device(copyAccount(acct));
    await c.sync();
    expect(c.lastError.value).toMatch(/vault this account does not have/);
  });

  it('refuses a rolled-back object', async () => {
    const acct = account();
    const a = await device(acct);
    const id = await a.createItem('personal', login('Roll', '1'));
    await a.sync();
    const v1 = { ...server.objects.get(id)! };
    await a.updateItem(id, (d) => setField(d, 'password', '2', 2000));
    await a.sync();
    server.rewriteSync = (page) => {
      page.objects.push({ ...v1, seq: server.seq + 1 });
    };
    server.seq += 1;
    await a.sync();
    expect(a.lastError.value).toMatch(/rolled back/);
    expect((await a.getItem(id)).data.fields.password).toBe('2');
  });

  it('keeps an edit made while the previous version of the item is being sent', async () => {
    const a = await device(account());
    const id = await a.createItem('personal', login('Race', 'v1'));
    await a.sync();
    let edited = false;
    server.onRequest = async (method) => {
      if (method === 'PUT' && !edited) {
        edited = true;
        server.onRequest = null;
        // The second edit lands in the queue while the first one's PUT is in flight.
        await a.updateItem(id, (d) => setField(d, 'password', 'v3', 3000));
      }
    };
    await a.updateItem(id, (d) => setField(d, 'password', 'v2', 2000));
    await a.sync();
    await a.sync();
    expect(edited).toBe(true);
    expect(a.cache.pending.size).toBe(0);
    const b = await device(copyAccount(a.account));
    await b.sync();
    expect((await b.getItem(id)).data.fields.password).toBe('v3');
  });

  it('moves an item between profiles with both manifests, and folders with it', async () => {
    const acct = account();
    const a = await device(acct);
    const folder = await a.createFolder('business', 'Clients', null);
    const id = await a.createItem('personal', login('Moving', 'x'));
    await a.sync();
    await a.updateItem(id, (d) => void (d.folder_id = folder), { toProfile: 'business' });
    await a.sync();
    expect(a.lastError.value).toBeNull();
    expect(byTitle(a, 'Moving')?.profile).toBe('business');
    expect(a.folderPath(byTitle(a, 'Moving')!.overview.folder_id)).toBe('Clients');
    const b = await device(copyAccount(acct));
    await b.sync();
    expect(b.lastError.value).toBeNull();
    expect(byTitle(b, 'Moving')?.profile).toBe('business');
    await a.deleteFolder(folder);
    await a.sync();
    expect(a.folders.value).toHaveLength(0);
    expect(byTitle(a, 'Moving')?.overview.folder_id).toBeNull();
  });

  it('trash, restore and delete for good', async () => {
    const a = await device(account());
    const id = await a.createItem('personal', login('Old', 'x'));
    await a.updateItem(id, () => undefined, { trashed: true });
    await a.sync();
    expect(byTitle(a, 'Old')?.trashed).toBe(true);
    expect(server.objects.get(id)!.trashed).toBe(true);
    await a.purgeItem(id);
    await a.sync();
    expect(byTitle(a, 'Old')).toBeUndefined();
    expect(server.objects.has(id)).toBe(false);
  });
});
