//! The chat protocol's frames and validation rules (DESIGN §2), independent of any transport.

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

/// Longest message text, counted in Unicode scalar values (what a user perceives as characters),
/// not bytes: 4096 four-byte characters plus the envelope still fit API Gateway's 32 KB frame.
pub const MAX_TEXT_CHARS: usize = 4096;

/// Longest user name.
pub const MAX_NAME_CHARS: usize = 32;

/// Error codes a sender can receive in an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    UnknownAction,
    PeerOffline,
    TooLarge,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::UnknownAction => "unknown_action",
            Self::PeerOffline => "peer_offline",
            Self::TooLarge => "too_large",
        }
    }
}

/// A frame sent to a client, either as the HTTP reply for the sender or through @connections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Frame {
    Message {
        id: String,
        from: String,
        text: String,
        at: String,
    },
    Sent {
        id: String,
        to: String,
    },
    Who {
        users: Vec<String>,
    },
    Error {
        code: ErrorCode,
        message: String,
    },
}

impl Frame {
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error {
            code,
            message: message.into(),
        }
    }

    /// The frame as the JSON bytes a client receives.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing these plain structs cannot fail (string keys, no maps, no floats); the
        // fallback keeps the function total without a panic path.
        serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec())
    }
}

/// Whether `name` is an acceptable user name: 1 to 32 of `[A-Za-z0-9_-]`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_CHARS
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A validated `sendmessage` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendMessage {
    pub to: String,
    pub text: String,
}

/// Why a client frame was rejected: the error frame to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: ErrorCode,
    pub message: String,
}

impl Rejection {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    pub fn into_frame(self) -> Frame {
        Frame::error(self.code, self.message)
    }
}

/// Parses the client's frame as a JSON object; unknown fields stay in the map and are ignored
/// by the callers (forward compatibility).
fn parse_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, Rejection> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Rejection::bad_request("the message must be a JSON object")),
        Err(_) => Err(Rejection::bad_request("the message is not valid JSON")),
    }
}

/// Validates a `sendmessage` frame. Only `to` and `text` are read: `from` and any other field a
/// client adds are ignored, because the sender's name comes from the registry.
pub fn parse_send_message(body: &[u8]) -> Result<SendMessage, Rejection> {
    let map = parse_object(body)?;
    let to = match map.get("to") {
        Some(Value::String(to)) => to,
        Some(_) => return Err(Rejection::bad_request("\"to\" must be a string")),
        None => return Err(Rejection::bad_request("\"to\" is missing")),
    };
    if !is_valid_name(to) {
        return Err(Rejection::bad_request(
            "\"to\" must be a user name of 1-32 characters from A-Z a-z 0-9 _ -",
        ));
    }
    let text = match map.get("text") {
        Some(Value::String(text)) => text,
        Some(_) => return Err(Rejection::bad_request("\"text\" must be a string")),
        None => return Err(Rejection::bad_request("\"text\" is missing")),
    };
    if text.is_empty() {
        return Err(Rejection::bad_request("\"text\" must not be empty"));
    }
    // Count characters only as far as needed: a huge text is rejected without a full walk.
    if text.chars().nth(MAX_TEXT_CHARS).is_some() {
        return Err(Rejection::new(
            ErrorCode::TooLarge,
            format!("\"text\" is longer than {MAX_TEXT_CHARS} characters"),
        ));
    }
    Ok(SendMessage {
        to: to.clone(),
        text: text.clone(),
    })
}

/// The answer to a frame that matched no route (the gateway's `$default` route).
pub fn reject_unrouted(body: &[u8]) -> Rejection {
    let map = match parse_object(body) {
        Ok(map) => map,
        Err(rejection) => return rejection,
    };
    match map.get("action") {
        None | Some(Value::Null) => {
            Rejection::bad_request("the message has no \"action\"; use \"sendmessage\" or \"who\"")
        }
        Some(Value::String(action)) => Rejection::new(
            ErrorCode::UnknownAction,
            format!("unknown action {action:?}; use \"sendmessage\" or \"who\""),
        ),
        Some(_) => Rejection::new(
            ErrorCode::UnknownAction,
            "unknown action; use \"sendmessage\" or \"who\"",
        ),
    }
}

/// A new message id: 128 random bits, hex encoded, so ids never collide across Lambda instances.
pub fn new_message_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The current time as RFC 3339 in UTC with millisecond precision (`2025-01-31T12:00:00.123Z`).
pub fn now_rfc3339() -> String {
    format_rfc3339(OffsetDateTime::now_utc())
}

