//! The service-discovery sections of a Prometheus scrape config: `static_configs`,
//! `file_sd_configs` and `kubernetes_sd_configs`, with Prometheus' YAML names, defaults and
//! validation (errors carry Prometheus' exact messages).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// One entry of `static_configs`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    /// `targets`: addresses (`host:port`).
    #[serde(default)]
    pub targets: Vec<String>,
    /// `labels`: attached to every target.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// One entry of `file_sd_configs`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawFileSdConfig")]
pub struct FileSdConfig {
    /// `files`: paths or globs (`*` in the last path element) of `.json`, `.yml` or `.yaml` files.
    pub files: Vec<String>,
    /// `refresh_interval` (default `5m`): how often files are re-read even without a change.
    pub refresh_interval: Duration,
}

impl Default for FileSdConfig {
    fn default() -> Self {
        Self {
            files: Vec::new(),
            refresh_interval: Duration::from_secs(300),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFileSdConfig {
    #[serde(default)]
    files: Vec<String>,
    /// Parsed here rather than in `try_from`, so that a bad value's error carries its line.
    #[serde(default)]
    refresh_interval: Option<scrapeline_common::PromDuration>,
}

impl TryFrom<RawFileSdConfig> for FileSdConfig {
    type Error = String;
    fn try_from(raw: RawFileSdConfig) -> Result<Self, String> {
        if raw.files.is_empty() {
            return Err("file service discovery config must contain at least one path name".into());
        }
        for f in &raw.files {
            let ext_ok = [".json", ".yml", ".yaml"].iter().any(|e| f.ends_with(e));
            if !ext_ok {
                return Err(format!("path name {f:?} is not valid for file discovery"));
            }
        }
        let refresh_interval = match raw.refresh_interval {
            None => Duration::from_secs(300),
            Some(d) => d.0,
        };
        Ok(Self {
            files: raw.files,
            refresh_interval,
        })
    }
}

/// Parses a Prometheus duration (`1h30m`, `5m`, `10s`, `500ms`, `2d`, `1w`, `1y`) with
/// `model.ParseDuration`'s grammar (units in decreasing order, each at most once) and messages,
/// through the one implementation in [`scrapeline_common::duration`].
pub use scrapeline_common::duration::parse_duration;

/// Why a `kubernetes_sd_configs` entry was rejected: the rule it breaks, in Prometheus' words
/// (`cannot use 'kubeconfig_file' and 'api_server' simultaneously`, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SdConfigError(pub String);

impl From<scrapeline_common::http::HttpConfigError> for SdConfigError {
    fn from(e: scrapeline_common::http::HttpConfigError) -> Self {
        SdConfigError(e.to_string())
    }
}

impl From<String> for SdConfigError {
    fn from(message: String) -> Self {
        SdConfigError(message)
    }
}

impl From<&str> for SdConfigError {
    fn from(message: &str) -> Self {
        SdConfigError(message.to_owned())
    }
}

/// A Kubernetes SD role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// One target per node (kubelet address).
    Node,
    /// One group per pod, one target per container port.
    Pod,
    /// One group per service, one target per service port.
    Service,
    /// One group per Endpoints object.
    Endpoints,
    /// One group per EndpointSlice.
    EndpointSlice,
    /// One group per Ingress, one target per rule path.
    Ingress,
}

impl Role {
    /// The YAML name (`endpointslice`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Node => "node",
            Role::Pod => "pod",
            Role::Service => "service",
            Role::Endpoints => "endpoints",
            Role::EndpointSlice => "endpointslice",
            Role::Ingress => "ingress",
        }
    }

    fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "node" => Role::Node,
            "pod" => Role::Pod,
            "service" => Role::Service,
            "endpoints" => Role::Endpoints,
            "endpointslice" => Role::EndpointSlice,
            "ingress" => Role::Ingress,
            other => return Err(format!("unknown Kubernetes SD role {other:?}")),
        })
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Role::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// `namespaces`: which namespaces to watch (all when empty).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceDiscovery {
    /// `own_namespace`: also watch the namespace this process runs in (in-cluster only).
    #[serde(default)]
    pub own_namespace: bool,
    /// `names`: namespaces to watch.
    #[serde(default)]
    pub names: Vec<String>,
}

/// One entry of `selectors`: label/field selectors the API server applies for one resource.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectorConfig {
    /// `role`: which resource the selectors apply to.
    pub role: Role,
    /// `label`: a Kubernetes label selector.
    #[serde(default)]
    pub label: String,
    /// `field`: a Kubernetes field selector.
    #[serde(default)]
    pub field: String,
}

