//! The one builder from `tls_config` to a `rustls::ClientConfig` (and an HTTPS connector),
//! used by scrapes, the Kubernetes client and remote write alike.
//!
//! No process-wide crypto provider is installed or needed: every config is built with ring's
//! provider explicitly.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use super::config::{TlsConfig, TlsVersion};

/// Why a TLS client could not be set up: an unreadable or invalid CA, certificate or key.
/// Texts follow Prometheus' (`unable to read CA cert: …`, `unable to use specified CA cert …`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(pub String);

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The PEM of an inline value or a file, and how Prometheus describes its origin.
fn read_pem(inline: &str, file: &str, what: &str) -> Result<Option<(Vec<u8>, String)>, TlsError> {
    if !inline.is_empty() {
        return Ok(Some((inline.as_bytes().to_vec(), "inline".to_owned())));
    }
    if file.is_empty() {
        return Ok(None);
    }
    std::fs::read(file)
        .map(|b| Some((b, file.to_owned())))
        .map_err(|e| TlsError(format!("unable to read {what}: open {file}: {e}")))
}

fn certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

/// What a `tls_config` resolves to once its files are read: trust roots, client identity,
/// verification mode and protocol versions. Kubernetes' kubeconfig files resolve to the same
/// thing, so that one builder ([`TlsMaterial::client_config`]) serves every client.
#[derive(Debug)]
pub struct TlsMaterial {
    /// The CA certificates to trust; `None` means the bundled web PKI roots.
    pub roots: Option<Vec<CertificateDer<'static>>>,
    /// The client certificate chain and key, if the server may ask for one.
    pub client_auth: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    /// Accept any server certificate (handshake signatures are still checked).
    pub insecure_skip_verify: bool,
    /// The lowest protocol version offered (`None`: TLS 1.2).
    pub min_version: Option<TlsVersion>,
    /// The highest protocol version offered (`None`: TLS 1.3).
    pub max_version: Option<TlsVersion>,
}

impl TlsMaterial {
    /// Reads the CA and client certificate/key of `cfg` (inline or from files).
    pub fn load(cfg: &TlsConfig) -> Result<Self, TlsError> {
        let roots = match read_pem(&cfg.ca, &cfg.ca_file, "CA cert")? {
            Some((pem, origin)) => {
                let roots = certs(&pem).map_err(|e| {
                    TlsError(format!("unable to use specified CA cert {origin}: {e}"))
                })?;
                if roots.is_empty() {
                    return Err(TlsError(format!(
                        "unable to use specified CA cert {origin}"
                    )));
                }
                Some(roots)
            }
            None => None,
        };
        let cert = read_pem(&cfg.cert, &cfg.cert_file, "specified client cert")?;
        let key = read_pem(cfg.key.expose(), &cfg.key_file, "specified client key")?;
        let client_auth = match (cert, key) {
            (Some((cert, cert_origin)), Some((key, key_origin))) => {
                let bad = |e: &dyn std::fmt::Display| {
                    TlsError(format!(
                        "unable to use specified client cert ({cert_origin}) & key ({key_origin}): {e}"
                    ))
                };
                let chain = certs(&cert).map_err(|e| bad(&e))?;
                if chain.is_empty() {
                    return Err(bad(&"no certificate found"));
                }
                let key = rustls_pemfile::private_key(&mut &key[..])
                    .map_err(|e| bad(&e))?
                    .ok_or_else(|| bad(&"no private key found"))?;
                Some((chain, key))
            }
            _ => None,
        };
        Ok(TlsMaterial {
            roots,
            client_auth,
            insecure_skip_verify: cfg.insecure_skip_verify,
            min_version: cfg.min_version,
            max_version: cfg.max_version,
        })
    }

    /// The protocol versions between `min_version` and `max_version` that rustls speaks.
    pub(crate) fn versions(
        &self,
    ) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, TlsError> {
        let min = self.min_version.unwrap_or(TlsVersion::Tls12);
        let max = self.max_version.unwrap_or(TlsVersion::Tls13);
        let mut out = Vec::new();
        if min <= TlsVersion::Tls12 && max >= TlsVersion::Tls12 {
            out.push(&rustls::version::TLS12);
        }
        if max >= TlsVersion::Tls13 {
            out.push(&rustls::version::TLS13);
        }
        if out.is_empty() {
            return Err(TlsError(format!(
                "no TLS version between min_version {min} and max_version {max} is supported"
            )));
        }
        Ok(out)
    }

    /// The `rustls::ClientConfig`: verification by the configured CA (with Go's acceptance of
    /// that CA presented as the server's own certificate, see [`CaLeafVerifier`]), the web
    /// PKI roots, or none (`insecure_skip_verify`); the client certificate if any.
    pub fn client_config(self) -> Result<rustls::ClientConfig, TlsError> {
        let provider = provider();
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&self.versions()?)
            .map_err(|e| TlsError(format!("tls: {e}")))?;
        let builder = if self.insecure_skip_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(InsecureVerifier::new(provider)))
        } else {
            match self.roots {
                Some(roots) => builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(CaLeafVerifier::new(
                        roots, provider,
                    )?)),
                None => {
                    let mut roots = rustls::RootCertStore::empty();
                    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                    builder.with_root_certificates(roots)
                }
            }
        };
        match self.client_auth {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| TlsError(format!("unable to use specified client cert & key: {e}"))),
            None => Ok(builder.with_no_client_auth()),
        }
    }
}

