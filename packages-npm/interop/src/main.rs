//! `coffer-npm-interop write|read <prefix>`: the vault `interop` on S3 (COFFER_TEST_S3_*, AWS_*)
//! under `<prefix>`, as device `rust`, identity from COFFER_INTEROP_IDENTITY.
//! - `write` puts `from-rust.txt` ("hello from rust") and `from-rust.bin` (2.5 MiB pattern).
//! - `read` syncs and prints `{ "text": …, "bin_len": …, "bin_blake3": … }` of `from-js.*`.
use std::sync::Arc;

use coffer::store::s3::{S3Config, S3Credentials, S3Store};
use coffer::vault::{PutOptions, Vault};

fn env(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (mode, prefix) = (args[1].as_str(), args[2].clone());
    let mut c = S3Config::new(env("COFFER_TEST_S3_BUCKET"));
    c.endpoint = Some(env("COFFER_TEST_S3_ENDPOINT"));
    c.region = Some("us-east-1".into());
    c.path_style = true;
    c.prefix = prefix;
    c.credentials = Some(S3Credentials {
        access_key_id: env("AWS_ACCESS_KEY_ID"),
        secret_access_key: zeroize::Zeroizing::new(env("AWS_SECRET_ACCESS_KEY")),
        session_token: None,
    });
    let store = Arc::new(S3Store::connect(c).await?);
    let id: coffer::Identity = env("COFFER_INTEROP_IDENTITY").parse()?;
    let mut v = Vault::open_or_create(store, id, "interop", "rust").await?;
    match mode {
        "write" => {
            v.put(
                b"from-rust.txt",
                b"hello from rust".to_vec(),
                PutOptions::default(),
            )
            .await?;
            let bin: Vec<u8> = (0..(5u32 << 19)).map(|i| (i % 251) as u8).collect();
            v.put(b"from-rust.bin", bin, PutOptions::default()).await?;
            println!("{{\"ok\":true}}");
        }
        "read" => {
            v.sync().await?;
            let text = String::from_utf8(v.get(b"from-js.txt").await?)?;
            let bin = v.get(b"from-js.bin").await?;
            let range = v.get_range(b"from-js.bin", 1_000_000..1_000_010).await?;
            println!(
                "{}",
                serde_json::json!({
                    "text": text,
                    "bin_len": bin.len(),
                    "bin_blake3": blake3::hash(&bin).to_hex().to_string(),
                    "range": range,
                })
            );
        }
        _ => return Err("usage: coffer-npm-interop write|read <prefix>".into()),
    }
    Ok(())
}
