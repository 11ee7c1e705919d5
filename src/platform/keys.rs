//! Key pairs for a test application of the signed-JWT (application-restricted) pattern: an RSA
//! private key to sign client assertions with, and the public half as PEM and as a JWKS, which
//! the scenario's `applications:` registers (`jwks:` or `public_key:` with `kid:`).
//!
//! The NHS API platform asks for a 4096-bit RSA key and RS512 assertions; the JWKS names `RS512`
//! as the key's algorithm and `sig` as its use, as the platform's own instructions show.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;

/// RSA modulus sizes the command accepts (the platform asks for 4096).
pub(crate) const BITS: [usize; 3] = [2048, 3072, 4096];

/// Why no key pair was written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeysError {
    #[error("--kid '{0}' cannot name files: use letters, digits, '-', '_' or '.' (e.g. test-1)")]
    BadKid(String),
    #[error("--bits {0} is not offered: use 2048, 3072 or 4096 (the platform asks for 4096)")]
    BadBits(usize),
    #[error("{} already exists; give another --kid or --out, or delete it", .0.display())]
    Exists(PathBuf),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("generating the RSA key failed: {0}")]
    Generate(String),
}

/// What was written.
#[derive(Debug, Clone)]
pub(crate) struct KeyFiles {
    /// PKCS#8 private key, PEM (`--client-key` of `spine-sandbox journey`).
    pub private_key: PathBuf,
    /// SubjectPublicKeyInfo, PEM (scenario `public_key:` with `kid:`).
    pub public_key: PathBuf,
    /// JWKS holding the one public key (scenario `jwks:`).
    pub jwks: PathBuf,
}

/// A kid that is safe as a file name and in a JWT header.
fn valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= 64
        && !kid.starts_with('.')
        && kid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The JWKS document for one RSA public key.
pub(crate) fn jwks(kid: &str, public: &rsa::PublicKey) -> serde_json::Value {
    serde_json::json!({
        "keys": [{
            "kty": "RSA",
            "n": URL_SAFE_NO_PAD.encode(public.n_bytes()),
            "e": URL_SAFE_NO_PAD.encode(public.e_bytes()),
            "alg": "RS512",
            "kid": kid,
            "use": "sig",
        }]
    })
}

/// Makes a fresh RSA key pair of `bits` and writes `<kid>.key.pem`, `<kid>.pub.pem` and
/// `<kid>.jwks.json` into `out` (created if missing). Nothing is overwritten: if any of the
/// three exists, nothing is written.
pub(crate) fn write_key_pair(out: &Path, kid: &str, bits: usize) -> Result<KeyFiles, KeysError> {
    if !valid_kid(kid) {
        return Err(KeysError::BadKid(kid.to_owned()));
    }
    if !BITS.contains(&bits) {
        return Err(KeysError::BadBits(bits));
    }
    let files = KeyFiles {
        private_key: out.join(format!("{kid}.key.pem")),
        public_key: out.join(format!("{kid}.pub.pem")),
        jwks: out.join(format!("{kid}.jwks.json")),
    };
    for path in [&files.private_key, &files.public_key, &files.jwks] {
        if path.exists() {
            return Err(KeysError::Exists(path.clone()));
        }
    }
    let private = rsa::PrivateKey::new(&mut getrandom::SysRng, bits)
        .map_err(|e| KeysError::Generate(e.to_string()))?;
    let public = private.to_public_key();
    let private_pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeysError::Generate(e.to_string()))?;
    let public_pem = public
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| KeysError::Generate(e.to_string()))?;
    let mut jwks_text = serde_json::to_string_pretty(&jwks(kid, &public))
        .map_err(|e| KeysError::Generate(e.to_string()))?;
    jwks_text.push('\n');

    std::fs::create_dir_all(out).map_err(|source| KeysError::Write {
        path: out.to_owned(),
        source,
    })?;
    write_new(&files.private_key, private_pem.as_bytes(), true)?;
    write_new(&files.public_key, public_pem.as_bytes(), false)?;
    write_new(&files.jwks, jwks_text.as_bytes(), false)?;
    Ok(files)
}

/// Creates `path` (failing if it exists); a private key is readable by its owner only.
fn write_new(path: &Path, bytes: &[u8], private: bool) -> Result<(), KeysError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let fail = |source| KeysError::Write {
        path: path.to_owned(),
        source,
    };
    let mut file = options.open(path).map_err(fail)?;
    file.write_all(bytes).map_err(fail)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn kids_that_cannot_name_files_are_refused() {
        for kid in ["", "../x", "a/b", ".hidden", "a b", "é"] {
            assert!(!valid_kid(kid), "{kid:?}");
        }
        for kid in ["test-1", "app_2.key", "K"] {
            assert!(valid_kid(kid), "{kid:?}");
        }
    }

    #[test]
    fn unsupported_sizes_are_refused_before_any_work() {
        let dir = std::env::temp_dir().join(format!("keys-bits-{}", std::process::id()));
        let err = write_key_pair(&dir, "k", 1024).unwrap_err();
        assert!(err.to_string().contains("2048, 3072 or 4096"), "{err}");
        assert!(!dir.exists());
    }
}
