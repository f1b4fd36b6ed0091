//! `coffer demo`: the whole story on a temporary directory, narrated.

use std::io::Write;

use coffer::Identity;
use coffer::block;
use coffer::seal::{self, RangeReader, SealError, SealOptions};

use crate::{CliError, CliResult};

fn step(n: u32, text: &str) {
    println!("\n[{n}] {text}");
}

/// `coffer demo`.
pub fn run() -> CliResult {
    let dir = tempfile::tempdir()
        .map_err(|e| CliError::other(format!("cannot create a temp dir: {e}")))?;
    println!(
        "coffer demo: everything happens in {} (removed at the end)",
        dir.path().display()
    );

    step(
        1,
        "Two identities: Alice (the sender) and Bob (the recipient).",
    );
    let alice = Identity::generate();
    let bob = Identity::generate();
    println!("    alice: {}", alice.recipient());
    println!("    bob:   {}", bob.recipient());

    step(2, "Alice seals a 300 KiB file for Bob and signs it.");
    let plain: Vec<u8> = (0..300 * 1024u32).map(|i| (i % 251) as u8).collect();
    let opts = SealOptions::new(vec![bob.recipient().clone()]).signed_by(&alice);
    let sealed = seal::seal_to_vec(&opts, &plain)?;
    let path = dir.path().join("report.bin.coffer");
    std::fs::write(&path, &sealed).map_err(|e| CliError::io(&path, e))?;
    println!(
        "    {} plaintext bytes → {} sealed bytes ({} segments of 64 KiB, {} bytes of header)",
        plain.len(),
        sealed.len(),
        plain.len().div_ceil(65536),
        seal::Header::parse(&sealed)?.len()
    );

    step(
        3,
        "What a storage server sees: opaque bytes named by their content (CIDv1, BLAKE3).",
    );
    let cid = block::raw_cid(&sealed);
    println!("    cid:    {cid}");
    println!("    blake3: {}", blake3::hash(&sealed).to_hex());

    step(
        4,
        "Bob reads bytes 100000..100016 only: one segment is fetched and authenticated.",
    );
    let file = std::fs::File::open(&path).map_err(|e| CliError::io(&path, e))?;
    let reader = RangeReader::new(file, &bob)?;
    let ct = reader.opened_header().ciphertext_range(100_000..100_016)?;
    let part = reader.read_range(100_000..100_016)?;
    println!(
        "    read {} of {} sealed bytes; plaintext {:?}",
        ct.end - ct.start,
        sealed.len(),
        part
    );
    assert_eq!(part, &plain[100_000..100_016], "range read mismatch");

    step(5, "Bob opens the whole file and learns who sealed it.");
    let opened = seal::open_to_vec(&bob, &sealed)?;
    let same = opened.plaintext == plain;
    let signer = opened
        .signer
        .map(|s| s.to_string())
        .unwrap_or_else(|| "(unsigned)".into());
    println!(
        "    {} bytes, identical to the original: {same}",
        opened.plaintext.len()
    );
    println!(
        "    signed by alice: {}",
        signer == alice.recipient().to_string()
    );

    step(
        6,
        "A server that flips one bit, cuts the file or hands it to Eve gets caught.",
    );
    let mut flipped = sealed.clone();
    flipped[200_000] ^= 0x04;
    report("one bit flipped", seal::open_to_vec(&bob, &flipped).err());
    report(
        "last 1000 bytes cut",
        seal::open_to_vec(&bob, &sealed[..sealed.len() - 1000]).err(),
    );
    report(
        "opened by Eve",
        seal::open_to_vec(&Identity::generate(), &sealed).err(),
    );

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "\nDone. Next: `coffer keygen -o me.key`, then `coffer seal -i me.key FILE FILE.coffer`."
    )
    .map_err(|e| CliError::other(e.to_string()))?;
    Ok(())
}

fn report(what: &str, err: Option<SealError>) {
    match err {
        Some(e) => println!("    {what:<22} → refused: {e}"),
        None => println!("    {what:<22} → ACCEPTED (this is a bug)"),
    }
}