/// Builds the `rustls::ClientConfig` of `cfg`, reading its files now.
pub fn client_config(cfg: &TlsConfig) -> Result<rustls::ClientConfig, TlsError> {
    TlsMaterial::load(cfg)?.client_config()
}

/// `tls_config.server_name` as rustls wants it (`None` when unset: the URL's host is used).
pub fn server_name(cfg: &TlsConfig) -> Result<Option<ServerName<'static>>, TlsError> {
    if cfg.server_name.is_empty() {
        return Ok(None);
    }
    ServerName::try_from(cfg.server_name.clone())
        .map(Some)
        .map_err(|e| {
            TlsError(format!(
                "invalid tls_config.server_name {:?}: {e}",
                cfg.server_name
            ))
        })
}

/// An HTTP-or-HTTPS connector over `inner` with `tls`'s TLS settings (and `server_name`), as
/// every client of Scrapeline uses it. `enable_http2` lets ALPN negotiate HTTP/2 over TLS.
pub fn https_connector<H>(
    tls: rustls::ClientConfig,
    server_name: Option<ServerName<'static>>,
    inner: H,
    enable_http2: bool,
) -> hyper_rustls::HttpsConnector<H> {
    let b = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http();
    let b = match server_name {
        Some(name) => b.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name)),
        None => b,
    };
    if enable_http2 {
        b.enable_all_versions().wrap_connector(inner)
    } else {
        b.enable_http1().wrap_connector(inner)
    }
}

/// The verifier behind `tls_config.insecure_skip_verify`: accepts any server certificate but
/// still checks handshake signatures, as Go's `InsecureSkipVerify` does. The one dangerous
/// path, in one place.
#[derive(Debug)]
pub struct InsecureVerifier(Arc<rustls::crypto::CryptoProvider>);

impl InsecureVerifier {
    /// A verifier checking signatures with `provider`'s algorithms.
    pub fn new(provider: Arc<rustls::crypto::CryptoProvider>) -> Self {
        InsecureVerifier(provider)
    }
}

impl rustls::client::danger::ServerCertVerifier for InsecureVerifier {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The verifier behind `tls_config.ca`/`ca_file`: rustls' WebPKI verifier, plus Go's
/// acceptance of a configured CA certificate presented as the server's own certificate.
///
/// Internal exporters often serve one self-signed certificate that carries `CA:TRUE` and is
/// also what `ca_file` points at. WebPKI refuses it as an end entity (`CaUsedAsEndEntity`);
/// Go's `crypto/x509` does not (a leaf that is itself in the root pool is a complete chain),
/// so Prometheus scrapes such targets. This verifier accepts them too, but only when the
/// presented certificate is byte-identical to one of the configured roots: any other CA
/// certificate (one that chains to a root, or an unknown one) keeps WebPKI's refusal,
/// `invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))`. Validity in time is
/// checked: WebPKI checks it before the basic constraints, so `CaUsedAsEndEntity` means the
/// dates were fine. The host name is checked again here. Handshake signatures are verified
/// with the certificate's key as always. Not checked for such a certificate: its extended key
/// usage (WebPKI stops at the basic constraints before it).
#[derive(Debug)]
pub struct CaLeafVerifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    roots: Vec<CertificateDer<'static>>,
}

impl CaLeafVerifier {
    /// A verifier trusting `roots`, checking signatures with `provider`'s algorithms.
    pub fn new(
        roots: Vec<CertificateDer<'static>>,
        provider: Arc<rustls::crypto::CryptoProvider>,
    ) -> Result<Self, TlsError> {
        let mut store = rustls::RootCertStore::empty();
        for c in &roots {
            store
                .add(c.clone())
                .map_err(|e| TlsError(format!("unable to use specified CA cert: {e}")))?;
        }
        let inner =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider)
                .build()
                .map_err(|e| TlsError(format!("tls: {e}")))?;
        Ok(CaLeafVerifier { inner, roots })
    }
}

/// Whether `e` is WebPKI's refusal of a CA certificate as the server's own certificate.
fn is_ca_used_as_end_entity(e: &rustls::Error) -> bool {
    match e {
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(o)) => {
            let src: &(dyn std::error::Error + 'static) = &*o.0;
            matches!(
                src.downcast_ref::<webpki::Error>(),
                Some(webpki::Error::CaUsedAsEndEntity)
            )
        }
        _ => false,
    }
}

impl rustls::client::danger::ServerCertVerifier for CaLeafVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(e)
                if is_ca_used_as_end_entity(&e)
                    && self.roots.iter().any(|r| r.as_ref() == end_entity.as_ref()) =>
            {
                let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
                rustls::client::verify_server_name(&parsed, server_name)?;
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
