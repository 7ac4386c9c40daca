//! [`Secret`]: Prometheus' `config.Secret`, a string that never shows itself.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a non-empty [`Secret`] shows instead of its value (Prometheus' `secretToken`).
pub const SECRET_TOKEN: &str = "<secret>";

/// A password, token or private key from the configuration.
///
/// It deserializes from a plain string, compares and hashes by value (a changed password is a
/// changed config), but `Debug`, `Display` and `Serialize` show [`SECRET_TOKEN`] (`<secret>`)
/// when it is set, and nothing when it is empty, as Prometheus marshals `config.Secret`. The
/// value is only reachable through [`Secret::expose`], so that printing a config, logging it or
/// serving it through the API cannot leak it by accident.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Secret(String);

impl Secret {
    /// A secret holding `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The real value, for the one place that must send it (a request header, a TLS key).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether no value is set (YAML absent or `""`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn shown(&self) -> &'static str {
        if self.0.is_empty() { "" } else { SECRET_TOKEN }
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.shown())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.shown())
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.shown())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shows_its_value() {
        let s: Secret = serde_json::from_str(r#""hunter2""#).unwrap();
        assert_eq!(s.expose(), "hunter2");
        assert_eq!(format!("{s:?}"), "<secret>");
        assert_eq!(format!("{s}"), "<secret>");
        assert_eq!(format!("{:?}", Some(&s)), "Some(<secret>)");
        assert_eq!(serde_json::to_string(&s).unwrap(), r#""<secret>""#);
    }

    #[test]
    fn empty_shows_empty() {
        let s = Secret::default();
        assert!(s.is_empty());
        assert_eq!(format!("{s:?}"), "");
        assert_eq!(serde_json::to_string(&s).unwrap(), r#""""#);
    }

    #[test]
    fn compares_by_value() {
        assert_eq!(Secret::from("a"), Secret::new("a".to_string()));
        assert_ne!(Secret::from("a"), Secret::from("b"));
    }

    #[test]
    fn deserializes_from_yaml() {
        let s: Secret = serde_saphyr::from_str("'p@ss word'\n").unwrap();
        assert_eq!(s.expose(), "p@ss word");
    }
}
