//! Identities derived from what a user already has: a passphrase, or a wallet's signature.
//!
//! Both end in [`Identity::from_seed`]; only the way the 32-byte seed is obtained differs. The
//! exact formulas are in `docs/FORMAT.md` §1.1 and pinned by `test-vectors/derived-identities.json`.
//!
//! **Passphrase** ([`Identity::from_passphrase`]): `seed = Argon2id(passphrase, salt =
//! "coffer/v1/passphrase-identity\0" ‖ account)`. A recipient is public, so anyone who has one
//! can test passphrase guesses offline against it at the cost of one Argon2id per guess: weak
//! passphrases are broken, a forgotten passphrase loses every file, and a new passphrase is a new
//! identity (a key rotation).
//!
//! **Wallet** ([`Identity::from_wallet_signature`]): the app asks an Ethereum wallet to sign
//! [`WALLET_MESSAGE`] (`personal_sign`, EIP-191) and `seed = HKDF-SHA256(r ‖ low-s)`. The
//! signature *is* the secret: anyone who obtains it (for instance a phishing site asking for the
//! same signature) holds the identity. The signature is not checked against an address (that
//! would need secp256k1 code), so any 65 well-formed bytes give *an* identity: an app must not
//! treat a derived identity as proof that the user controls a given address. Wallets that sign
//! non-deterministically give a different identity each time: an app should ask twice and compare.
//!
//! ```
//! use coffer::keys::{Identity, PassphraseParams};
//!
//! // Tests and examples may use small parameters; real use takes `PassphraseParams::default()`.
//! let params = PassphraseParams::insecure_for_tests(64, 1, 1).unwrap();
//! let a = Identity::from_passphrase("correct horse battery staple", "alice@example.com", &params).unwrap();
//! let b = Identity::from_passphrase("correct horse battery staple", "bob@example.com", &params).unwrap();
//! assert_ne!(a.recipient(), b.recipient());
//! ```

use argon2::{Algorithm, Argon2, Block, Version};
use hkdf::Hkdf;
use sha2::Sha256;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroizing;

use super::{Identity, KeyError, SEED_LEN};

/// The message an app asks a wallet to sign (EIP-191 `personal_sign`) to derive the user's
/// identity with [`Identity::from_wallet_signature`].
///
/// It never changes: a different message is a different signature and so a different identity
/// (the user's files would become unreadable). It is ASCII, so wallets show it the same way
/// everywhere.
pub const WALLET_MESSAGE: &str = "coffer: unlock my encrypted files\n\
\n\
Signing this message creates the secret key that encrypts and decrypts your coffer files. \
It is not a transaction and costs nothing.\n\
\n\
WARNING: anyone who obtains this signature can decrypt all your coffer files. \
Sign it only in an app you trust to hold your coffer key, never on a website you do not know.\n\
\n\
Key: coffer/v1/wallet-identity";

/// Argon2id salt prefix; the account follows it.
const PASSPHRASE_SALT_PREFIX: &[u8] = b"coffer/v1/passphrase-identity\0";
const WALLET_SALT: &[u8] = b"coffer/v1/wallet-identity";
const WALLET_INFO: &[u8] = b"coffer/v1/wallet-identity/seed";

/// The order n of the secp256k1 group, big-endian.
const SECP256K1_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
];
/// ⌊n / 2⌋: a signature's `s` is "low" when `s ≤ ⌊n / 2⌋` (EIP-2, BIP 62).
const SECP256K1_HALF_N: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
];

/// Argon2id cost parameters of [`Identity::from_passphrase`].
///
/// The parameters are part of the derivation: the same passphrase under other parameters gives
/// another identity. An app that does not use [`PassphraseParams::default`] must keep its
/// parameters (they are not secret) and use them every time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PassphraseParams {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

impl PassphraseParams {
    /// Default memory: 64 MiB (RFC 9106 §4, second recommended option).
    pub const DEFAULT_MEMORY_KIB: u32 = 64 * 1024;
    /// Default number of passes: 3 (RFC 9106 §4, second recommended option).
    pub const DEFAULT_ITERATIONS: u32 = 3;
    /// Default number of lanes: 4 (RFC 9106 §4, second recommended option).
    pub const DEFAULT_PARALLELISM: u32 = 4;
    /// Least memory [`PassphraseParams::new`] accepts: 19 MiB (OWASP's minimum for Argon2id).
    pub const MIN_MEMORY_KIB: u32 = 19 * 1024;
    /// Fewest passes [`PassphraseParams::new`] accepts: 2 (OWASP's minimum with 19 MiB).
    pub const MIN_ITERATIONS: u32 = 2;

