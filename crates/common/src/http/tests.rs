//! Validation texts, the authorization header and the TLS builder (certificates generated with
//! the `openssl` CLI; those tests are skipped with a printed reason when it is absent).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use super::tls::{CaLeafVerifier, TlsMaterial, client_config};
use super::*;
use crate::Secret;

fn parse(yaml: &str) -> Result<HttpClientConfig, String> {
    let mut c: HttpClientConfig = serde_saphyr::from_str(yaml).map_err(|e| e.to_string())?;
    c.validate().map_err(|e| e.to_string())?;
    Ok(c)
}

fn err(yaml: &str) -> String {
    parse(yaml).expect_err(yaml)
}

#[test]
fn defaults_are_prometheus_defaults() {
    let c = parse("{}\n").unwrap();
    assert!(c.follow_redirects && c.enable_http2);
    assert!(c.is_default());
    assert_eq!(c, HttpClientConfig::default());
    let c = parse("follow_redirects: false\n").unwrap();
    assert!(!c.follow_redirects && c.enable_http2 && !c.is_default());
}

#[test]
fn prometheus_validation_texts() {
    let cases = [
        (
            "bearer_token: a\nbearer_token_file: b\n",
            "at most one of bearer_token & bearer_token_file must be configured",
        ),
        (
            "basic_auth: {username: u}\nbearer_token: a\n",
            "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
        ),
        (
            "oauth2: {client_id: i, token_url: t}\nbearer_token_file: a\n",
            "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
        ),
        (
            "basic_auth: {username: u, username_file: f}\n",
            "at most one of basic_auth username, username_file & username_ref must be configured",
        ),
        (
            "basic_auth: {password: p, password_file: f}\n",
            "at most one of basic_auth password, password_file & password_ref must be configured",
        ),
        (
            "authorization: {credentials: a}\nbearer_token: b\n",
            "authorization is not compatible with bearer_token & bearer_token_file",
        ),
        (
            "authorization: {credentials: a, credentials_file: f}\n",
            "at most one of authorization credentials & credentials_file must be configured",
        ),
        (
            "authorization: {type: ' BASIC '}\n",
            r#"authorization type cannot be set to "basic", use "basic_auth" instead"#,
        ),
        (
            "authorization: {credentials: a}\nbasic_auth: {username: u}\n",
            "at most one of basic_auth, oauth2 & authorization must be configured",
        ),
        (
            "oauth2: {client_id: i, token_url: t}\nbasic_auth: {username: u}\n",
            "at most one of basic_auth, oauth2 & authorization must be configured",
        ),
        (
            "oauth2: {token_url: t}\n",
            "oauth2 client_id must be configured",
        ),
        (
            "oauth2: {client_id: i}\n",
            "oauth2 token_url must be configured",
        ),
        (
            "oauth2: {client_id: i, token_url: t, client_secret: s, client_secret_file: f}\n",
            "at most one of oauth2 client_secret, client_secret_file & client_secret_ref must be configured",
        ),
        (
            "tls_config: {ca: x, ca_file: y}\n",
            "at most one of ca, ca_file & ca_ref must be configured",
        ),
        (
            "tls_config: {cert: x, cert_file: y, key: k}\n",
            "at most one of cert, cert_file & cert_ref must be configured",
        ),
        (
            "tls_config: {cert: x, key: k, key_file: y}\n",
            "at most one of key and key_file must be configured",
        ),
        (
            "tls_config: {cert_file: c}\n",
            "exactly one of key or key_file must be configured when a client certificate is configured",
        ),
        (
            "tls_config: {key_file: k}\n",
            "exactly one of cert or cert_file must be configured when a client key is configured",
        ),
        (
            "tls_config: {min_version: TLS13, max_version: TLS12}\n",
            "tls_config.max_version must be greater than or equal to tls_config.min_version if both are specified",
        ),
        (
            "proxy_connect_header: {X: [a]}\n",
            "if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured",
        ),
        (
            "proxy_from_environment: true\nproxy_url: http://p\n",
            "if proxy_from_environment is configured, proxy_url must not be configured",
        ),
        (
            "proxy_from_environment: true\nno_proxy: x\n",
            "if proxy_from_environment is configured, no_proxy must not be configured",
        ),
        (
            "no_proxy: x\n",
            "if no_proxy is configured, proxy_url must also be configured",
        ),
    ];
    for (yaml, want) in cases {
        assert_eq!(err(yaml), want, "{yaml}");
    }
}

