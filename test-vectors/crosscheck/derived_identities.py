"""Checks test-vectors/derived-identities.json against implementations other than coffer's.

- Argon2id: argon2-cffi (the reference C implementation, phc-winner-argon2);
- HKDF-SHA256: Python's hmac/hashlib (RFC 5869 written out);
- wallet signatures: python-ecdsa recovers each signer's address from the EIP-191 hash
  (Keccak-256 from pycryptodome) of the stored message, and the low-s / malleation rules are
  recomputed with Python integers.

Not part of CI (it needs PyPI packages). Run from the repository root:

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install argon2-cffi ecdsa pycryptodome
    /tmp/venv/bin/python test-vectors/crosscheck/derived_identities.py
"""

import hashlib
import hmac
import json
import pathlib
import sys

import ecdsa
from argon2.low_level import Type, hash_secret_raw
from Crypto.Hash import keccak

N = ecdsa.SECP256k1.order
VECTORS = pathlib.Path(__file__).resolve().parent.parent / "derived-identities.json"


def hkdf_sha256(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, block, i = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        okm += block
        i += 1
    return okm[:length]


def keccak256(data: bytes) -> bytes:
    h = keccak.new(digest_bits=256)
    h.update(data)
    return h.digest()


def low_r_s(sig: bytes) -> bytes:
    """r || low s, following docs/FORMAT.md §1.1 with Python integers."""
    if len(sig) == 65:
        assert sig[64] in (0, 1, 27, 28)
        r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big")
    elif len(sig) == 64:
        r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big") & ((1 << 255) - 1)
    else:
        raise ValueError("length")
    if not (0 < r < N and 0 < s < N):
        raise ValueError("scalar")
    if s > N // 2:
        s = N - s
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def main() -> int:
    data = json.loads(VECTORS.read_text())
    checked = 0
    for v in data["passphrase"]["vectors"]:
        salt = b"coffer/v1/passphrase-identity\0" + v["account"].strip().encode()
        assert salt.hex() == v["argon2id_salt"], v["account"]
        assert v["passphrase"].encode().hex() == v["passphrase_hex"]
        seed = hash_secret_raw(
            secret=v["passphrase"].encode(),
            salt=salt,
            time_cost=v["iterations"],
            memory_cost=v["memory_kib"],
            parallelism=v["parallelism"],
            hash_len=32,
            type=Type.ID,
            version=0x13,
        )
        assert seed.hex() == v["seed"], f"argon2id mismatch for {v['account']!r}"
        checked += 1

    message = data["wallet"]["message"].encode()
    digest = keccak256(b"\x19Ethereum Signed Message:\n" + str(len(message)).encode() + message)
    for v in data["wallet"]["vectors"]:
        sig = bytes.fromhex(v["signature"])
        ikm = low_r_s(sig)
        assert ikm.hex() == v["hkdf_ikm"], v["note"]
        seed = hkdf_sha256(b"coffer/v1/wallet-identity", ikm, b"coffer/v1/wallet-identity/seed", 32)
        assert seed.hex() == v["seed"], v["note"]
        # The signature really is the signer's personal_sign of the message (either s form).
        keys = ecdsa.VerifyingKey.from_public_key_recovery_with_digest(
            ikm, digest, ecdsa.SECP256k1, sigdecode=ecdsa.util.sigdecode_string
        )
        addresses = {"0x" + keccak256(k.to_string())[-20:].hex() for k in keys}
        assert v["signer"]["address"] in addresses, v["note"]
        sk = ecdsa.SigningKey.from_string(bytes.fromhex(v["signer"]["private_key"]), curve=ecdsa.SECP256k1)
        assert "0x" + keccak256(sk.get_verifying_key().to_string())[-20:].hex() == v["signer"]["address"]
        checked += 1

    for v in data["wallet"]["invalid"]:
        try:
            low_r_s(bytes.fromhex(v["signature"]))
        except (ValueError, AssertionError):
            checked += 1
            continue
        raise AssertionError(f"accepted an invalid signature: {v['note']}")

    print(f"derived-identities.json: {checked} cases agree with argon2-cffi, hmac/hashlib and python-ecdsa")
    return 0


if __name__ == "__main__":
    sys.exit(main())