    /// Parameters of at least [`Self::MIN_MEMORY_KIB`] KiB of memory and
    /// [`Self::MIN_ITERATIONS`] passes, over `parallelism` lanes (1 or more, with at least 8 KiB
    /// of memory per lane). Weaker parameters are refused with [`KeyError::WeakPassphraseParams`].
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, KeyError> {
        if memory_kib < Self::MIN_MEMORY_KIB {
            return Err(KeyError::WeakPassphraseParams {
                what: "memory (KiB)",
                minimum: Self::MIN_MEMORY_KIB,
                found: memory_kib,
            });
        }
        if iterations < Self::MIN_ITERATIONS {
            return Err(KeyError::WeakPassphraseParams {
                what: "iterations",
                minimum: Self::MIN_ITERATIONS,
                found: iterations,
            });
        }
        Self::insecure_for_tests(memory_kib, iterations, parallelism)
    }

    /// Parameters *without* coffer's minimums, only Argon2's own limits (at least 1 pass, 1 lane
    /// and 8 KiB of memory per lane). **Insecure**: for tests and test vectors, where a real
    /// derivation would be too slow. Never use it for a user's identity.
    pub fn insecure_for_tests(
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
    ) -> Result<Self, KeyError> {
        let params = Self {
            memory_kib,
            iterations,
            parallelism,
        };
        params.argon2_params()?;
        Ok(params)
    }

    /// Memory in KiB (Argon2's `m`).
    pub fn memory_kib(&self) -> u32 {
        self.memory_kib
    }

    /// Number of passes over the memory (Argon2's `t`).
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Number of lanes (Argon2's `p`). This implementation fills them one after another; the
    /// value still changes the result.
    pub fn parallelism(&self) -> u32 {
        self.parallelism
    }

    fn argon2_params(&self) -> Result<argon2::Params, KeyError> {
        argon2::Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(SEED_LEN),
        )
        .map_err(|e| KeyError::InvalidPassphraseParams {
            reason: match e {
                argon2::Error::MemoryTooLittle => "memory must be at least 8 KiB per lane",
                argon2::Error::TimeTooSmall => "iterations must be at least 1",
                argon2::Error::ThreadsTooFew => "parallelism must be at least 1",
                argon2::Error::ThreadsTooMany => "parallelism must be below 2^24",
                _ => "Argon2 refuses these parameters",
            },
        })
    }
}

impl Default for PassphraseParams {
    /// RFC 9106 §4, second recommended option: Argon2id, 64 MiB, 3 passes, 4 lanes.
    fn default() -> Self {
        Self {
            memory_kib: Self::DEFAULT_MEMORY_KIB,
            iterations: Self::DEFAULT_ITERATIONS,
            parallelism: Self::DEFAULT_PARALLELISM,
        }
    }
}

