// Type-checked (not run) by types.test.mjs: the package's .d.ts files describe the API.
import {
  Identity, Vault, MemoryStore, CofferError, seal, open, cid, blake3, verify,
  type Store, type ObjectInfo, type ListPage, type CofferErrorCode, type HeadCondition,
} from '@coffer/sdk';
import { S3Store } from '@coffer/sdk/stores/s3';
import { IpfsStore } from '@coffer/sdk/stores/ipfs';
import { IndexedDbStore } from '@coffer/sdk/stores/indexeddb';

async function main(): Promise<void> {
  const me: Identity = Identity.generate();
  const recipient: string = me.recipient;
  const sealed: Uint8Array = seal(new Uint8Array([1]), [recipient, me], { signer: me, segmentSizeLog2: 12 });
  const { plaintext, signer }: { plaintext: Uint8Array; signer: string | null } = open(me, sealed);
  const c: string = cid(plaintext, 'dag-cbor') + blake3(plaintext) + String(signer);
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
}
void main;