#[test]
fn unknown_tls_version_is_a_parse_error() {
    let e = err("tls_config: {min_version: TLS9}\n");
    assert!(e.contains("unknown TLS version: TLS9"), "{e}");
    let c = parse("tls_config: {min_version: TLS10, max_version: TLS13}\n").unwrap();
    assert_eq!(c.tls_config.min_version, Some(TlsVersion::Tls10));
}

#[test]
fn unknown_fields_are_named() {
    let e = err("basic_auth: {usrname: u}\n");
    assert!(e.contains("unknown field `usrname`"), "{e}");
    let e = err("tls_config: {cafile: x}\n");
    assert!(e.contains("unknown field `cafile`"), "{e}");
}

#[test]
fn unsupported_options_are_refused_by_name() {
    let cases = [
        (
            "oauth2: {client_id: i, token_url: t}\n",
            "oauth2 is not supported by Scrapeline",
        ),
        (
            "proxy_url: http://p:3128\n",
            "proxy_url is not supported by Scrapeline",
        ),
        (
            "proxy_url: http://p:3128\nno_proxy: a\n",
            "proxy_url is not supported by Scrapeline",
        ),
        (
            "proxy_from_environment: true\n",
            "proxy_from_environment is not supported by Scrapeline",
        ),
        (
            "tls_config: {max_version: TLS11}\n",
            "tls_config.max_version TLS11 is not supported (only TLS12 and TLS13 are)",
        ),
    ];
    for (yaml, want) in cases {
        assert_eq!(err(yaml), want, "{yaml}");
    }
}

#[test]
fn bearer_token_becomes_authorization() {
    let c = parse("bearer_token: t\n").unwrap();
    let a = c.authorization.as_ref().unwrap();
    assert_eq!((a.kind.as_str(), a.credentials.expose()), ("Bearer", "t"));
    assert!(c.bearer_token.is_empty());
    let c = parse("bearer_token_file: /f\n").unwrap();
    assert_eq!(c.authorization.unwrap().credentials_file, "/f");
    let c = parse("authorization: {type: ' Token ', credentials: x}\n").unwrap();
    assert_eq!(c.authorization.unwrap().kind, "Token");
    let c = parse("authorization: {credentials: x}\n").unwrap();
    assert_eq!(c.authorization.unwrap().kind, "Bearer");
}

#[test]
fn secrets_never_show() {
    let c = parse(
        "basic_auth: {username: u, password: pw1}\n\
         tls_config: {cert: c, key: key2}\n\
         proxy_connect_header: {X: [hdr3]}\nproxy_url: http://p\n",
    );
    // proxy_url is refused; parse without validation to see every secret in one value.
    assert!(c.is_err());
    let c: HttpClientConfig = serde_saphyr::from_str(
        "basic_auth: {username: u, password: pw1}\ntls_config: {cert: c, key: key2}\n\
         oauth2: {client_id: i, client_secret: cs4, token_url: t}\n\
         proxy_connect_header: {X: [hdr3]}\nbearer_token: bt5\n",
    )
    .unwrap();
    let shown = format!("{c:?} {c:#?}");
    for s in ["pw1", "key2", "hdr3", "cs4", "bt5"] {
        assert!(!shown.contains(s), "{s} in {shown}");
    }
    assert!(shown.contains("password: <secret>"), "{shown}");
}