/// `attach_metadata`: extra metadata joined onto targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachMetadata {
    /// `node`: node name, labels and annotations (pod, endpoints, endpointslice).
    #[serde(default)]
    pub node: bool,
    /// `namespace`: namespace labels and annotations.
    #[serde(default)]
    pub namespace: bool,
    /// `deployment`: the Deployment name through the pod's ReplicaSet.
    #[serde(default)]
    pub deployment: bool,
    /// `job`: the Job name of a pod a Job controls.
    #[serde(default)]
    pub job: bool,
    /// `cronjob`: the CronJob name through the pod's Job.
    #[serde(default)]
    pub cronjob: bool,
}

pub use scrapeline_common::http::{
    Authorization, BasicAuth, HttpClientConfig, HttpConfigError, OAuth2, TlsConfig,
};

/// One entry of `kubernetes_sd_configs`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "ParsedKubernetesSdConfig")]
pub struct KubernetesSdConfig {
    /// `role` (required).
    pub role: Role,
    /// `api_server`: the API server URL; absent means in-cluster config or `kubeconfig_file`.
    pub api_server: Option<String>,
    /// `kubeconfig_file`.
    pub kubeconfig_file: Option<String>,
    /// `namespaces`.
    pub namespaces: NamespaceDiscovery,
    /// `selectors`.
    pub selectors: Vec<SelectorConfig>,
    /// `attach_metadata`.
    pub attach_metadata: AttachMetadata,
    /// The inline HTTP client settings (auth, TLS, proxy): Prometheus' `HTTPClientConfig`,
    /// the same type scrape and remote-write configs embed.
    pub http_client_config: HttpClientConfig,
}

impl KubernetesSdConfig {
    /// A config with only the role set, as a test or embedder would build it.
    pub fn new(role: Role) -> Self {
        Self {
            role,
            api_server: None,
            kubeconfig_file: None,
            namespaces: NamespaceDiscovery::default(),
            selectors: Vec::new(),
            attach_metadata: AttachMetadata::default(),
            http_client_config: HttpClientConfig::default(),
        }
    }

    /// The label and field selector configured for `role` (`("", "")` if none).
    pub fn selector_for(&self, role: Role) -> (&str, &str) {
        self.selectors
            .iter()
            .find(|s| s.role == role)
            .map_or(("", ""), |s| (s.label.as_str(), s.field.as_str()))
    }

    /// Runs Prometheus' validation, in its order, with its messages (the HTTP client part is
    /// [`HttpClientConfig::validate`], which also normalizes it).
    pub fn validate(&mut self) -> Result<(), SdConfigError> {
        self.http_client_config.validate()?;
        if self.api_server.is_some() && self.kubeconfig_file.is_some() {
            return Err("cannot use 'kubeconfig_file' and 'api_server' simultaneously".into());
        }
        let default_http = self.http_client_config.is_default();
        if self.kubeconfig_file.is_some() && !default_http {
            return Err(
                "cannot use a custom HTTP client configuration together with 'kubeconfig_file'"
                    .into(),
            );
        }
        if self.api_server.is_none() && self.kubeconfig_file.is_none() && !default_http {
            return Err(
                "to use custom HTTP client configuration please provide the 'api_server' URL explicitly"
                    .into(),
            );
        }
        if self.api_server.is_some() && self.namespaces.own_namespace {
            return Err(
                "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously".into(),
            );
        }
        if self.kubeconfig_file.is_some() && self.namespaces.own_namespace {
            return Err(
                "cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously".into(),
            );
        }
        let allowed: &[Role] = match self.role {
            Role::Pod => &[Role::Pod, Role::Node],
            Role::Service => &[Role::Service],
            Role::EndpointSlice => &[Role::Pod, Role::Service, Role::EndpointSlice],
            Role::Endpoints => &[Role::Pod, Role::Service, Role::Endpoints],
            Role::Node => &[Role::Node],
            Role::Ingress => &[Role::Ingress],
        };
        let mut seen = Vec::new();
        for sel in &self.selectors {
            if seen.contains(&sel.role) {
                return Err(format!("duplicated selector role: {}", sel.role.as_str()).into());
            }
            seen.push(sel.role);
            if !allowed.contains(&sel.role) {
                let list: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
                return Err(format!(
                    "{} role supports only {} selectors",
                    self.role.as_str(),
                    list.join(", ")
                )
                .into());
            }
            validate_field_selector(&sel.field)?;
            validate_label_selector(&sel.label)?;
        }
        Ok(())
    }
}

