//! Identifiers, parsed once at the edge: a handler never sees a raw string it must re-check.

use serde::{Deserialize, Serialize};

/// Why an identifier was refused (the caller names the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IdError(pub &'static str);

/// Lowercase letters, digits and `-`, 2–64 characters, starting with a letter or digit.
fn valid(s: &str) -> Result<(), IdError> {
    let ok_len = (2..=64).contains(&s.len());
    let ok_first = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok_chars = s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok_len && ok_first && ok_chars {
        Ok(())
    } else {
        Err(IdError("must be 2 to 64 lowercase letters, digits or dashes"))
    }
}

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, IdError> {
                valid(s).map(|()| Self(s.to_owned()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                valid(&s).map(|()| Self(s))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A workspace: the customer boundary.
    WorkspaceId
);
id_type!(
    /// A managed environment (one Entra tenant) inside a workspace.
    EnvironmentId
);
id_type!(InvitationId);
id_type!(RunId);

/// A user, as the identity provider's `sub` names them: letters, digits, `-` and `_`, up to 128.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = (1..=128).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError("must be 1 to 128 letters, digits, dashes or underscores"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::parse(&s)
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> String {
        id.0
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An Entra tenant id: a GUID, stored lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let s = s.trim().to_ascii_lowercase();
        let groups: Vec<&str> = s.split('-').collect();
        let lens = [8, 4, 4, 4, 12];
        let ok = groups.len() == 5
            && groups
                .iter()
                .zip(lens)
                .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()));
        if ok {
            Ok(Self(s))
        } else {
            Err(IdError("must be a GUID like 00000000-0000-0000-0000-000000000000"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::parse(&s)
    }
}

impl From<TenantId> for String {
    fn from(id: TenantId) -> String {
        id.0
    }
}

/// An email address, lowercased; checked for shape, not deliverability.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let s = s.trim().to_lowercase();
        let ok = s.len() <= 254
            && s.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
            })
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            && s.matches('@').count() == 1;
        if ok {
            Ok(Self(s))
        } else {
            Err(IdError("must be an email address"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

/// A display name: trimmed, 1–120 characters, no control characters, and nothing that makes it
/// read differently from what it is: no bidirectional overrides, embeddings or isolates and no
/// invisible characters. A typed confirmation compares names, so what a user sees is what is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

/// Characters that reorder or hide text: bidirectional marks, embeddings, overrides and isolates
/// (U+200E/F, U+061C, U+202A–202E, U+2066–2069), zero-width characters (U+200B–200D, U+2060,
/// U+FEFF), and line/paragraph separators (U+2028/2029).
pub fn is_deceptive_char(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        | '\u{061C}' | '\u{2060}' | '\u{FEFF}' | '\u{2028}' | '\u{2029}')
}

impl DisplayName {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let t = s.trim();
        if t.is_empty() || t.chars().count() > 120 || t.chars().any(char::is_control) {
            return Err(IdError("must be 1 to 120 characters without control characters"));
        }
        if t.chars().any(is_deceptive_char) {
            return Err(IdError(
                "must not contain invisible or text-direction characters (such as U+202E or U+200B)",
            ));
        }
        Ok(Self(t.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DisplayName {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::parse(&s)
    }
}

impl From<DisplayName> for String {
    fn from(n: DisplayName) -> String {
        n.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_the_canonical_shape_only() {
        assert!(WorkspaceId::parse("ws-demo").is_ok());
        assert!(WorkspaceId::parse("01jdq3x8k2").is_ok());
        for bad in ["", "a", "WS", "ws demo", "-ws", "ws/../x", "ws#1", &"a".repeat(65)] {
            assert!(WorkspaceId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tenant_ids_and_emails() {
        assert_eq!(
            TenantId::parse(" 11111111-1111-4111-8111-11111111111A ")
                .unwrap()
                .as_str(),
            "11111111-1111-4111-8111-11111111111a"
        );
        assert!(TenantId::parse("contoso.onmicrosoft.com").is_err());
        assert_eq!(Email::parse("Owner@Demo.Test").unwrap().as_str(), "owner@demo.test");
        for bad in ["owner", "a@b", "a@@b.c", "a b@c.d", "@c.d"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(DisplayName::parse("  ").is_err());
        assert_eq!(DisplayName::parse(" Contoso ").unwrap().as_str(), "Contoso");
    }

    #[test]
    fn display_names_refuse_direction_and_invisible_characters() {
        for bad in [
            "Conto\u{202E}os",
            "a\u{202A}b",
            "a\u{2066}b",
            "a\u{2069}b",
            "a\u{200E}b",
            "a\u{200F}b",
            "a\u{061C}b",
            "a\u{200B}b",
            "a\u{200C}b",
            "a\u{200D}b",
            "a\u{2060}b",
            "\u{FEFF}ab",
            "a\u{2028}b",
            "a\u{7}b",
            "a\u{9F}b",
        ] {
            assert!(DisplayName::parse(bad).is_err(), "{bad:?}");
        }
        for good in ["Contoso (demo)", "Zürich AG", "東京", "مؤسسة", "Ünïcödé — ok"] {
            assert_eq!(DisplayName::parse(good).unwrap().as_str(), good);
        }
    }
}
