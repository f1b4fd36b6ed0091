// Type-checked (not run) by types.test.mjs: the package's .d.ts files describe the API.
import {
  Identity, Vault, MemoryStore, CofferError, seal, open, cid, blake3, verify,
  sealAsync, openAsync, webCryptoAvailable,
  Share, ShareBook, SharedReader, SharedWriter, readInbox, parseDuration, WALLET_MESSAGE, Link, openLink,
  type Store, type ObjectInfo, type ListPage, type CofferErrorCode, type HeadCondition,
  type ShareInfo, type RotationReport, type IdentityRotation, type Handover, type InboxEntry, type ShareScope, type ShareStatus,
  type OpenedLink, type TrustStorage, type VaultOptions, type SkippedHead,
} from '@coffer/sdk';
import { indexedDbTrust } from '@coffer/sdk/trust/indexeddb';
import { fileTrust } from '@coffer/sdk/trust/file';
import { S3Store } from '@coffer/sdk/stores/s3';
import { IpfsStore } from '@coffer/sdk/stores/ipfs';
import { IndexedDbStore } from '@coffer/sdk/stores/indexeddb';

async function main(): Promise<void> {
  const me: Identity = Identity.generate();
  const recipient: string = me.recipient;
  const pq: string = me.postQuantumRecipient;
  const did: string = me.didKey;
  seal(new Uint8Array([1]), [pq, did]);
  const sealed: Uint8Array = seal(new Uint8Array([1]), [recipient, me], { signer: me, segmentSizeLog2: 12 });
  const { plaintext, signer }: { plaintext: Uint8Array; signer: string | null } = open(me, sealed);
  const c: string = cid(plaintext, 'dag-cbor') + blake3(plaintext) + String(signer);
  const headerOnly: boolean = open(me, sealed).headerOnly;
  // WebCrypto's AES-GCM: the same format, asynchronously.
  const web: Uint8Array = await sealAsync(plaintext, me, { signer: me, backend: webCryptoAvailable() ? 'webcrypto' : 'portable' });
  const withOb: { sealed: Uint8Array; root: string; outboard: Uint8Array } = await sealAsync(plaintext, [recipient], { outboard: true });
  const reopened: { plaintext: Uint8Array; root: string } = await openAsync(me, withOb.sealed, { backend: 'portable' });
  void web; void reopened;
  // Trust memory: ready-made, or the app's own { load, save }.
  const map = new Map<string, Uint8Array>();
  const own: TrustStorage = { load: async (n: string) => map.get(n) ?? null, save: async (n: string, b: Uint8Array) => { map.set(n, b); } };
  const idbTrust = indexedDbTrust('trust');
  const options: VaultOptions[] = [{ trust: own }, { trust: fileTrust('/tmp/trust') }, { trust: idbTrust }, {}];
  const tv: Vault = await Vault.openOrCreate(new MemoryStore(), me, 'v', 'd', options[0]);
  const fp: string = await tv.stateFingerprint();
  const skipped: SkippedHead[] = await tv.skippedHeads();
  await idbTrust.close();
  void [headerOnly, fp, skipped.map((h) => h.writer + h.reason)];
  const ob = verify.outboard(sealed);
  const range: Uint8Array = verify.verifyRange(ob.root, sealed.length, 0, 1, verify.rangeProof(ob.root, sealed.length, ob.outboard, 0, 1), sealed.slice(0, 1));

  const stores: Store[] = [
    new MemoryStore(),
    new S3Store({ bucket: 'b', endpoint: 'http://127.0.0.1:1', prefix: 'p' }),
    new IpfsStore({ api: 'http://127.0.0.1:5001', namespace: 'n' }),
    await IndexedDbStore.open('db'),
  ];
  // An app's own transport.
  const custom: Store = {
    put: async (_cid: string, _b: Uint8Array) => {},
    get: async (_cid: string) => null,
    has: () => false,
    delete: () => {},
    list: () => [],
    readHeads: async () => [{ writer: 'w', bytes: new Uint8Array(), version: '1' }],
    writeHead: async (_v: string, _w: string, _b: Uint8Array, cond: HeadCondition) => (cond.type === 'matches' ? cond.version : 'x'),
    conditionalWrites: 'enforced',
  };
  stores.push(custom);

  const v: Vault = await Vault.openOrCreate(stores[0], me, 'name', 'device');
  const info: ObjectInfo = await v.put('k', new Uint8Array([1]), { contentType: 't', metadata: { a: 'b' }, ifAbsent: true });
  const size: number = info.size;
  const page: ListPage = await v.list({ prefix: 'a/', delimiter: '/', maxKeys: 10 });
  for await (const o of v.keys({ prefix: new Uint8Array([97]) })) console.log(o.key, o.size);
  const bytes: Uint8Array = await v.getRange('k', 0, 1);
  const text: string = await v.getText('k');
  const report = await v.sync();
  const merged: string[] = report.merged;
  const results = await v.deleteMany(['k', new Uint8Array([1])]);
  try {
    await v.get('missing');
  } catch (e) {
    if (e instanceof CofferError) {
      const code: CofferErrorCode = e.code;
      console.log(code, e.message);
    }
  }
  console.log(c, range, size, page.isTruncated, bytes, text, merged, results[0]?.error?.code);

  // Sharing: the owner's side.
  const bob: Identity = Identity.fromPassphrase('correct horse battery staple', 'bob@example.com');
  const wallet: Identity = Identity.fromWalletSignature('0x' + '11'.repeat(65));
  const message: string = WALLET_MESSAGE;
  const id: string = await v.share({ prefix: 'trip/', to: bob.recipient, expiresMs: Date.now() + parseDuration('7d') });
  await v.share({ key: new Uint8Array([1]), to: wallet, expiresMs: 1, notBeforeMs: 0 });
  await v.share({ key: 'k', version: info.version, to: bob, expiresMs: 1 });
  const infos: ShareInfo[] = await v.shares();
  const status: ShareStatus = infos[0]!.status;
  const scope: ShareScope = infos[0]!.scope;
  if (scope.kind === 'prefix') console.log(scope.prefix);
  const revoked: number | null = infos[0]!.revokedMs;
  const rot: RotationReport = await v.rotate({ prefix: 'trip/' });
  const rev: RotationReport = await v.revoke(id);
  const publishError: string | null = await v.sharePublishError();

  // The recipient's side.
  const inbox: InboxEntry[] = await readInbox(stores[0]!, bob);
  const book = new ShareBook();
  for (const entry of inbox) {
    if (entry.share) {
      const s: Share = entry.share;
      const accepted: 'new' | 'updated' = book.accept(s, Date.now());
      console.log(accepted, s.id, s.grant, s.issuer, s.audience, s.vault, s.scope.kind, s.notBeforeMs, s.expiresMs);
    } else {
      const err: CofferError = entry.error;
      console.log(entry.name, err.code);
    }
  }
  const saved: Uint8Array = book.toBytes(bob);
  const again: ShareBook = ShareBook.fromBytes(bob, saved);
  const first: Share | undefined = again.get(id);
  const shares: Share[] = again.shares();
  const found: Share = again.find(id.slice(0, 8));
  const reader: SharedReader = await SharedReader.open(stores[0]!, found);
  const shared: Uint8Array = await reader.get('trip/a.jpg');
  const sharedText: string = await reader.getText('trip/a.jpg');
  const sharedHead = await reader.head('trip/a.jpg');
  const sharedPage: ListPage = await reader.list({ prefix: 'trip/', maxKeys: 10 });
  for await (const o of reader.keys()) console.log(o.key);
  console.log(message, status, revoked, rot.grants, rev.epoch, publishError, first?.id, shares.length, again.size,
    shared, sharedText, sharedHead.version, sharedHead.contentType, sharedPage.keyCount, reader.share.id);

  // Share links.
  const url = 'https://s3.example/b/o?X-Amz-Signature=00#coffer-link-2.AA';
  const opened: OpenedLink = await openLink(url, { fetch: (u) => fetch(u), now: Date.now() });
  const ct: string | null = opened.contentType;
  console.log(opened.name, ct, opened.size, opened.owner, opened.bytes.length);
  const link: Link = Link.parse(url);
  link.checkTime();
  const plain: Uint8Array = link.openResponse(new Uint8Array(0), Date.now());
  const car: boolean = link.fetchesCar;
  console.log(link.fetchUrl, link.name, link.contentType, link.sealedLen, link.expiresMs, plain, car);
  link.free();

  // Read-write shares and identity rotation.
  const rwId: string = await v.share({ prefix: 'team/', to: bob, expiresMs: Date.now() + 60_000, write: true });
  const rw: boolean = (await v.shares()).some((i) => i.id === rwId && i.write);
  const grant = (await readInbox(stores[0]!, bob)).find((e) => e.share?.canWrite)?.share;
  if (grant) {
    const w: SharedWriter = await SharedWriter.open(stores[0]!, bob, grant);
    const ver: string = await w.put('team/a.txt', new Uint8Array([1]), { contentType: 'text/plain' });
    await w.delete('team/b.txt');
    const seq: number = await w.commit();
    const wr: SharedReader = await w.reader();
    console.log(rw, ver, seq, w.writerId, w.share.canWrite, await wr.getText('team/a.txt'));
    w.free();
  }
  await v.mergeCowriters();
  const rotation: IdentityRotation = await v.rotateIdentity(Identity.generate());
  const chain: Handover[] = await v.handovers();
  const owner: string = await v.owner();
  const { vault: rotated, rotation: again2 } = await Vault.openAndRotateIdentity(stores[0]!, bob, Identity.generate(), 'v', 'laptop');
  console.log(rotation.handover, rotation.keyBlock, rotation.from, rotation.to, rotation.finalHeads, rotation.records,
    rotation.bytesWritten, rotation.resumed, chain[0]?.n, chain[0]?.timeMs, owner, rotated.name, again2.resumed);
}
void main;