impl Identity {
    /// The identity of `passphrase` for `account` (`docs/FORMAT.md` §1.1):
    /// `seed = Argon2id(passphrase, "coffer/v1/passphrase-identity\0" ‖ account, params)`.
    ///
    /// - `passphrase` is used byte for byte as UTF-8: no trimming and no Unicode normalisation
    ///   (the same-looking text typed on two systems can differ; keep to one input method, or
    ///   normalise to NFC before calling). It must not be empty.
    /// - `account` (the user's e-mail or user name) makes the identities of two users with the
    ///   same passphrase different, and a table precomputed for all users useless. White space is
    ///   trimmed at both ends; the rest is used byte for byte, so case matters (`Alice` and
    ///   `alice` are two accounts: apps should pass one canonical form, e.g. a lower-case e-mail).
    ///
    /// Costs one Argon2id run with `params` (about 64 MiB and a fraction of a second with the
    /// default). Anyone with the recipient can check guesses at that cost per guess, so the
    /// passphrase must be strong; see the module documentation for the risks.
    pub fn from_passphrase(
        passphrase: &str,
        account: &str,
        params: &PassphraseParams,
    ) -> Result<Identity, KeyError> {
        if passphrase.is_empty() {
            return Err(KeyError::EmptyPassphrase);
        }
        let account = account.trim();
        if account.is_empty() {
            return Err(KeyError::EmptyAccount);
        }
        let argon2_params = params.argon2_params()?;
        let block_count = argon2_params.block_count();
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon2_params);
        let salt = [PASSPHRASE_SALT_PREFIX, account.as_bytes()].concat();
        // The memory blocks hold values derived from the passphrase: wiped when dropped.
        let mut blocks = Zeroizing::new(vec![Block::default(); block_count]);
        let mut seed = Zeroizing::new([0u8; SEED_LEN]);
        argon2
            .hash_password_into_with_memory(
                passphrase.as_bytes(),
                &salt,
                seed.as_mut(),
                blocks.as_mut_slice(),
            )
            .map_err(|_| KeyError::InvalidPassphraseParams {
                reason: "the passphrase or account is longer than Argon2 accepts (4 GiB)",
            })?;
        Ok(Identity::from_seed(&seed))
    }

    /// The identity of a wallet's signature of [`WALLET_MESSAGE`] (`docs/FORMAT.md` §1.1):
    /// `seed = HKDF-SHA256(salt = "coffer/v1/wallet-identity", ikm = r ‖ s,
    /// info = "coffer/v1/wallet-identity/seed")`.
    ///
    /// `signature` is what `personal_sign` returns, decoded from hex: 65 bytes `r ‖ s ‖ v` with
    /// `v` in {0, 1, 27, 28}, or the 64-byte EIP-2098 compact form (`v` in the top bit of `s`).
    /// `s` is taken in its low form (`n − s` when `s > n/2`), so the two encodings of one
    /// signature (ECDSA malleability) give the same identity; `v` is checked but does not enter
    /// the derivation. `r` and `s` must be in `1..n`.
    ///
    /// The signature is **not** verified against any address or message (that needs secp256k1
    /// code coffer does not carry): any well-formed bytes give an identity, and holding the
    /// identity proves nothing about a wallet. Treat the signature like the identity itself.
    pub fn from_wallet_signature(signature: &[u8]) -> Result<Identity, KeyError> {
        let rs = normalised_r_s(signature)?;
        let hk = Hkdf::<Sha256>::new(Some(WALLET_SALT), rs.as_ref());
        let mut seed = Zeroizing::new([0u8; SEED_LEN]);
        hk.expand(WALLET_INFO, seed.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Ok(Identity::from_seed(&seed))
    }
}

/// `r ‖ s` of a 65- or 64-byte signature, with `s` in low form; rejects out-of-range values.
fn normalised_r_s(signature: &[u8]) -> Result<Zeroizing<[u8; 64]>, KeyError> {
    let mut rs = Zeroizing::new([0u8; 64]);
    match signature.len() {
        65 => {
            let v = signature[64];
            if !matches!(v, 0 | 1 | 27 | 28) {
                return Err(KeyError::WalletSignatureRecoveryId { v });
            }
            rs.copy_from_slice(&signature[..64]);
        }
        64 => {
            // EIP-2098: the top bit of the second half is the y parity, the rest is s.
            rs.copy_from_slice(signature);
            rs[32] &= 0x7f;
        }
        len => return Err(KeyError::WalletSignatureLength { len }),
    }
    let (r, s) = rs.split_at_mut(32);
    let r: &[u8; 32] = (&*r).try_into().expect("split at 32 of 64 bytes");
    let s: &mut [u8; 32] = s.try_into().expect("split at 32 of 64 bytes");
    if !bool::from(in_scalar_range(r)) {
        return Err(KeyError::WalletSignatureScalar { which: "r" });
    }
    if !bool::from(in_scalar_range(s)) {
        return Err(KeyError::WalletSignatureScalar { which: "s" });
    }
    // s > ⌊n/2⌋ exactly when ⌊n/2⌋ − s borrows; then replace s by n − s (branch-free).
    // The differences are derived from the secret s: kept in wiped buffers.
    let mut scratch = Zeroizing::new([0u8; 32]);
    let high = sub_be(&SECP256K1_HALF_N, s, &mut scratch);
    sub_be(&SECP256K1_N, s, &mut scratch);
    for (byte, neg) in s.iter_mut().zip(scratch.iter()) {
        *byte = u8::conditional_select(byte, neg, high);
    }
    Ok(rs)
}

