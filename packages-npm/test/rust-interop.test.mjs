// Objects sealed in JS open in native Rust (the coffer CLI) and back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Identity, seal, open } from '@coffer/sdk';
import { repoDir, pattern251 } from './helpers.mjs';

const cli = process.env.COFFER_CLI ||
  process.env.COFFER_BIN ||
  join(process.env.CARGO_TARGET_DIR || join(repoDir, 'target'), 'release', 'coffer');

test('JS -> Rust CLI -> JS', () => {
  assert.ok(existsSync(cli), `${cli} is missing: cargo build --release -p coffer-cli (npm test does it)`);
  const dir = mkdtempSync(join(tmpdir(), 'coffer-interop-'));
  try {
    const alice = Identity.generate();
    const bob = Identity.generate();
    const bobFile = join(dir, 'bob.key');
    writeFileSync(bobFile, `# coffer identity: keep this file secret\n${bob.toSecretString()}\n`, { mode: 0o600 });
    const data = pattern251(200_000);

    // Sealed in JS (signed by alice, 4 KiB segments), opened by Rust requiring alice's signature.
    writeFileSync(join(dir, 'js.sealed'), seal(data, [bob.recipient], { signer: alice, segmentSizeLog2: 12 }));
    execFileSync(cli, ['open', '-i', bobFile, '--signer', alice.recipient, join(dir, 'js.sealed'), join(dir, 'js.out')], { stdio: 'pipe' });
    assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'js.out'))), data);

    // Sealed by Rust (signed by bob) to alice and bob, opened in JS by both.
    writeFileSync(join(dir, 'plain'), data);
    execFileSync(cli, ['seal', '-q', '-i', bobFile, '-r', alice.recipient, '-r', bob.recipient, join(dir, 'plain'), join(dir, 'rs.sealed')], { stdio: 'pipe' });
    const sealed = new Uint8Array(readFileSync(join(dir, 'rs.sealed')));
    for (const who of [alice, bob]) {
      const o = open(who, sealed);
      assert.deepEqual(o.plaintext, data);
      assert.equal(o.signer, bob.recipient);
    }
    // A flipped bit: Rust rejects it, so does JS.
    const bad = sealed.slice();
    bad[bad.length - 100] ^= 1;
    assert.throws(() => open(alice, bad), { code: 'Integrity' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
