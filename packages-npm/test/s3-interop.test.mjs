// The JS S3 store and the Rust S3 store read each other's vaults on SeaweedFS: a vault written in
// JS is synced and read (whole and by range) by the Rust store, and the reverse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Identity, Vault, blake3 } from '@coffer/sdk';
import { S3Store } from '@coffer/sdk/stores/s3';
import { repoDir, enc, pattern251 } from './helpers.mjs';

const bin = join(process.env.CARGO_TARGET_DIR || join(repoDir, 'target'), 'debug', 'coffer-npm-interop');

test('JS S3 store <-> Rust S3 store, same vault', { timeout: 120_000 }, async () => {
  assert.ok(existsSync(bin), `${bin} is missing: cargo build --manifest-path packages-npm/interop/Cargo.toml (npm test does it)`);
  const { COFFER_TEST_S3_ENDPOINT: endpoint, COFFER_TEST_S3_BUCKET: bucket } = process.env;
  const credentials = { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY };
  const prefix = `interop-${randomBytes(6).toString('hex')}`;
  const me = Identity.generate();
  const env = { ...process.env, COFFER_INTEROP_IDENTITY: me.toSecretString() };
  const rust = (mode) => JSON.parse(execFileSync(bin, [mode, prefix], { env, encoding: 'utf8' }));

  const v = await Vault.create(new S3Store({ endpoint, bucket, prefix, credentials }), me, 'interop', 'js');
  const data = pattern251(3 * 1024 * 1024 + 7);
  await v.put('from-js.txt', enc('hello from js'));
  await v.put('from-js.bin', data);
  const got = rust('read');
  assert.equal(got.text, 'hello from js');
  assert.equal(got.bin_len, data.length);
  assert.equal(got.bin_blake3, blake3(data));
  assert.deepEqual(got.range, [...data.slice(1_000_000, 1_000_010)]);

  assert.deepEqual(rust('write'), { ok: true });
  await v.sync();
  assert.equal(await v.getText('from-rust.txt'), 'hello from rust');
  const rb = pattern251(5 << 19);
  assert.deepEqual(await v.get('from-rust.bin'), rb);
  assert.deepEqual(await v.getRange('from-rust.bin', 2_000_000, 2_100_000), rb.slice(2_000_000, 2_100_000));
});