pub(crate) fn format_rfc3339(at: OffsetDateTime) -> String {
    // Always three fractional digits and a `Z`, so every timestamp has the same shape.
    const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    let at = at.to_offset(time::UtcOffset::UTC);
    // Formatting only fails for years outside 0..=9999, which `now_utc` never returns.
    at.format(FORMAT)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_follow_the_rule() {
        assert!(is_valid_name("alice"));
        assert!(is_valid_name("A_b-9"));
        assert!(is_valid_name(&"x".repeat(32)));
        assert!(!is_valid_name(&"x".repeat(33)));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("al ice"));
        assert!(!is_valid_name("älice"));
        assert!(!is_valid_name("bob!"));
    }

    #[test]
    fn frames_serialize_with_the_protocol_field_order() {
        let message = Frame::Message {
            id: "1".into(),
            from: "alice".into(),
            text: "hi".into(),
            at: "2025-01-01T00:00:00.000Z".into(),
        };
        assert_eq!(
            String::from_utf8(message.to_bytes()).unwrap(),
            r#"{"type":"message","id":"1","from":"alice","text":"hi","at":"2025-01-01T00:00:00.000Z"}"#
        );
        let error = Frame::error(ErrorCode::PeerOffline, "bob is offline");
        assert_eq!(
            String::from_utf8(error.to_bytes()).unwrap(),
            r#"{"type":"error","code":"peer_offline","message":"bob is offline"}"#
        );
        let who = Frame::Who {
            users: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            String::from_utf8(who.to_bytes()).unwrap(),
            r#"{"type":"who","users":["a","b"]}"#
        );
        let sent = Frame::Sent {
            id: "7".into(),
            to: "bob".into(),
        };
        assert_eq!(
            String::from_utf8(sent.to_bytes()).unwrap(),
            r#"{"type":"sent","id":"7","to":"bob"}"#
        );
    }

    fn send(body: &serde_json::Value) -> Result<SendMessage, Rejection> {
        parse_send_message(body.to_string().as_bytes())
    }

    #[test]
    fn sendmessage_accepts_a_good_message_and_ignores_unknown_fields() {
        let parsed = send(&json!({
            "action": "sendmessage", "to": "bob", "text": "hi", "from": "mallory", "extra": [1]
        }))
        .unwrap();
        assert_eq!(
            parsed,
            SendMessage {
                to: "bob".into(),
                text: "hi".into()
            }
        );
    }

    #[test]
    fn sendmessage_text_limits_count_characters_not_bytes() {
        let at_limit = "é".repeat(MAX_TEXT_CHARS);
        assert_eq!(at_limit.len(), 2 * MAX_TEXT_CHARS);
        assert!(send(&json!({"to": "bob", "text": at_limit})).is_ok());
        let over = "a".repeat(MAX_TEXT_CHARS + 1);
        let rejection = send(&json!({"to": "bob", "text": over})).unwrap_err();
        assert_eq!(rejection.code, ErrorCode::TooLarge);
        assert_eq!(rejection.message, "\"text\" is longer than 4096 characters");
    }

    #[test]
    fn sendmessage_rejects_bad_shapes() {
        let cases: Vec<(&[u8], &str)> = vec![
            (b"not json", "the message is not valid JSON"),
            (b"[1,2]", "the message must be a JSON object"),
            (b"\"hi\"", "the message must be a JSON object"),
            (br#"{"text":"hi"}"#, "\"to\" is missing"),
            (br#"{"to":5,"text":"hi"}"#, "\"to\" must be a string"),
            (
                br#"{"to":"b o b","text":"hi"}"#,
                "\"to\" must be a user name of 1-32 characters from A-Z a-z 0-9 _ -",
            ),
            (br#"{"to":"bob"}"#, "\"text\" is missing"),
            (br#"{"to":"bob","text":null}"#, "\"text\" must be a string"),
            (
                br#"{"to":"bob","text":["hi"]}"#,
                "\"text\" must be a string",
            ),
            (br#"{"to":"bob","text":""}"#, "\"text\" must not be empty"),
        ];
        for (body, message) in cases {
            let rejection = parse_send_message(body).unwrap_err();
            assert_eq!(rejection.code, ErrorCode::BadRequest, "{message}");
            assert_eq!(rejection.message, message);
        }
    }

    #[test]
    fn unrouted_frames_get_unknown_action_or_bad_request() {
        assert_eq!(
            reject_unrouted(br#"{"action":"dance"}"#),
            Rejection::new(
                ErrorCode::UnknownAction,
                "unknown action \"dance\"; use \"sendmessage\" or \"who\""
            )
        );
        assert_eq!(
            reject_unrouted(br#"{"action":7}"#).code,
            ErrorCode::UnknownAction
        );
        for body in [
            &b"hello"[..],
            b"[]",
            b"42",
            br#"{"to":"bob"}"#,
            br#"{"action":null}"#,
        ] {
            assert_eq!(reject_unrouted(body).code, ErrorCode::BadRequest);
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        let at = time::macros::datetime!(2025-03-04 05:06:07.891234 +02:00);
        assert_eq!(format_rfc3339(at), "2025-03-04T03:06:07.891Z");
        let whole = time::macros::datetime!(2025-03-04 05:06:07 UTC);
        assert_eq!(format_rfc3339(whole), "2025-03-04T05:06:07.000Z");
        let now = now_rfc3339();
        assert!(now.ends_with('Z'), "{now}");
        assert!(
            OffsetDateTime::parse(&now, &time::format_description::well_known::Rfc3339).is_ok()
        );
    }

    #[test]
    fn message_ids_are_unique_hex() {
        let a = new_message_id();
        let b = new_message_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