/// Checks a field selector the way `fields.ParseSelector` does.
fn validate_field_selector(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    for part in s.split(',') {
        if part.is_empty() {
            continue;
        }
        let ok = part.contains("!=") || part.contains("==") || part.contains('=');
        if !ok {
            return Err(format!(
                "invalid selector: '{s}'; can't understand '{part}'"
            ));
        }
    }
    Ok(())
}

/// Checks a label selector's shape the way `labels.Parse` does (operators and set syntax).
fn validate_label_selector(s: &str) -> Result<(), String> {
    let mut depth = 0i32;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return Err(format!(
                "unable to parse requirement: found ')', expected: '('; in {s:?}"
            ));
        }
    }
    if depth != 0 {
        return Err(format!(
            "unable to parse requirement: unclosed '(' in {s:?}"
        ));
    }
    Ok(())
}

scrapeline_common::embed_http_client_config! {
    /// A `kubernetes_sd_configs` entry as written, before its role is parsed and it is
    /// validated.
    #[derive(Deserialize)]
    #[serde(from = "RawKubernetesSdConfig")]
    struct ParsedKubernetesSdConfig from RawKubernetesSdConfig {
        #[serde(default)]
        role: Option<String>,
        #[serde(default)]
        api_server: Option<String>,
        #[serde(default)]
        kubeconfig_file: Option<String>,
        #[serde(default)]
        namespaces: NamespaceDiscovery,
        #[serde(default)]
        selectors: Vec<SelectorConfig>,
        #[serde(default)]
        attach_metadata: AttachMetadata,
    }
}