#[test]
fn authorization_header_from_each_method() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("cred");
    std::fs::write(&f, "  from-file\n").unwrap();
    let f = f.display().to_string();
    let h = |yaml: &str| {
        let c = parse(yaml).unwrap();
        authorization_header(&c)
            .unwrap()
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(h("{}\n"), None);
    assert_eq!(
        h("basic_auth: {username: user, password: pass}\n").as_deref(),
        Some("Basic dXNlcjpwYXNz")
    );
    assert_eq!(
        h(&format!(
            "basic_auth: {{username: user, password_file: {f}}}\n"
        ))
        .as_deref(),
        Some("Basic dXNlcjpmcm9tLWZpbGU=")
    );
    assert_eq!(h("bearer_token: t\n").as_deref(), Some("Bearer t"));
    assert_eq!(
        h(&format!("bearer_token_file: {f}\n")).as_deref(),
        Some("Bearer from-file")
    );
    assert_eq!(
        h("authorization: {type: Token, credentials: abc}\n").as_deref(),
        Some("Token abc")
    );
    // Files are read at every call: a rotated token is sent at once.
    let c = parse(&format!("authorization: {{credentials_file: {f}}}\n")).unwrap();
    std::fs::write(&f, "rotated").unwrap();
    assert_eq!(
        authorization_header(&c).unwrap().unwrap().to_str().unwrap(),
        "Bearer rotated"
    );
    // Unvalidated configs work too (the legacy bearer fields are read directly).
    let raw = HttpClientConfig {
        bearer_token: Secret::from("raw"),
        ..HttpClientConfig::default()
    };
    assert_eq!(
        authorization_header(&raw)
            .unwrap()
            .unwrap()
            .to_str()
            .unwrap(),
        "Bearer raw"
    );
    let c = parse("authorization: {credentials_file: /nonexistent/cred}\n").unwrap();
    let e = authorization_header(&c).unwrap_err().to_string();
    assert!(
        e.starts_with("unable to read authorization credentials: open /nonexistent/cred: "),
        "{e}"
    );
    assert!(authorization_header(&parse("bearer_token: \"a\\nb\"\n").unwrap()).is_err());
}

fn openssl(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

const EC: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// `ca.crt` (CA:TRUE, also valid for 127.0.0.1 so it can be served as a leaf), and
/// `leaf.crt`/`leaf.key` for `farm.test` signed by it.
fn make_certs(dir: &Path) -> bool {
    let mut ca = vec!["req", "-x509"];
    ca.extend(EC);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
    ]);
    let mut csr = vec!["req"];
    csr.extend(EC);
    csr.extend([
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=farm.test",
    ]);
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=DNS:farm.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n",
    )
    .is_ok()
        && openssl(dir, &ca)
        && openssl(dir, &csr)
        && openssl(
            dir,
            &[
                "x509", "-req", "-in", "leaf.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", "leaf.crt", "-days", "2", "-extfile", "ext",
            ],
        )
}

fn der(path: &Path) -> CertificateDer<'static> {
    let pem = std::fs::read(path).unwrap();
    rustls_pemfile::certs(&mut &pem[..])
        .next()
        .unwrap()
        .unwrap()
}

fn tls(yaml: &str) -> TlsConfig {
    serde_saphyr::from_str(yaml).unwrap()
}

#[test]
fn builder_loads_ca_and_client_identity() {
    let dir = tempfile::tempdir().unwrap();
    if !make_certs(dir.path()) {
        eprintln!("skipped: the openssl CLI is not available");
        return;
    }
    let p = |f: &str| dir.path().join(f).display().to_string();
    // Files and inline PEM give the same material.
    let from_files = TlsMaterial::load(&tls(&format!(
        "ca_file: {}\ncert_file: {}\nkey_file: {}\n",
        p("ca.crt"),
        p("leaf.crt"),
        p("leaf.key")
    )))
    .unwrap();
    let inline = TlsConfig {
        ca: std::fs::read_to_string(p("ca.crt")).unwrap(),
        cert: std::fs::read_to_string(p("leaf.crt")).unwrap(),
        key: Secret::new(std::fs::read_to_string(p("leaf.key")).unwrap()),
        ..TlsConfig::default()
    };
    let from_inline = TlsMaterial::load(&inline).unwrap();
    assert_eq!(from_files.roots, from_inline.roots);
    assert_eq!(from_files.roots.as_ref().map(Vec::len), Some(1));
    assert_eq!(
        from_files.client_auth.as_ref().map(|(c, _)| c.clone()),
        Some(vec![der(&dir.path().join("leaf.crt"))])
    );
    let c = from_files.client_config().unwrap();
    assert!(c.client_auth_cert_resolver.has_certs());
    let c = client_config(&inline).unwrap();
    assert!(c.client_auth_cert_resolver.has_certs());
    let c = client_config(&tls("insecure_skip_verify: true\n")).unwrap();
    assert!(!c.client_auth_cert_resolver.has_certs());
    // A key that is not the certificate's is refused when building.
    let e = client_config(&tls(&format!(
        "cert_file: {}\nkey_file: {}\n",
        p("leaf.crt"),
        p("ca.key")
    )))
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("unable to use specified client cert & key: "),
        "{e}"
    );
}

