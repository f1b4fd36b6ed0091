//! Access to the gateway: one access key and secret, created on the first start and kept in the
//! state directory (mode 0600) as an AWS shared-credentials file, so clients can point
//! `AWS_SHARED_CREDENTIALS_FILE` at it. Every request must be signed (SigV4 in headers or a
//! presigned query string; s3s checks the signature, this module answers the secret).

use std::io::Write;
use std::path::Path;

use s3s::S3Result;
use s3s::auth::{S3Auth, SecretKey};
use zeroize::Zeroizing;

use super::error::{GatewayError, GatewayResult, s3};

/// The profile name in the credentials file.
pub const PROFILE: &str = "coffer-gateway";

/// The gateway's access key id and secret. `Debug` shows the key id only.
#[derive(Clone)]
pub struct Credentials {
    access_key_id: String,
    secret_access_key: Zeroizing<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Credentials from a key id and a secret.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: Zeroizing::new(secret_access_key.into()),
        }
    }

    /// New random credentials: a 20-character key id starting `CFR` and a 40-character secret
    /// (240 random bits).
    pub fn generate() -> Self {
        let mut id = [0u8; 11];
        crate::keys::fill_random(&mut id);
        let mut secret = Zeroizing::new([0u8; 30]);
        crate::keys::fill_random(secret.as_mut());
        let id = data_encoding::BASE32_NOPAD.encode(&id);
        Self {
            access_key_id: format!("CFR{}", id.get(..17).unwrap_or(&id)),
            secret_access_key: Zeroizing::new(
                data_encoding::BASE64URL_NOPAD.encode(secret.as_ref()),
            ),
        }
    }

    /// The access key id (not secret).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The secret access key. Treat it like a password.
    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    /// Reads the credentials file at `path`, or creates it with new credentials when there is
    /// none; `true` when it was created. The file is refused when others can read it.
    pub fn load_or_create(path: &Path) -> GatewayResult<(Self, bool)> {
        match Self::load(path) {
            Ok(c) => return Ok((c, false)),
            Err(GatewayError::State { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| GatewayError::state(dir, e))?;
        let creds = Self::generate();
        // NamedTempFile is created with mode 0600.
        let mut tmp =
            tempfile::NamedTempFile::new_in(dir).map_err(|e| GatewayError::state(dir, e))?;
        tmp.write_all(creds.file_contents().as_bytes())
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| GatewayError::state(path, e))?;
        match tmp.persist_noclobber(path) {
            Ok(_) => Ok((creds, true)),
            // Another process created it first: use theirs.
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                Ok((Self::load(path)?, false))
            }
            Err(e) => Err(GatewayError::state(path, e.error)),
        }
    }

    /// Reads a credentials file written by [`Credentials::load_or_create`].
    pub fn load(path: &Path) -> GatewayResult<Self> {
        let text = Zeroizing::new(
            std::fs::read_to_string(path).map_err(|e| GatewayError::state(path, e))?,
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|e| GatewayError::state(path, e))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(GatewayError::BadCredentials {
                    path: path.display().to_string(),
                    detail: format!("others can read it (mode {:o}); chmod 600 it", mode & 0o777),
                });
            }
        }
        let bad = |detail: &str| GatewayError::BadCredentials {
            path: path.display().to_string(),
            detail: detail.to_string(),
        };
        let mut id = None;
        let mut secret = None;
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            match k.trim() {
                "aws_access_key_id" => id = Some(v.trim().to_string()),
                "aws_secret_access_key" => secret = Some(Zeroizing::new(v.trim().to_string())),
                _ => {}
            }
        }
        let id = id
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("no aws_access_key_id"))?;
        let secret = secret
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("no aws_secret_access_key"))?;
        Ok(Self {
            access_key_id: id,
            secret_access_key: secret,
        })
    }

    /// The AWS shared-credentials file form (profile [`PROFILE`]).
    fn file_contents(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "# coffer S3 gateway credentials (keep private; delete to have new ones created)\n\
             [{PROFILE}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            self.access_key_id,
            self.secret_access_key.as_str()
        ))
    }
}

/// What s3s asks for the secret of an access key id.
pub(crate) struct GatewayAuth(pub(crate) Credentials);

#[async_trait::async_trait]
impl S3Auth for GatewayAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        if access_key == self.0.access_key_id {
            Ok(SecretKey::from(self.0.secret_access_key.as_str()))
        } else {
            Err(s3(
                s3s::S3ErrorCode::InvalidAccessKeyId,
                "The AWS access key Id you provided does not exist in our records.",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn created_once_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gw/credentials");
        let (a, created) = Credentials::load_or_create(&path).unwrap();
        assert!(created);
        assert_eq!(a.access_key_id().len(), 20);
        assert_eq!(a.secret_access_key().len(), 40);
        let (b, created) = Credentials::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(a.access_key_id(), b.access_key_id());
        assert_eq!(a.secret_access_key(), b.secret_access_key());
        assert!(!format!("{a:?}").contains(a.secret_access_key()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                Credentials::load(&path),
                Err(GatewayError::BadCredentials { .. })
            ));
        }
    }
}
