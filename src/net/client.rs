//! Building an HTTP client: the single place a `reqwest::Client` is configured.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// What may differ between Sluice's HTTP clients. Everything else is the same for all:
/// rustls, Sluice's user agent, redirects never followed (one could carry a credential to
/// another host; pagination links are followed explicitly after an origin check), and proxies
/// taken from the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`).
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The longest a TCP and TLS connection may take.
    pub connect_timeout: Duration,
    /// The longest a whole request may take, body included.
    pub timeout: Duration,
    /// A PEM file whose certificates are all trusted, beside the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Certificates trusted beside the system's roots, already read.
    pub roots: Vec<reqwest::Certificate>,
    /// A client certificate and its key (mutual TLS), as PEM files.
    pub identity: Option<(PathBuf, PathBuf)>,
    /// Accept any server certificate. Callers warn loudly when they set it.
    pub insecure_skip_verify: bool,
}

impl ClientOptions {
    /// Options with the given total timeout and a connect timeout of at most 10 seconds.
    pub fn new(timeout: Duration) -> Self {
        ClientOptions {
            connect_timeout: timeout.min(Duration::from_secs(10)),
            timeout,
            ca_file: None,
            roots: Vec::new(),
            identity: None,
            insecure_skip_verify: false,
        }
    }

    /// Builds the client.
    pub fn build(&self) -> Result<reqwest::Client, NetError> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none());
        let from_file = match &self.ca_file {
            Some(path) => ca_bundle(path)?,
            None => Vec::new(),
        };
        for root in from_file.into_iter().chain(self.roots.iter().cloned()) {
            builder = builder.add_root_certificate(root);
        }
        if let Some((cert, key)) = &self.identity {
            builder = builder.identity(identity(cert, key)?);
        }
        if self.insecure_skip_verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        builder
            .build()
            .map_err(|err| NetError::Build(super::describe(&err)))
    }
}

/// Every certificate of the PEM bundle at `path`: a server's chain may end at any of them, so
/// keeping only the first would refuse servers the file was given to trust.
pub fn ca_bundle(path: &Path) -> Result<Vec<reqwest::Certificate>, NetError> {
    let pem = std::fs::read(path).map_err(|e| NetError::CaFile {
        path: path.to_path_buf(),
        detail: format!("cannot read it: {e}"),
        hint: "give the path of a PEM file; a relative path is relative to the config file",
    })?;
    let certificates =
        reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| NetError::CaFile {
            path: path.to_path_buf(),
            detail: format!("not a PEM certificate bundle: {}", super::describe(&e)),
            hint: "give the CA certificate(s) as -----BEGIN CERTIFICATE----- blocks",
        })?;
    if certificates.is_empty() {
        return Err(NetError::CaFile {
            path: path.to_path_buf(),
            detail: "holds no PEM certificate".into(),
            hint: "give the CA certificate(s) that signed the server's, as -----BEGIN CERTIFICATE----- blocks",
        });
    }
    Ok(certificates)
}

/// The client certificate and key of mutual TLS, from two PEM files.
fn identity(cert: &Path, key: &Path) -> Result<reqwest::Identity, NetError> {
    let read = |field: &'static str, path: &Path| {
        std::fs::read(path).map_err(|e| NetError::Identity {
            detail: format!("{field} {}: {e}", path.display()),
            hint: "give the path of a PEM file",
        })
    };
    let mut pem = read("client_cert", cert)?;
    pem.push(b'\n');
    pem.extend(read("client_key", key)?);
    reqwest::Identity::from_pem(&pem).map_err(|e| NetError::Identity {
        detail: format!(
            "client_cert {} / client_key {}: not a PEM certificate and private key: {}",
            cert.display(),
            key.display(),
            super::describe(&e)
        ),
        hint: "the certificate file holds BEGIN CERTIFICATE blocks, the key file one BEGIN PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block",
    })
}

/// Why a client could not be built. The text names the file and says what to do; callers
/// prefix the setting's owner (`http.`, the sink's name).
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// `ca_file` cannot be read or holds no certificate.
    #[error("ca_file {}: {detail} (hint: {hint})", path.display())]
    CaFile {
        /// The file, as configured.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
        /// What to do.
        hint: &'static str,
    },
    /// The client certificate or its key cannot be read or used.
    #[error("{detail} (hint: {hint})")]
    Identity {
        /// What is wrong, naming the files.
        detail: String,
        /// What to do.
        hint: &'static str,
    },
    /// The TLS library refused the settings.
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_without_certificates_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let mut options = ClientOptions::new(Duration::from_secs(5));
        options.ca_file = Some(path.clone());
        let err = options.build().unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("ca_file {}: ", path.display())) && err.contains("hint:"),
            "{err}"
        );
        options.ca_file = Some(dir.path().join("missing.pem"));
        let err = options.build().unwrap_err().to_string();
        assert!(
            err.contains("missing.pem") && err.contains("cannot read"),
            "{err}"
        );
    }
}