#[test]
fn builder_errors_name_the_file() {
    let e = client_config(&tls("ca_file: /nonexistent/ca.pem\n"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("unable to read CA cert: open /nonexistent/ca.pem: "),
        "{e}"
    );
    let e = client_config(&tls("ca: not a pem\n"))
        .unwrap_err()
        .to_string();
    assert_eq!(e, "unable to use specified CA cert inline");
    let e = client_config(&tls("cert: not a pem\nkey: nope\n"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "unable to use specified client cert (inline) & key (inline): no certificate found"
    );
}

#[test]
fn versions_follow_min_and_max() {
    use rustls::ProtocolVersion::{TLSv1_2, TLSv1_3};
    let versions = |yaml: &str| {
        let m = TlsMaterial::load(&tls(yaml)).unwrap();
        let v: Vec<_> = m.versions().unwrap().iter().map(|v| v.version).collect();
        client_config(&tls(yaml)).unwrap();
        v
    };
    assert_eq!(versions("{}\n"), [TLSv1_2, TLSv1_3]);
    assert_eq!(versions("min_version: TLS10\n"), [TLSv1_2, TLSv1_3]);
    assert_eq!(versions("min_version: TLS13\n"), [TLSv1_3]);
    assert_eq!(versions("max_version: TLS12\n"), [TLSv1_2]);
    let m = TlsMaterial::load(&tls("max_version: TLS11\n")).unwrap();
    assert_eq!(
        m.versions().unwrap_err().to_string(),
        "no TLS version between min_version TLS12 and max_version TLS11 is supported"
    );
}

/// Go accepts a configured CA certificate served as the server's own; any other CA
/// certificate is still refused, and the host name is still checked.
#[test]
fn ca_served_as_its_own_certificate_is_accepted_like_go() {
    let dir = tempfile::tempdir().unwrap();
    if !make_certs(dir.path()) {
        eprintln!("skipped: the openssl CLI is not available");
        return;
    }
    let ca = der(&dir.path().join("ca.crt"));
    let leaf = der(&dir.path().join("leaf.crt"));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let v = CaLeafVerifier::new(vec![ca.clone()], provider.clone()).unwrap();
    let now = UnixTime::now();
    let ip = ServerName::try_from("127.0.0.1").unwrap();
    let farm = ServerName::try_from("farm.test").unwrap();
    assert!(v.verify_server_cert(&ca, &[], &ip, &[], now).is_ok());
    assert!(v.verify_server_cert(&leaf, &[], &farm, &[], now).is_ok());
    let e = v
        .verify_server_cert(&ca, &[], &farm, &[], now)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("certificate not valid for name \"farm.test\""),
        "{e}"
    );
    // Trusting only the leaf: the CA certificate is a different CA, refused as WebPKI does.
    let other = CaLeafVerifier::new(vec![leaf], provider).unwrap();
    let e = other
        .verify_server_cert(&ca, &[], &ip, &[], now)
        .unwrap_err()
        .to_string();
    assert!(e.contains("CaUsedAsEndEntity"), "{e}");
}
