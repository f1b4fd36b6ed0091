// test-vectors/ decode to the same bytes in JS (the wasm build of the core) as in Rust.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Identity, open, seal, cid, blake3, verify, verifySignature, parseRecipient, WALLET_MESSAGE } from '@coffer/sdk';
import { hex, toHex, vectors, pattern251, enc } from './helpers.mjs';

test('identities.json: seed -> identity text, recipient text, signature', () => {
  const v = vectors('identities.json');
  assert.ok(v.vectors.length > 0);
  for (const c of v.vectors) {
    const id = Identity.fromSeed(hex(c.seed));
    assert.equal(id.toSecretString(), c.identity);
    assert.equal(id.recipient, c.recipient);
    assert.equal(toHex(id.sign(enc('hello'))), c.signature_of_hello);
    assert.ok(verifySignature(c.recipient, enc('hello'), hex(c.signature_of_hello)));
    assert.ok(!verifySignature(c.recipient, enc('hellO'), hex(c.signature_of_hello)));
    const parsed = Identity.fromString(c.identity);
    assert.equal(parsed.recipient, c.recipient);
    assert.equal(parseRecipient(c.recipient.toUpperCase()), c.recipient);
  }
});

test('sealed.json: objects sealed by Rust open in JS', () => {
  const v = vectors('sealed.json');
  assert.ok(v.vectors.length > 0);
  for (const c of v.vectors) {
    const sealed = hex(c.sealed);
    assert.equal(cid(sealed), c.cid, c.name);
    assert.equal(blake3(sealed), c.blake3, c.name);
    const expected = c.plaintext !== undefined ? hex(c.plaintext) : pattern251(c.plaintext_len);
    for (const seed of c.recipient_seeds) {
      const opened = open(Identity.fromSeed(hex(seed)), sealed);
      assert.deepEqual(opened.plaintext, expected, c.name);
      const signer = c.signer_seed ? Identity.fromSeed(hex(c.signer_seed)).recipient : null;
      assert.equal(opened.signer, signer, c.name);
    }
    // Anyone else gets a typed error.
    assert.throws(() => open(Identity.generate(), sealed), { name: 'CofferError', code: 'NotRecipient' });
  }
});

test('cid.json: raw and dag-cbor CIDs', () => {
  const v = vectors('cid.json');
  for (const c of v.vectors) {
    assert.equal(cid(hex(c.bytes)), c.cid_raw, c.name);
    assert.equal(cid(hex(c.bytes), 'dag-cbor'), c.cid_dag_cbor, c.name);
    assert.equal(blake3(hex(c.bytes)), c.blake3, c.name);
  }
});

test('blake3.json: the official vectors', () => {
  const v = vectors('blake3.json');
  for (const c of v.cases) {
    assert.equal(blake3(pattern251(c.input_len)), c.hash.slice(0, 64), `len ${c.input_len}`);
  }
});

test('outboard.json: outboards, range proofs and range verification', () => {
  const v = vectors('outboard.json');
  for (const c of v.cases) {
    const data = pattern251(c.input_len);
    const ob = verify.outboard(data);
    assert.equal(ob.root, c.root);
    assert.equal(toHex(ob.outboard), c.outboard);
    verify.verifyAll(c.root, data, ob.outboard);
    for (const r of c.ranges) {
      const proof = verify.rangeProof(c.root, c.input_len, ob.outboard, r.start, r.end);
      assert.equal(toHex(proof), r.proof);
      const cov = verify.coveringRange(c.input_len, r.start, r.end);
      assert.deepEqual(cov, { start: r.covering_start, end: r.covering_end });
      const got = verify.verifyRange(c.root, c.input_len, r.start, r.end, proof, data.slice(cov.start, cov.end));
      assert.deepEqual(got, data.slice(r.start, r.end));
      if (cov.end > cov.start) {
        const bad = data.slice(cov.start, cov.end);
        bad[0] ^= 1;
        assert.throws(() => verify.verifyRange(c.root, c.input_len, r.start, r.end, proof, bad), { code: 'Integrity' });
      }
    }
  }
});

test('derived-identities.json: the default-parameter passphrase vector and the wallet vectors', () => {
  const v = vectors('derived-identities.json');
  // Identity.fromPassphrase takes the default Argon2id parameters only: the vectors made with them.
  const defaults = v.passphrase.vectors.filter((c) => c.default_params);
  assert.ok(defaults.length > 0);
  for (const c of defaults) {
    const id = Identity.fromPassphrase(c.passphrase, c.account);
    assert.equal(id.toSecretString(), c.identity);
    assert.equal(id.recipient, c.recipient);
  }
  assert.equal(WALLET_MESSAGE, v.wallet.message);
  assert.ok(v.wallet.vectors.length > 0);
  for (const c of v.wallet.vectors) {
    assert.equal(Identity.fromWalletSignature(hex(c.signature)).recipient, c.recipient, c.note);
    assert.equal(Identity.fromWalletSignature('0x' + c.signature).toSecretString(), c.identity, c.note);
  }
  for (const c of v.wallet.invalid) {
    assert.throws(() => Identity.fromWalletSignature(hex(c.signature)), { name: 'CofferError', code: 'BadKey' }, c.note);
  }
});

test('post-quantum.json: X-Wing recipients and did:key forms; objects sealed to them open in JS', () => {
  const v = vectors('post-quantum.json');
  assert.ok(v.identities.length > 0 && v.sealed.length > 0);
  for (const c of v.identities) {
    const id = Identity.fromSeed(hex(c.seed));
    assert.equal(id.postQuantumRecipient, c.recipient_pq);
    assert.equal(id.didKey, c.did_key);
    assert.equal(parseRecipient(c.recipient_pq), c.recipient_pq);
    // A did:key names the X25519 key derived from its Ed25519 key; its canonical text is the
    // coffer1 form of those two keys.
    const fromDid = parseRecipient(c.did_key);
    assert.ok(fromDid.startsWith('coffer1'));
    assert.equal(parseRecipient(fromDid), fromDid);
  }
  for (const c of v.sealed) {
    for (const seed of c.recipient_seeds) {
      assert.deepEqual(open(Identity.fromSeed(hex(seed)), hex(c.sealed)).plaintext, hex(c.plaintext), c.name);
    }
  }
  const [alice, bob, carol] = [Identity.generate(), Identity.generate(), Identity.generate()];
  const sealed = seal(enc('hybrid'), [bob.postQuantumRecipient, carol.didKey], { signer: alice });
  for (const who of [bob, carol]) {
    const opened = open(who, sealed);
    assert.deepEqual(opened.plaintext, enc('hybrid'));
    assert.equal(opened.signer, alice.recipient);
  }
  assert.throws(() => open(alice, sealed), { name: 'CofferError', code: 'NotRecipient' });
  assert.throws(() => parseRecipient('did:key:z6LShLeXRTzevtwcfehaGEzCMyL3bNsAeKCwcqwJxyCo63yE'), { name: 'CofferError', code: 'BadKey' });
});
