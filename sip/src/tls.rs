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
/// PKCS#8, PKCS#1 RSA or SEC1 EC) and builds a TLS 1.3 and 1.2 server configuration with the
/// ALPN protocols `alpn` (e.g. `["http/1.1"]`; empty for none). The files are re-read by
/// [`ReloadingCert::reload_if_changed`] (see [`reloading`] and [`server_config_with`]).
///
/// Errors: [`TlsError::Read`] when a file cannot be read, [`TlsError::Empty`] when it holds
/// no certificate/key, [`TlsError::Mismatch`] when the key is not the certificate's.
pub fn server_config(cert: &Path, key: &Path, alpn: &[&[u8]]) -> Result<ServerTls, TlsError> {
    Ok(server_config_with(reloading(cert, key)?, alpn))
}

/// The certificate and key of `cert`/`key` (as [`server_config`] reads them), re-readable.
///
/// Errors: as [`server_config`].
pub fn reloading(cert: &Path, key: &Path) -> Result<Arc<ReloadingCert>, TlsError> {
    let files = (cert.to_path_buf(), key.to_path_buf());
    let pems = read_pems(&files)?;
    let certified = certified_key(&files, &pems)?;
    Ok(Arc::new(ReloadingCert {
        files,
        current: std::sync::RwLock::new(Arc::new(certified)),
        loaded: std::sync::Mutex::new(pems),
    }))
}

/// A TLS 1.3 and 1.2 server configuration (`rustls::DEFAULT_VERSIONS`: 1.2 for the API's older
/// clients; RFC 8446, RFC 5246 with rustls's AEAD-only ECDHE suites) serving `cert`'s current certificate (so a reload takes
/// effect from the next handshake), with the ALPN protocols `alpn`.
pub fn server_config_with(cert: Arc<ReloadingCert>, alpn: &[&[u8]]) -> ServerTls {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .expect("the ring provider supports the default versions")
        .with_no_client_auth()
        .with_cert_resolver(cert);
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate and key from files, re-read on demand: a renewed certificate (Let's
/// Encrypt renews every 60 days) is served from the next handshake without a restart.
#[derive(Debug)]
pub struct ReloadingCert {
    files: (PathBuf, PathBuf),
    current: std::sync::RwLock<Arc<rustls::sign::CertifiedKey>>,
    /// The PEM text of the certificate and key being served.
    loaded: std::sync::Mutex<(Vec<u8>, Vec<u8>)>,
}

impl ReloadingCert {
    /// Re-reads the two files; when their text differs from what is served and they make a
    /// valid pair, serves them from the next handshake: `Ok(true)`. Unchanged: `Ok(false)`.
    ///
    /// Errors: as [`server_config`]; the served pair is then kept (a renewal caught between
    /// writing the certificate and the key succeeds at the next call).
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let pems = read_pems(&self.files)?;
        if self.loaded.lock().map(|l| *l == pems).unwrap_or(false) {
            return Ok(false);
        }
        let certified = certified_key(&self.files, &pems)?;
        if let Ok(mut c) = self.current.write() {
            *c = Arc::new(certified);
        }
        if let Ok(mut l) = self.loaded.lock() {
            *l = pems;
        }
        Ok(true)
    }

    /// The certificate chain being served (DER, the server's own first).
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.current
            .read()
            .map(|c| c.cert.clone())
            .unwrap_or_default()
    }

    /// The certificate and key files.
    pub fn files(&self) -> (&Path, &Path) {
        (&self.files.0, &self.files.1)
    }
}

impl rustls::server::ResolvesServerCert for ReloadingCert {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.current.read().ok().map(|c| c.clone())
    }
}

fn read_pems((cert, key): &(PathBuf, PathBuf)) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
    let read = |what: &'static str, path: &Path| {
        std::fs::read(path).map_err(|e| TlsError::Read {
            what,
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    };
    Ok((read("certificate", cert)?, read("private key", key)?))
}

