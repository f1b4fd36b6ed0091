// The JS S3 store and the Rust S3 store read each other's vaults on SeaweedFS: a vault written in
// JS is synced and read (whole and by range) by the `coffer` CLI (the Rust store), and the reverse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Identity, Vault, blake3 } from '@coffer/sdk';
import { S3Store } from '@coffer/sdk/stores/s3';
import { repoDir, enc, pattern251 } from './helpers.mjs';

const cli = process.env.COFFER_BIN ||
  join(process.env.CARGO_TARGET_DIR || join(repoDir, 'target'), 'release', 'coffer');

test('JS S3 store <-> Rust S3 store (the coffer CLI), same vault', { timeout: 120_000 }, async () => {
  assert.ok(existsSync(cli), `${cli} is missing: cargo build --release -p coffer-cli (npm test does it)`);
  const { COFFER_TEST_S3_ENDPOINT: endpoint, COFFER_TEST_S3_BUCKET: bucket } = process.env;
  const credentials = { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY };
  const prefix = `interop-${randomBytes(6).toString('hex')}`;
  const me = Identity.generate();
  const dir = mkdtempSync(join(tmpdir(), 'coffer-s3-interop-'));
  try {
    const idFile = join(dir, 'identity');
    writeFileSync(idFile, me.toSecretString() + '\n', { mode: 0o600 });
    const store = `s3://${bucket}/${prefix}?endpoint=${encodeURIComponent(endpoint)}&path_style=true`;
    const env = { ...process.env, COFFER_HOME: join(dir, 'home') };
    const rust = (args, input) =>
      execFileSync(cli, [...args, '--store', store, '--vault', 'interop', '--device', 'rust', '-i', idFile], {
        env, input, maxBuffer: 64 << 20,
      });

    const v = await Vault.create(new S3Store({ endpoint, bucket, prefix, credentials }), me, 'interop', 'js');
    const data = pattern251(3 * 1024 * 1024 + 7);
    await v.put('from-js.txt', enc('hello from js'));
    await v.put('from-js.bin', data);
    rust(['sync']);
    assert.equal(rust(['get', 'from-js.txt']).toString('utf8'), 'hello from js');
    const out = join(dir, 'from-js.bin');
    rust(['get', 'from-js.bin', out]);
    const got = new Uint8Array(readFileSync(out));
    assert.equal(got.length, data.length);
    assert.equal(blake3(got), blake3(data));
    assert.deepEqual([...rust(['get', 'from-js.bin', '--range', '1000000..1000010'])], [...data.slice(1_000_000, 1_000_010)]);

    rust(['put', '-', 'from-rust.txt'], 'hello from rust');
    const rb = pattern251(5 << 19);
    const src = join(dir, 'from-rust.bin');
    writeFileSync(src, rb);
    rust(['put', src, 'from-rust.bin']); // streamed by the CLI: sealed with a derived seed
    await v.sync();
    assert.equal(await v.getText('from-rust.txt'), 'hello from rust');
    assert.deepEqual(await v.get('from-rust.bin'), rb);
    assert.deepEqual(await v.getRange('from-rust.bin', 2_000_000, 2_100_000), rb.slice(2_000_000, 2_100_000));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
