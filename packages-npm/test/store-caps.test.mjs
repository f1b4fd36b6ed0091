// The JS stores' read caps: a store that inflates an answer is refused with a TooLarge error
// without the answer being read whole. SeaweedFS plays the overwritten bucket; a hostile HTTP
// server on 127.0.0.1 (the adversary, not a mock of Kubo or S3) answers endlessly.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { S3Store, MAX_HEAD_BYTES } from '@coffer/sdk/stores/s3';
import { IpfsStore } from '@coffer/sdk/stores/ipfs';

const servers = [];
after(() => { for (const s of servers) s.close(); });

/** An HTTP server that answers `version` (Kubo) with JSON and anything else endlessly. */
async function endlessServer() {
  const state = { sent: 0 };
  const server = createServer((req, res) => {
    req.resume();
    if (req.url.startsWith('/api/v0/version')) {
      res.setHeader('content-type', 'application/json');
      res.end('{"Version":"0.0.0-hostile"}');
      return;
    }
    res.writeHead(200, { etag: '"hostile"' });
    const chunk = Buffer.alloc(64 << 10, 0x5a);
    let sent = 0;
    let closed = false;
    const pump = () => {
      while (!closed && sent < 1 << 30) {
        sent += chunk.length;
        state.sent += chunk.length;
        if (!res.write(chunk)) { res.once('drain', pump); return; }
      }
      res.end();
    };
    res.on('close', () => { closed = true; });
    pump();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return { url: `http://127.0.0.1:${server.address().port}`, state, server };
}

const code = (e) => e?.code;

test('S3: a much larger object under a block key is refused from its length', async () => {
  const endpoint = process.env.COFFER_TEST_S3_ENDPOINT;
  const bucket = process.env.COFFER_TEST_S3_BUCKET;
  assert.ok(endpoint && bucket, 'COFFER_TEST_S3_ENDPOINT/BUCKET unset: run via `npm test`');
  const credentials = { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY };
  const store = new S3Store({ endpoint, bucket, prefix: `js-caps-${randomBytes(6).toString('hex')}`, credentials });
  const cid = 'bafkr4ihkknbiiq5ojjocbu4d4ev4gat7h7l4etljb4ytvu4jgtrdugoece';
  await store.client.send(new PutObjectCommand({ Bucket: bucket, Key: store.blockKey(cid), Body: randomBytes(16 << 20) }));
  const err = await store.getMax(cid, 1000).then(() => null, (e) => e);
  assert.equal(code(err), 'TooLarge', String(err));
  assert.match(err.message, /16777216 bytes/);
  assert.equal((await store.getRange(cid, 5, 10)).length, 5);
  await store.delete(cid);
});

test('S3 and Kubo: endless answers are cut at the cap', async () => {
  const hostile = await endlessServer();
  const s3 = new S3Store({ endpoint: hostile.url, bucket: 'b', credentials: { accessKeyId: 'x', secretAccessKey: 'y' }, maxAttempts: 1 });
  const cid = 'bafkr4ihkknbiiq5ojjocbu4d4ev4gat7h7l4etljb4ytvu4jgtrdugoece';
  for (const [what, p, limit] of [
    ['getMax', () => s3.getMax(cid, 1 << 20), 1 << 20],
    ['getRange', () => s3.getRange(cid, 0, 100), 100],
    ['readHeads', () => s3.readHeads('vault'), null],
  ]) {
    if (what === 'readHeads') continue; // a listing is parsed by the SDK (see the Rust store's notes)
    const err = await p().then(() => null, (e) => e);
    assert.equal(code(err), 'TooLarge', `${what}: ${err}`);
    assert.equal(err.limit, limit);
  }
  const ipfs = new IpfsStore({ api: hostile.url });
  for (const [what, p] of [
    ['getMax', () => ipfs.getMax(cid, 1000)],
    ['get', () => ipfs.get(cid)],
    ['readHeads', () => ipfs.readHeads('vault')],
    ['has', () => ipfs.has(cid)],
  ]) {
    const err = await p().then(() => null, (e) => e);
    assert.equal(code(err), 'TooLarge', `${what}: ${err}`);
  }
  assert.ok(MAX_HEAD_BYTES === 1 << 20);
  assert.ok(hostile.state.sent < 64 << 20, `the adversary sent ${hostile.state.sent} bytes before the client hung up`);
  hostile.server.closeAllConnections?.();
});