/// Whether `1 ≤ x < n` for a big-endian 256-bit `x`.
fn in_scalar_range(x: &[u8; 32]) -> Choice {
    let mut scratch = Zeroizing::new([0u8; 32]);
    let below_n = sub_be(x, &SECP256K1_N, &mut scratch);
    !x.ct_eq(&[0u8; 32]) & below_n
}

/// `out = a − b mod 2^256` for big-endian 256-bit numbers; returns whether it borrowed
/// (`a < b`). Runs in the same time whatever the values.
fn sub_be(a: &[u8; 32], b: &[u8; 32], out: &mut [u8; 32]) -> Choice {
    let mut borrow = 0u16;
    for i in (0..32).rev() {
        let d = u16::from(a[i])
            .wrapping_sub(u16::from(b[i]))
            .wrapping_sub(borrow);
        out[i] = d.to_le_bytes()[0];
        // A negative byte difference wraps to 0xff00 or above: bit 15 is the borrow.
        borrow = d >> 15;
    }
    Choice::from(borrow.to_le_bytes()[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> PassphraseParams {
        PassphraseParams::insecure_for_tests(64, 1, 1).unwrap()
    }

    fn pass(p: &str, account: &str, params: &PassphraseParams) -> Identity {
        Identity::from_passphrase(p, account, params).unwrap()
    }

    #[test]
    fn passphrase_identity_is_deterministic_and_depends_on_every_input() {
        let p = small();
        let a = pass("correct horse", "alice@example.com", &p);
        assert_eq!(
            a.recipient(),
            pass("correct horse", "alice@example.com", &p).recipient()
        );
        assert_ne!(
            a.recipient(),
            pass("correct horse", "bob@example.com", &p).recipient()
        );
        assert_ne!(
            a.recipient(),
            pass("correct horsf", "alice@example.com", &p).recipient()
        );
        let other = PassphraseParams::insecure_for_tests(64, 2, 1).unwrap();
        assert_ne!(
            a.recipient(),
            pass("correct horse", "alice@example.com", &other).recipient()
        );
        let lanes = PassphraseParams::insecure_for_tests(64, 1, 2).unwrap();
        assert_ne!(
            a.recipient(),
            pass("correct horse", "alice@example.com", &lanes).recipient()
        );
    }

    #[test]
    fn account_is_trimmed_but_otherwise_byte_for_byte() {
        let p = small();
        let a = pass("pw", "alice@example.com", &p);
        assert_eq!(
            a.recipient(),
            pass("pw", " \talice@example.com\n", &p).recipient()
        );
        assert_ne!(
            a.recipient(),
            pass("pw", "Alice@example.com", &p).recipient()
        );
        // The passphrase is not trimmed.
        assert_ne!(
            a.recipient(),
            pass("pw ", "alice@example.com", &p).recipient()
        );
        // No Unicode normalisation: NFC "é" and NFD "e + combining acute" differ.
        assert_ne!(
            pass("caf\u{e9}", "a", &p).recipient(),
            pass("cafe\u{301}", "a", &p).recipient()
        );
    }

    #[test]
    fn the_account_and_passphrase_are_not_interchangeable() {
        // The salt prefix ends in \0 and the passphrase is a separate Argon2 input, so moving
        // bytes between the two changes the identity.
        let p = small();
        assert_ne!(
            pass("ab", "cd", &p).recipient(),
            pass("cd", "ab", &p).recipient()
        );
        assert_ne!(
            pass("abc", "d", &p).recipient(),
            pass("ab", "cd", &p).recipient()
        );
    }

    #[test]
    fn empty_passphrase_or_account_is_refused() {
        let p = small();
        assert_eq!(
            Identity::from_passphrase("", "alice", &p).unwrap_err(),
            KeyError::EmptyPassphrase
        );
        assert_eq!(
            Identity::from_passphrase("pw", " \t\n", &p).unwrap_err(),
            KeyError::EmptyAccount
        );
        assert_eq!(
            Identity::from_passphrase("pw", "", &p).unwrap_err(),
            KeyError::EmptyAccount
        );
    }

    #[test]
    fn default_params_are_rfc_9106_second_option_and_pass_the_minimums() {
        let d = PassphraseParams::default();
        assert_eq!(
            (d.memory_kib(), d.iterations(), d.parallelism()),
            (65536, 3, 4)
        );
        assert_eq!(PassphraseParams::new(65536, 3, 4).unwrap(), d);
    }

    #[test]
    fn weak_params_are_refused_with_a_typed_error() {
        assert_eq!(
            PassphraseParams::new(19 * 1024 - 1, 3, 1).unwrap_err(),
            KeyError::WeakPassphraseParams {
                what: "memory (KiB)",
                minimum: 19 * 1024,
                found: 19 * 1024 - 1
            }
        );
        assert_eq!(
            PassphraseParams::new(65536, 1, 4).unwrap_err(),
            KeyError::WeakPassphraseParams {
                what: "iterations",
                minimum: 2,
                found: 1
            }
        );
        // The minimum itself is accepted.
        PassphraseParams::new(19 * 1024, 2, 1).unwrap();
        // Argon2's own limits hold even for test parameters.
        for (m, t, p) in [
            (8, 1, 2),
            (7, 1, 1),
            (64, 0, 1),
            (64, 1, 0),
            (u32::MAX, 3, 1 << 24),
        ] {
            assert!(
                matches!(
                    PassphraseParams::insecure_for_tests(m, t, p),
                    Err(KeyError::InvalidPassphraseParams { .. })
                ),
                "m={m} t={t} p={p} accepted"
            );
        }
        assert!(matches!(
            PassphraseParams::new(65536, 3, 0),
            Err(KeyError::InvalidPassphraseParams { .. })
        ));
        let err = PassphraseParams::new(1024, 3, 1).unwrap_err().to_string();
        assert!(err.contains("PassphraseParams::default()"), "{err}");
    }

    #[test]
    fn default_params_derive() {
        // One real-cost derivation (64 MiB, 3 passes): the dependencies are optimised even in
        // debug builds, so this takes a fraction of a second.
        let d = PassphraseParams::default();
        let a = pass("correct horse battery staple", "alice@example.com", &d);
        let b = pass("correct horse battery staple", "bob@example.com", &d);
        assert_ne!(a.recipient(), b.recipient());
    }

    // --- wallet signatures ---

    fn sig(r: [u8; 32], s: [u8; 32], v: u8) -> Vec<u8> {
        let mut out = Vec::with_capacity(65);
        out.extend_from_slice(&r);
        out.extend_from_slice(&s);
        out.push(v);
        out
    }

    fn bytes(first: u8) -> [u8; 32] {
        let mut b = [0u8; 32];
        for (i, x) in b.iter_mut().enumerate() {
            *x = first.wrapping_add(i as u8 * 7);
        }
        b[0] &= 0x3f; // keep it below n/2
        b
    }

    fn wallet(signature: &[u8]) -> Identity {
        Identity::from_wallet_signature(signature).unwrap()
    }

    fn neg(s: &[u8; 32]) -> [u8; 32] {
        let mut out = [0u8; 32];
        sub_be(&SECP256K1_N, s, &mut out);
        out
    }

    fn sub(a: &[u8; 32], b: &[u8; 32]) -> ([u8; 32], Choice) {
        let mut out = [0u8; 32];
        let borrow = sub_be(a, b, &mut out);
        (out, borrow)
    }

    #[test]
    fn half_n_is_n_shifted_right() {
        let mut shifted = [0u8; 32];
        let mut carry = 0u8;
        for (out, b) in shifted.iter_mut().zip(SECP256K1_N.iter()) {
            *out = (b >> 1) | (carry << 7);
            carry = b & 1;
        }
        assert_eq!(shifted, SECP256K1_HALF_N);
        assert_eq!(carry, 1, "n is odd");
    }

    #[test]
    fn subtraction_borrows_exactly_when_a_is_below_b() {
        let one = {
            let mut b = [0u8; 32];
            b[31] = 1;
            b
        };
        let (d, borrow) = sub(&[0u8; 32], &one);
        assert_eq!(d, [0xff; 32]);
        assert!(bool::from(borrow));
        let (d, borrow) = sub(&SECP256K1_N, &SECP256K1_HALF_N);
        assert!(!bool::from(borrow));
        // n − ⌊n/2⌋ = ⌊n/2⌋ + 1.
        let (diff, _) = sub(&d, &SECP256K1_HALF_N);
        assert_eq!(diff, one);
        let (d, borrow) = sub(&SECP256K1_N, &SECP256K1_N);
        assert_eq!(d, [0u8; 32]);
        assert!(!bool::from(borrow));
    }

    #[test]
    fn wallet_identity_is_deterministic_and_distinct() {
        let a = wallet(&sig(bytes(1), bytes(2), 27));
        assert_eq!(
            a.recipient(),
            wallet(&sig(bytes(1), bytes(2), 27)).recipient()
        );
        assert_ne!(
            a.recipient(),
            wallet(&sig(bytes(1), bytes(3), 27)).recipient()
        );
        assert_ne!(
            a.recipient(),
            wallet(&sig(bytes(4), bytes(2), 27)).recipient()
        );
    }

    #[test]
    fn v_and_its_encodings_do_not_change_the_identity() {
        let a = wallet(&sig(bytes(1), bytes(2), 27));
        for v in [0, 1, 28] {
            assert_eq!(
                a.recipient(),
                wallet(&sig(bytes(1), bytes(2), v)).recipient()
            );
        }
        // EIP-2098 compact form, either parity.
        let mut compact = sig(bytes(1), bytes(2), 0);
        compact.pop();
        assert_eq!(a.recipient(), wallet(&compact).recipient());
        compact[32] |= 0x80;
        assert_eq!(a.recipient(), wallet(&compact).recipient());
    }

    #[test]
    fn a_malleated_high_s_signature_gives_the_same_identity() {
        let (r, s) = (bytes(9), bytes(10));
        let low = wallet(&sig(r, s, 27));
        let high = neg(&s);
        assert!(high > SECP256K1_HALF_N);
        assert_eq!(low.recipient(), wallet(&sig(r, high, 28)).recipient());
        // At the boundary: ⌊n/2⌋ is low and stays; ⌊n/2⌋ + 1 is high and maps to ⌊n/2⌋.
        let half = SECP256K1_HALF_N;
        let half_plus_one = neg(&half);
        assert_eq!(
            wallet(&sig(r, half, 0)).recipient(),
            wallet(&sig(r, half_plus_one, 1)).recipient()
        );
        // n − 1 maps to 1.
        let mut n_minus_one = SECP256K1_N;
        n_minus_one[31] -= 1;
        let mut one = [0u8; 32];
        one[31] = 1;
        assert_eq!(
            wallet(&sig(r, n_minus_one, 0)).recipient(),
            wallet(&sig(r, one, 1)).recipient()
        );
    }

    #[test]
    fn bad_lengths_recovery_bytes_and_scalars_are_typed_errors() {
        for len in [0, 1, 32, 63, 66, 130, 132] {
            assert_eq!(
                Identity::from_wallet_signature(&vec![1u8; len]).unwrap_err(),
                KeyError::WalletSignatureLength { len }
            );
        }
        for v in [2, 26, 29, 35, 36, 255] {
            assert_eq!(
                Identity::from_wallet_signature(&sig(bytes(1), bytes(2), v)).unwrap_err(),
                KeyError::WalletSignatureRecoveryId { v }
            );
        }
        let mut above_n = SECP256K1_N;
        above_n[31] += 1;
        for bad in [[0u8; 32], SECP256K1_N, above_n, [0xff; 32]] {
            assert_eq!(
                Identity::from_wallet_signature(&sig(bad, bytes(2), 27)).unwrap_err(),
                KeyError::WalletSignatureScalar { which: "r" }
            );
            assert_eq!(
                Identity::from_wallet_signature(&sig(bytes(1), bad, 27)).unwrap_err(),
                KeyError::WalletSignatureScalar { which: "s" }
            );
        }
        // Compact form with s = 0 (only the parity bit set).
        let mut compact = sig(bytes(1), [0u8; 32], 0);
        compact.pop();
        compact[32] = 0x80;
        assert_eq!(
            Identity::from_wallet_signature(&compact).unwrap_err(),
            KeyError::WalletSignatureScalar { which: "s" }
        );
    }

    #[test]
    fn the_wallet_message_is_ascii_and_warns() {
        assert!(WALLET_MESSAGE.is_ascii());
        assert!(WALLET_MESSAGE.contains("anyone who obtains this signature can decrypt"));
        assert!(WALLET_MESSAGE.contains("coffer/v1/wallet-identity"));
    }
}
