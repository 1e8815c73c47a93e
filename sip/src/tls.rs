//! TLS server settings from PEM files, for the console's HTTPS and the softphone's WSS
//! (RFC 7118 §3: SIP over secure WebSocket). Browsers give a page the microphone only in a
//! secure context and let an `https://` page open only `wss://`, so an operator on another
//! machine needs both, terminated here with rustls (ring provider).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A TLS server configuration shared by the listeners that use one certificate.
pub type ServerTls = Arc<rustls::ServerConfig>;

/// Why a certificate and key could not be used; each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file could not be read (missing, no permission).
    #[error("cannot read TLS {what} {path}: {reason}")]
    Read {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The file was read but holds no PEM item of the kind needed (or bad PEM).
    #[error("no {what} in {path} (expected PEM: {expected}): {reason}")]
    Empty {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The PEM sections looked for.
        expected: &'static str,
        /// What the PEM reader said.
        reason: String,
    },
    /// rustls refused the pair: the key does not belong to the certificate, or an
    /// unsupported key type.
    #[error("TLS certificate {cert} and private key {key} cannot be used together: {reason}")]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's reason.
        reason: String,
    },
}

/// Reads a certificate chain (`cert`: PEM `CERTIFICATE` sections, the server's own first,
/// then intermediates, as Let's Encrypt's `fullchain.pem`) and its private key (`key`: PEM
/// PKCS#8, PKCS#1 RSA or SEC1 EC) and builds a TLS 1.3 server configuration with the
/// ALPN protocols `alpn` (e.g. `["http/1.1"]`; empty for none).
///
/// Errors: [`TlsError::Read`] when a file cannot be read, [`TlsError::Empty`] when it holds
/// no certificate/key, [`TlsError::Mismatch`] when the key is not the certificate's.
pub fn server_config(cert: &Path, key: &Path, alpn: &[&[u8]]) -> Result<ServerTls, TlsError> {
    let read = |what: &'static str, path: &Path| {
        std::fs::read(path).map_err(|e| TlsError::Read {
            what,
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    };
    let cert_pem = read("certificate", cert)?;
    let key_pem = read("private key", key)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Empty {
            what: "certificate",
            path: cert.to_path_buf(),
            expected: "BEGIN CERTIFICATE",
            reason: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Empty {
            what: "certificate",
            path: cert.to_path_buf(),
            expected: "BEGIN CERTIFICATE",
            reason: "no section found".into(),
        });
    }
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Empty {
        what: "private key",
        path: key.to_path_buf(),
        expected: "BEGIN PRIVATE KEY, BEGIN RSA PRIVATE KEY or BEGIN EC PRIVATE KEY",
        reason: e.to_string(),
    })?;
    let mismatch = |e: rustls::Error| TlsError::Mismatch {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        reason: e.to_string(),
    };
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(mismatch)?
    .with_no_client_auth()
    .with_single_cert(chain, private)
    .map_err(mismatch)?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn dir(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("zvonar-tls-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    fn pair(d: &Path, stem: &str) -> (PathBuf, PathBuf) {
        let c = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let (cert, key) = (d.join(format!("{stem}.crt")), d.join(format!("{stem}.key")));
        std::fs::write(&cert, c.cert.pem()).unwrap();
        std::fs::write(&key, c.signing_key.serialize_pem()).unwrap();
        (cert, key)
    }

    #[test]
    fn a_matching_pair_loads() {
        let d = dir("ok");
        let (cert, key) = pair(&d.0, "a");
        let cfg = server_config(&cert, &key, &[b"http/1.1"]).unwrap();
        assert_eq!(cfg.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn errors_name_the_file() {
        let d = dir("bad");
        let (cert, key) = pair(&d.0, "a");
        let (_, other_key) = pair(&d.0, "b");
        let missing = d.0.join("missing.pem");
        let e = server_config(&missing, &key, &[]).unwrap_err().to_string();
        assert!(
            e.contains("certificate") && e.contains("missing.pem"),
            "{e}"
        );
        let e = server_config(&cert, &missing, &[]).unwrap_err().to_string();
        assert!(
            e.contains("private key") && e.contains("missing.pem"),
            "{e}"
        );
        // A key file given as the certificate and the other way round.
        let e = server_config(&key, &key, &[]).unwrap_err().to_string();
        assert!(
            e.starts_with("no certificate in") && e.contains("a.key"),
            "{e}"
        );
        let e = server_config(&cert, &cert, &[]).unwrap_err().to_string();
        assert!(
            e.starts_with("no private key in") && e.contains("a.crt"),
            "{e}"
        );
        let e = server_config(&cert, &other_key, &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cannot be used together") && e.contains("a.crt") && e.contains("b.key"),
            "{e}"
        );
    }
}