fn certified_key(
    (cert, key): &(PathBuf, PathBuf),
    (cert_pem, key_pem): &(Vec<u8>, Vec<u8>),
) -> Result<rustls::sign::CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Empty {
            what: "certificate",
            path: cert.clone(),
            expected: "BEGIN CERTIFICATE",
            reason: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Empty {
            what: "certificate",
            path: cert.clone(),
            expected: "BEGIN CERTIFICATE",
            reason: "no section found".into(),
        });
    }
    let private = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Empty {
        what: "private key",
        path: key.clone(),
        expected: "BEGIN PRIVATE KEY, BEGIN RSA PRIVATE KEY or BEGIN EC PRIVATE KEY",
        reason: e.to_string(),
    })?;
    rustls::sign::CertifiedKey::from_der(chain, private, &provider()).map_err(|e| {
        TlsError::Mismatch {
            cert: cert.clone(),
            key: key.clone(),
            reason: e.to_string(),
        }
    })
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

    /// Runs a handshake in memory between a client limited to `version` and our server:
    /// the version negotiated, or the error.
    fn handshake(
        server: ServerTls,
        cert: &Path,
        version: &'static rustls::SupportedProtocolVersion,
    ) -> Result<rustls::ProtocolVersion, rustls::Error> {
        use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(cert).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let client = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut c = rustls::ClientConnection::new(
            Arc::new(client),
            ServerName::try_from("localhost").unwrap(),
        )
        .unwrap();
        let mut s = rustls::ServerConnection::new(server).unwrap();
        for _ in 0..10 {
            let mut buf = Vec::new();
            while c.wants_write() {
                c.write_tls(&mut buf).unwrap();
            }
            s.read_tls(&mut buf.as_slice()).unwrap();
            s.process_new_packets()?;
            let mut buf = Vec::new();
            while s.wants_write() {
                s.write_tls(&mut buf).unwrap();
            }
            c.read_tls(&mut buf.as_slice()).unwrap();
            c.process_new_packets()?;
            if !c.is_handshaking() && !s.is_handshaking() {
                return Ok(s.protocol_version().unwrap());
            }
        }
        panic!("the handshake did not finish")
    }

    #[test]
    fn clients_speaking_tls_1_3_or_only_1_2_are_served() {
        let d = dir("versions");
        let (cert, key) = pair(&d.0, "v");
        let server = server_config(&cert, &key, &[b"http/1.1"]).unwrap();
        assert_eq!(
            handshake(server.clone(), &cert, &rustls::version::TLS13),
            Ok(rustls::ProtocolVersion::TLSv1_3)
        );
        assert_eq!(
            handshake(server, &cert, &rustls::version::TLS12),
            Ok(rustls::ProtocolVersion::TLSv1_2)
        );
    }

    #[test]
    fn a_matching_pair_loads() {
        let d = dir("ok");
        let (cert, key) = pair(&d.0, "a");
        let cfg = server_config(&cert, &key, &[b"http/1.1"]).unwrap();
        assert_eq!(cfg.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn a_renewed_certificate_is_served_after_a_reload_and_a_bad_one_is_not() {
        let d = dir("reload");
        let (cert, key) = pair(&d.0, "live");
        let (new_cert, new_key) = pair(&d.0, "renewed");
        let r = reloading(&cert, &key).unwrap();
        let first = r.chain();
        assert!(!r.reload_if_changed().unwrap(), "nothing changed");
        // The renewal writes the certificate first: a mismatched pair is refused and the
        // served one kept.
        std::fs::copy(&new_cert, &cert).unwrap();
        let e = r.reload_if_changed().unwrap_err().to_string();
        assert!(e.contains("cannot be used together"), "{e}");
        assert_eq!(r.chain(), first, "still the old certificate");
        // Then the key: the new pair is served from now on.
        std::fs::copy(&new_key, &key).unwrap();
        assert!(r.reload_if_changed().unwrap());
        assert_ne!(r.chain(), first);
        let renewed = reloading(&new_cert, &new_key).unwrap().chain();
        assert_eq!(r.chain(), renewed);
        assert!(!r.reload_if_changed().unwrap());
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
