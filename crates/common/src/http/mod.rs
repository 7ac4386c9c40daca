//! Prometheus' `common/config` HTTP client configuration, shared by scrape jobs, Kubernetes SD
//! configs and remote-write endpoints:
//!
//! - [`HttpClientConfig`] and its parts ([`BasicAuth`], [`Authorization`], [`OAuth2`],
//!   [`TlsConfig`]) with Prometheus' YAML names, defaults and validation texts;
//! - [`tls`]: the one `tls_config` → `rustls::ClientConfig` builder (and HTTPS connector);
//! - [`authorization_header`]: the one `Authorization` header builder;
//! - [`embed_http_client_config!`](crate::embed_http_client_config): how a config section
//!   embeds these fields inline while still rejecting unknown fields.

mod auth;
mod config;
pub mod tls;

pub use auth::{AuthError, authorization_header, basic_auth_value};
pub use config::{
    Authorization, BasicAuth, HttpClientConfig, HttpConfigError, OAuth2, TlsConfig, TlsVersion,
};

/// Defines a config struct that embeds [`HttpClientConfig`]'s fields inline (as Prometheus'
/// `yaml:",inline"` does) and still rejects unknown fields.
///
/// serde's `flatten` cannot be combined with `deny_unknown_fields`, so this macro writes the
/// flat form out instead: from one struct definition it generates
///
/// - the struct itself, with the fields given plus
///   `pub http_client_config: HttpClientConfig`;
/// - a private raw struct (named after `from`) with the fields given plus every
///   `HttpClientConfig` field, deriving `Deserialize` with `deny_unknown_fields` (so an unknown
///   field is an error naming it, with its line);
/// - `From<raw>` for the struct.
///
/// The struct's own attributes must derive `Deserialize` and say `#[serde(from = "Raw…")]`
/// with the raw struct's name; field attributes (`#[serde(default)]`, docs) apply to the raw
/// struct's fields. The `HttpClientConfig` is not validated here: callers run
/// [`HttpClientConfig::validate`] where they validate the rest, to prefix its errors.
///
/// ```
/// use scrapeline_common::embed_http_client_config;
/// use serde::Deserialize;
///
/// embed_http_client_config! {
///     /// An endpoint.
///     #[derive(Debug, Deserialize)]
///     #[serde(from = "RawEndpoint")]
///     pub struct Endpoint from RawEndpoint {
///         /// `url`.
///         pub url: String,
///     }
/// }
///
/// let e: Endpoint = serde_saphyr::from_str("url: x\nbearer_token: t\n").unwrap();
/// assert_eq!(e.http_client_config.bearer_token.expose(), "t");
/// let err = serde_saphyr::from_str::<Endpoint>("url: x\nbearer_tokn: t\n").unwrap_err();
/// assert!(err.to_string().contains("unknown field `bearer_tokn`"), "{err}");
/// ```
#[macro_export]
macro_rules! embed_http_client_config {
    (
        $(#[$attr:meta])*
        $vis:vis struct $name:ident from $raw:ident {
            $( $(#[$fattr:meta])* $fvis:vis $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$attr])*
        $vis struct $name {
            $( $(#[$fattr])* $fvis $field : $ty, )*
            /// The inline HTTP client settings (`basic_auth`, `authorization`, `tls_config`,
            /// …), Prometheus' `HTTPClientConfig`.
            #[serde(skip)]
            pub http_client_config: $crate::http::HttpClientConfig,
        }

        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct $raw {
            $( $(#[$fattr])* $field : $ty, )*
            #[serde(default)]
            basic_auth: ::std::option::Option<$crate::http::BasicAuth>,
            #[serde(default)]
            authorization: ::std::option::Option<$crate::http::Authorization>,
            #[serde(default)]
            oauth2: ::std::option::Option<$crate::http::OAuth2>,
            #[serde(default)]
            bearer_token: $crate::Secret,
            #[serde(default)]
            bearer_token_file: ::std::string::String,
            #[serde(default)]
            tls_config: $crate::http::TlsConfig,
            #[serde(default)]
            follow_redirects: ::std::option::Option<bool>,
            #[serde(default)]
            enable_http2: ::std::option::Option<bool>,
            #[serde(default)]
            proxy_url: ::std::string::String,
            #[serde(default)]
            no_proxy: ::std::string::String,
            #[serde(default)]
            proxy_from_environment: bool,
            #[serde(default)]
            proxy_connect_header: ::std::collections::BTreeMap<
                ::std::string::String,
                ::std::vec::Vec<$crate::Secret>,
            >,
        }

        impl ::std::convert::From<$raw> for $name {
            fn from(raw: $raw) -> Self {
                $name {
                    $( $field: raw.$field, )*
                    http_client_config: $crate::http::HttpClientConfig {
                        basic_auth: raw.basic_auth,
                        authorization: raw.authorization,
                        oauth2: raw.oauth2,
                        bearer_token: raw.bearer_token,
                        bearer_token_file: raw.bearer_token_file,
                        tls_config: raw.tls_config,
                        follow_redirects: raw.follow_redirects.unwrap_or(true),
                        enable_http2: raw.enable_http2.unwrap_or(true),
                        proxy_url: raw.proxy_url,
                        no_proxy: raw.no_proxy,
                        proxy_from_environment: raw.proxy_from_environment,
                        proxy_connect_header: raw.proxy_connect_header,
                    },
                }
            }
        }
    };
}

#[cfg(test)]
mod tests;