impl TryFrom<ParsedKubernetesSdConfig> for KubernetesSdConfig {
    type Error = String;
    fn try_from(raw: ParsedKubernetesSdConfig) -> Result<Self, String> {
        let role = match raw.role.as_deref() {
            None | Some("") => {
                return Err(
                    "role missing (one of: pod, service, endpoints, endpointslice, node, ingress)"
                        .into(),
                );
            }
            Some(r) => Role::parse(r)?,
        };
        let mut cfg = KubernetesSdConfig {
            role,
            api_server: raw.api_server.filter(|s| !s.is_empty()),
            kubeconfig_file: raw.kubeconfig_file.filter(|s| !s.is_empty()),
            namespaces: raw.namespaces,
            selectors: raw.selectors,
            attach_metadata: raw.attach_metadata,
            http_client_config: raw.http_client_config,
        };
        cfg.validate().map_err(|e| e.0)?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(y: &str) -> Result<KubernetesSdConfig, String> {
        serde_saphyr::from_str::<KubernetesSdConfig>(y).map_err(|e| e.to_string())
    }

    fn err(y: &str, want: &str) {
        let e = parse(y).expect_err(y);
        assert!(e.contains(want), "{y}: got {e:?}, want {want:?}");
    }

    #[test]
    fn validation_messages() {
        err(
            "api_server: http://x\n",
            "role missing (one of: pod, service, endpoints, endpointslice, node, ingress)",
        );
        err(
            "role: vacation\n",
            "unknown Kubernetes SD role \"vacation\"",
        );
        err(
            "role: pod\napi_server: http://x\nbearer_token: a\nbearer_token_file: b\n",
            "at most one of bearer_token & bearer_token_file must be configured",
        );
        err(
            "role: pod\napi_server: http://x\nbasic_auth: {username: a}\nbearer_token: a\n",
            "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
        );
        err(
            "role: pod\napi_server: http://x\nbasic_auth: {username: a}\nauthorization: {credentials: a}\n",
            "at most one of basic_auth, oauth2 & authorization must be configured",
        );
        err(
            "role: pod\napi_server: http://x\nkubeconfig_file: /k\n",
            "cannot use 'kubeconfig_file' and 'api_server' simultaneously",
        );
        err(
            "role: pod\nkubeconfig_file: /k\nbearer_token: a\n",
            "cannot use a custom HTTP client configuration together with 'kubeconfig_file'",
        );
        err(
            "role: pod\nbearer_token: a\n",
            "to use custom HTTP client configuration please provide the 'api_server' URL explicitly",
        );
        err(
            "role: pod\napi_server: http://x\nnamespaces: {own_namespace: true}\n",
            "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously",
        );
        err(
            "role: pod\nkubeconfig_file: /k\nnamespaces: {own_namespace: true}\n",
            "cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously",
        );
        err(
            "role: pod\nselectors: [{role: pod}, {role: pod}]\n",
            "duplicated selector role: pod",
        );
        err(
            "role: pod\nselectors: [{role: service}]\n",
            "pod role supports only pod, node selectors",
        );
        err(
            "role: endpoints\nselectors: [{role: node}]\n",
            "endpoints role supports only pod, service, endpoints selectors",
        );
        err(
            "role: endpointslice\nselectors: [{role: node}]\n",
            "endpointslice role supports only pod, service, endpointslice selectors",
        );
        err(
            "role: node\nselectors: [{role: pod}]\n",
            "node role supports only node selectors",
        );
        err(
            "role: ingress\nselectors: [{role: pod}]\n",
            "ingress role supports only ingress selectors",
        );
        err(
            "role: service\nselectors: [{role: pod}]\n",
            "service role supports only service selectors",
        );
        err(
            "role: pod\nselectors: [{role: pod, field: metadata.status-Running}]\n",
            "invalid selector: 'metadata.status-Running'; can't understand 'metadata.status-Running'",
        );
        err("role: pod\nnamespaces: {foo: bar}\n", "foo");
    }

    /// The HTTP client part is the common `HttpClientConfig`: the same texts, and the same
    /// refusal by name of what no client implements, as scrape and remote-write configs.
    #[test]
    fn http_client_config_is_the_common_one() {
        assert_eq!(
            parse("role: pod\napi_server: http://x\nproxy_url: http://p:3128\n").unwrap_err(),
            "proxy_url is not supported by Scrapeline"
        );
        assert_eq!(
            parse("role: pod\napi_server: http://x\noauth2: {client_id: a, token_url: t}\n")
                .unwrap_err(),
            "oauth2 is not supported by Scrapeline"
        );
        let e = parse("role: pod\napi_server: http://x\ntls_config: {cert_file: c}\n").unwrap_err();
        assert_eq!(
            e,
            "exactly one of key or key_file must be configured when a client certificate is configured"
        );
        let e = parse("role: pod\nbearer_tokn: x\n").unwrap_err();
        assert!(e.contains("unknown field `bearer_tokn`"), "{e}");
        let c = parse("role: pod\napi_server: http://x\nbasic_auth: {username: u, password: pw}\n")
            .unwrap();
        assert!(!format!("{c:?}").contains("pw"));
        assert_eq!(
            c.http_client_config.basic_auth.unwrap().password.expose(),
            "pw"
        );
    }

    #[test]
    fn full_config_parses() {
        let c = parse(
            "role: endpoints\napi_server: https://k:6443\nnamespaces: {names: [a, b]}\n\
             selectors: [{role: pod, label: 'a=b', field: 'spec.nodeName=n'}]\n\
             attach_metadata: {node: true, namespace: true}\n\
             tls_config: {insecure_skip_verify: true}\nbearer_token_file: /t\n",
        )
        .unwrap();
        assert_eq!(c.role, Role::Endpoints);
        assert_eq!(c.api_server.as_deref(), Some("https://k:6443"));
        assert_eq!(c.namespaces.names, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(c.selector_for(Role::Pod), ("a=b", "spec.nodeName=n"));
        assert!(c.attach_metadata.node && c.attach_metadata.namespace);
        assert!(c.http_client_config.tls_config.insecure_skip_verify);
        assert!(c.http_client_config.follow_redirects && c.http_client_config.enable_http2);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("m").is_err());
    }

    /// `model.ParseDuration` wants each unit once, largest first: `1s1h` is not a duration
    /// (the old local parser added the parts up), and a sign is not part of the grammar.
    #[test]
    fn durations_follow_model_parse_duration() {
        assert_eq!(
            parse_duration("1s1h").map_err(|e| e.to_string()),
            Err(r#"not a valid duration string: "1s1h""#.to_owned())
        );
        assert_eq!(
            parse_duration("5m5m").map_err(|e| e.to_string()),
            Err(r#"not a valid duration string: "5m5m""#.to_owned())
        );
        assert_eq!(
            parse_duration("-1").map_err(|e| e.to_string()),
            Err(r#"not a valid duration string: "-1""#.to_owned())
        );
        assert_eq!(
            parse_duration("300y").map_err(|e| e.to_string()),
            Err("duration out of range".to_owned())
        );
        let e = serde_saphyr::from_str::<FileSdConfig>("files: [a.json]\nrefresh_interval: 1s1h\n")
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with(r#"error: line 2 column 19: not a valid duration string: "1s1h""#),
            "{e}"
        );
    }

    #[test]
    fn file_sd_defaults() {
        let c: FileSdConfig = serde_saphyr::from_str("files: [a/*.json]\n").unwrap();
        assert_eq!(c.refresh_interval, Duration::from_secs(300));
        let e = serde_saphyr::from_str::<FileSdConfig>("files: [a.txt]\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("path name \"a.txt\" is not valid for file discovery")
        );
    }
}
