// Share links made by the Rust CLI (`coffer link`) opened in JS with openLink, against real
// servers: a presigned URL on SeaweedFS (S3) and a trustless-gateway CAR on Kubo (IPFS), including
// a blob over 2 MiB (a DAG of 1 MiB leaves). Tampered, swapped and expired links are refused;
// an expired link is refused before any request.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Identity, Link, openLink, blake3 } from '@coffer/sdk';
import { repoDir, enc, pattern251, watchUnhandled, sleep } from './helpers.mjs';

const unhandled = watchUnhandled();
after(() => unhandled.assertNone());

const cli = process.env.COFFER_CLI ||
  process.env.COFFER_BIN ||
  join(process.env.CARGO_TARGET_DIR || join(repoDir, 'target'), 'release', 'coffer');

/** A fetch that records every URL it is asked for, then really fetches it. */
function recordingFetch() {
  const calls = [];
  const f = (url) => {
    calls.push(url);
    return fetch(url);
  };
  return { fetch: f, calls };
}

/**
 * The owner: a temporary COFFER_HOME holding a fresh identity (known here, so its recipient can be
 * checked) and a vault on `store`, driven through the release CLI.
 */
function owner(store) {
  assert.ok(existsSync(cli), `${cli} is missing: cargo build --release -p coffer-cli (npm test does it)`);
  const dir = mkdtempSync(join(tmpdir(), 'coffer-link-'));
  const home = join(dir, 'home');
  mkdirSync(home);
  const me = Identity.generate();
  writeFileSync(join(home, 'identity'), `# coffer identity: keep this file secret\n${me.toSecretString()}\n`, { mode: 0o600 });
  const env = { ...process.env, COFFER_HOME: home };
  delete env.COFFER_IDENTITY;
  delete env.COFFER_STORE;
  const run = (args, input) =>
    execFileSync(cli, args, { env, input, maxBuffer: 64 << 20, stdio: ['pipe', 'pipe', 'pipe'] });
  run(['init', '--vault', `l${randomBytes(6).toString('hex')}`, '--store', store]);
  return {
    recipient: me.recipient,
    put: (key, bytes, ...flags) => run(['put', ...flags, '-', key], bytes),
    link: (key, expires) => run(['link', key, '--expires', expires]).toString('utf8').trim(),
    done: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Refused before any request with "ShareNotValid", once `expires` has passed. */
async function refusedWhenExpired(link) {
  await sleep(Math.max(0, Link.parse(link).expiresMs - Date.now()) + 500);
  const rec = recordingFetch();
  await assert.rejects(openLink(link, { fetch: rec.fetch }), { name: 'CofferError', code: 'ShareNotValid' });
  assert.deepEqual(rec.calls, [], 'an expired link must not be fetched');
}

test('share links on S3 (SeaweedFS): presigned URL, key in the fragment', { timeout: 120_000 }, async () => {
  const { COFFER_TEST_S3_ENDPOINT: endpoint, COFFER_TEST_S3_BUCKET: bucket } = process.env;
  if (!endpoint || !bucket) throw new Error('COFFER_TEST_S3_ENDPOINT unset: run via `npm test` or `.ci/seaweedfs.sh start && source .ci/state/env`');
  const prefix = `link-${randomBytes(6).toString('hex')}`;
  const alice = owner(`s3://${bucket}/${prefix}?endpoint=${encodeURIComponent(endpoint)}&path_style=true`);
  try {
    const data = pattern251(300_000);
    alice.put('report.bin', data, '--content-type', 'application/octet-stream');
    alice.put('note.txt', enc('hello bob'));
    const link = alice.link('report.bin', '1h');
    assert.match(link, /X-Amz-Signature=.*#coffer-link-2\./);

    const rec = recordingFetch();
    const got = await openLink(link, { fetch: rec.fetch });
    assert.deepEqual(got.bytes, data);
    assert.equal(got.name, 'report.bin');
    assert.equal(got.contentType, 'application/octet-stream');
    assert.equal(got.size, data.length);
    assert.equal(got.owner, alice.recipient);
    // One GET, of the URL without the fragment: the key never leaves the client.
    assert.deepEqual(rec.calls, [link.split('#')[0]]);
    const parsed = Link.parse(link);
    assert.equal(parsed.fetchesCar, false);
    assert.ok(parsed.sealedLen > data.length);
    assert.ok(parsed.expiresMs > Date.now() + 3_500_000 && parsed.expiresMs <= Date.now() + 3_600_000);
    parsed.free();

    const note = await openLink(alice.link('note.txt', '1h'));
    assert.equal(new TextDecoder().decode(note.bytes), 'hello bob');
    assert.equal(note.contentType, null);

    // An altered fragment does not open (and is never fetched).
    const tampered = link.replace('#coffer-link-2.', '#coffer-link-2.AAAA');
    const rec2 = recordingFetch();
    await assert.rejects(openLink(tampered, { fetch: rec2.fetch }), { name: 'CofferError', code: 'Corrupt' });
    assert.deepEqual(rec2.calls, []);
    // One object's key on the other's URL: the bytes are not the linked object.
    const [reportUrl, reportKey] = link.split('#');
    const [noteUrl] = alice.link('note.txt', '1h').split('#');
    await assert.rejects(openLink(`${noteUrl}#${reportKey}`), { name: 'CofferError', code: 'Corrupt' });
    assert.ok(reportUrl.startsWith(endpoint));

    // Expired: refused before fetching; and S3 itself refuses the presigned URL with 403, which
    // is the same "ShareNotValid" (here seen by claiming a clock still inside the link's life).
    const short = alice.link('note.txt', '1s');
    await refusedWhenExpired(short);
    const expiresMs = Link.parse(short).expiresMs;
    const rec3 = recordingFetch();
    await assert.rejects(openLink(short, { fetch: rec3.fetch, now: expiresMs - 1 }), (e) => {
      assert.equal(e.name, 'CofferError');
      assert.equal(e.code, 'ShareNotValid');
      assert.match(e.message, /403/);
      return true;
    });
    assert.equal(rec3.calls.length, 1);
  } finally {
    alice.done();
  }
});

test('share links on IPFS (Kubo gateway): a CAR checked block by block, a multi-leaf blob', { timeout: 180_000 }, async () => {
  const { COFFER_TEST_IPFS_API: api, COFFER_TEST_IPFS_GATEWAY: gateway } = process.env;
  if (!api || !gateway) throw new Error('COFFER_TEST_IPFS_API / COFFER_TEST_IPFS_GATEWAY unset: run via `npm test` or `.ci/kubo.sh start && source .ci/state/env`');
  const alice = owner(`ipfs://${new URL(api).host}?link_gateway=${gateway}`);
  try {
    const big = pattern251(2_500_000); // over 2 MiB sealed: a root and three 1 MiB leaves
    alice.put('note.txt', enc('hello bob'), '--content-type', 'text/plain');
    alice.put('film.bin', big);
    const links = {};
    for (const [key, want] of [['note.txt', enc('hello bob')], ['film.bin', big]]) {
      const link = alice.link(key, '1h');
      assert.ok(link.startsWith(`${gateway}/ipfs/`) && link.includes('?format=car#coffer-link-2.'), link);
      const rec = recordingFetch();
      const got = await openLink(link, { fetch: rec.fetch });
      assert.equal(got.bytes.length, want.length);
      assert.equal(blake3(got.bytes), blake3(want));
      assert.equal(got.name, key);
      assert.equal(got.owner, alice.recipient);
      assert.deepEqual(rec.calls, [link.split('#')[0]]);
      const parsed = Link.parse(link);
      assert.equal(parsed.fetchesCar, true);
      parsed.free();
      links[key] = link;
    }
    assert.equal((await openLink(links['note.txt'])).contentType, 'text/plain');

    // One object's fragment on the other's CAR: the blocks check out, the object does not.
    const [smallUrl, smallKey] = links['note.txt'].split('#');
    const [bigUrl, bigKey] = links['film.bin'].split('#');
    for (const swapped of [`${smallUrl}#${bigKey}`, `${bigUrl}#${smallKey}`]) {
      await assert.rejects(openLink(swapped), { name: 'CofferError', code: 'Corrupt' });
    }
    // A CAR with a flipped byte: a block no longer matches its CID.
    const car = new Uint8Array(await (await fetch(bigUrl)).arrayBuffer());
    car[car.length - 1000] ^= 1;
    const bigLink = Link.parse(links['film.bin']);
    assert.throws(() => bigLink.openResponse(car), { name: 'CofferError', code: 'Corrupt' });
    bigLink.free();

    // The gateway serves it forever; only the SDK refuses an expired link, before fetching.
    const short = alice.link('note.txt', '1s');
    await refusedWhenExpired(short);
    const [shortUrl] = short.split('#');
    const answer = await fetch(shortUrl);
    assert.equal(answer.status, 200, 'the gateway still serves the expired link');
    const served = new Uint8Array(await answer.arrayBuffer());
    const late = Link.parse(short);
    assert.throws(() => late.openResponse(served), { name: 'CofferError', code: 'ShareNotValid' });
    assert.equal(new TextDecoder().decode(late.openResponse(served, late.expiresMs - 1)), 'hello bob');
    late.free();
  } finally {
    alice.done();
  }
});

test('a malformed link or bad options: CofferError "Corrupt" / "BadInput", no request', async () => {
  const rec = recordingFetch();
  await assert.rejects(openLink('https://example.invalid/o', { fetch: rec.fetch }), { name: 'CofferError', code: 'Corrupt' });
  await assert.rejects(openLink('https://example.invalid/o#coffer-link-2.!!', { fetch: rec.fetch }), { code: 'Corrupt' });
  await assert.rejects(openLink(42, { fetch: rec.fetch }), { code: 'BadInput' });
  await assert.rejects(openLink('https://example.invalid/o#x', { fetch: 'no' }), { code: 'BadInput' });
  await assert.rejects(openLink('https://example.invalid/o#x', null), { code: 'BadInput' });
  assert.deepEqual(rec.calls, []);
});
