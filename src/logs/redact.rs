//! Keeps secrets out of `chatctl logs`, whatever a log line holds: the stack's backend secret
//! (an execution log with data tracing on shows the integration's `x-chat-secret` header), ID
//! tokens (a `$connect` query string), and anything under a key that names a credential.

use serde_json::{Map, Value};

/// What a redacted value becomes.
pub const MASK: &str = "(sensitive)";

/// Keys whose values are secrets, compared without case, `-` and `_`.
const SECRET_KEYS: &[&str] = &[
    "xchatsecret",
    "chatsecret",
    "backendsecret",
    "secret",
    "authorization",
    "xamzsecuritytoken",
    "token",
    "idtoken",
    "accesstoken",
    "refreshtoken",
    "password",
    "awssecretaccesskey",
    "awssessiontoken",
    "githubtoken",
];

/// Removes secrets from log text and fields.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Values known to be secret (the deployed backend secret, tokens in the environment).
    known: Vec<String>,
}

impl Redactor {
    /// Masks every occurrence of these values (empty and very short ones are ignored: masking
    /// every `a` would make logs unreadable and protects nothing).
    pub fn new(known: impl IntoIterator<Item = String>) -> Self {
        let mut known: Vec<String> = known.into_iter().filter(|s| s.len() >= 8).collect();
        // Longest first, so that a secret containing another is masked whole.
        known.sort_by_key(|s| std::cmp::Reverse(s.len()));
        known.dedup();
        Self { known }
    }

    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.known {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        mask_keyed_values(&mask_jwts(&out))
    }

    pub fn fields(&self, fields: &mut Map<String, Value>) {
        for (key, value) in fields.iter_mut() {
            if is_secret_key(key) {
                *value = Value::String(MASK.to_owned());
                continue;
            }
            self.value(value);
        }
    }

    fn value(&self, value: &mut Value) {
        match value {
            Value::String(s) => *s = self.text(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.value(v)),
            Value::Object(map) => self.fields(map),
            _ => {}
        }
    }
}

fn is_secret_key(key: &str) -> bool {
    let normal: String = key
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_KEYS.contains(&normal.as_str())
}

fn is_base64url(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '='
}

/// A JWT is three base64url parts joined by dots, the first starting `eyJ` (`{"`).
fn mask_jwts(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("eyJ") {
        let (before, candidate) = rest.split_at(at);
        out.push_str(before);
        let mut parts = 0;
        let mut end = 0;
        let mut part_len = 0;
        for (i, c) in candidate.char_indices() {
            if is_base64url(c) {
                part_len += 1;
                end = i + c.len_utf8();
            } else if c == '.' && part_len > 0 && parts < 2 {
                parts += 1;
                part_len = 0;
                end = i + 1;
            } else {
                break;
            }
        }
        if parts == 2 {
            out.push_str(MASK);
            rest = &candidate[end..];
        } else {
            out.push_str("eyJ");
            rest = &candidate[3..];
        }
    }
    out.push_str(rest);
    out
}

/// `key=value`, `key: value`, `"key":"value"` where the key names a secret: the value goes.
fn mask_keyed_values(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        // A key: a run of letters, digits, `-` and `_` not preceded by one.
        let starts_key = (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_')
            && (i == 0 || !is_key_byte(bytes[i - 1]));
        if !starts_key {
            i += 1;
            continue;
        }
        let key_end = (i..bytes.len())
            .find(|&j| !is_key_byte(bytes[j]))
            .unwrap_or(bytes.len());
        let key = &text[i..key_end];
        if !is_secret_key(key) {
            i = key_end;
            continue;
        }
        // The separator: `=`, `:` or `":`, with optional spaces and an opening quote.
        let mut j = key_end;
        if j < bytes.len() && bytes[j] == b'"' {
            j += 1;
        }
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        if j >= bytes.len() || (bytes[j] != b'=' && bytes[j] != b':') {
            i = key_end;
            continue;
        }
        j += 1;
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        let quoted = j < bytes.len() && bytes[j] == b'"';
        if quoted {
            j += 1;
        }
        let value_end = (j..bytes.len())
            .find(|&k| {
                if quoted {
                    bytes[k] == b'"' && bytes[k - 1] != b'\\'
                } else {
                    matches!(bytes[k], b',' | b'}' | b']' | b'&' | b' ' | b'"' | b';')
                }
            })
            .unwrap_or(bytes.len());
        if value_end > j {
            out.push_str(&text[copied..j]);
            out.push_str(MASK);
            copied = value_end;
        }
        i = value_end.max(key_end);
    }
    out.push_str(&text[copied..]);
    out
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c";

    #[test]
    fn the_backend_secret_never_survives() {
        let redactor = Redactor::new([SECRET.to_owned()]);
        let line = format!(
            "(LQ1b=) Endpoint request headers: {{x-chat-secret={SECRET}, x-connection-id=LQ1bJc3kliACFZQ=, User-Agent=AmazonAPIGateway_abc}}"
        );
        let out = redactor.text(&line);
        assert!(!out.contains(SECRET), "{out}");
        assert_eq!(
            out,
            "(LQ1b=) Endpoint request headers: {x-chat-secret=(sensitive), x-connection-id=LQ1bJc3kliACFZQ=, User-Agent=AmazonAPIGateway_abc}"
        );
        // Known values are masked wherever they appear, not only after a key.
        assert_eq!(
            redactor.text(&format!("echo {SECRET}!")),
            "echo (sensitive)!"
        );
    }

    #[test]
    fn keyed_secrets_and_tokens_are_masked_without_knowing_them() {
        let redactor = Redactor::default();
        assert_eq!(
            redactor.text(r#"{"Authorization":"Bearer abc.def","x-chat-secret": "s3cr3t-value", "route":"connect"}"#),
            r#"{"Authorization":"(sensitive)","x-chat-secret": "(sensitive)", "route":"connect"}"#
        );
        assert_eq!(
            redactor.text("GET /dev?name=alice&token=abcdefghijkl&x=1"),
            "GET /dev?name=alice&token=(sensitive)&x=1"
        );
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlX2J5dGVz";
        assert_eq!(
            redactor.text(&format!("querystring: {{ticket={jwt}}} done")),
            "querystring: {ticket=(sensitive)} done"
        );
        // Words that merely contain a key, and keys without a value, stay.
        assert_eq!(redactor.text("tokenizer=on secret"), "tokenizer=on secret");
        assert_eq!(redactor.text("eyJ is not a token"), "eyJ is not a token");
    }

    #[test]
    fn fields_are_masked_by_key_and_by_value() {
        let redactor = Redactor::new([SECRET.to_owned(), "short".to_owned()]);
        let mut fields = serde_json::json!({
            "backendSecret": "anything",
            "CHAT_SECRET": "anything",
            "headers": {"x-chat-secret": "x"},
            "message": format!("secret is {SECRET}"),
            "note": "short stays: too short to be a secret worth masking",
            "list": [SECRET],
        })
        .as_object()
        .cloned()
        .unwrap();
        redactor.fields(&mut fields);
        let text = serde_json::to_string(&fields).unwrap();
        assert!(
            !text.contains(SECRET) && !text.contains("anything"),
            "{text}"
        );
        assert_eq!(fields["headers"]["x-chat-secret"], MASK);
        assert_eq!(
            fields["note"],
            "short stays: too short to be a secret worth masking"
        );
    }
}
