//! The length bound every string of every request meets before a handler sees it: the
//! kit's server layer checks each unary request message (and the gateway each message it
//! transcodes) against these, so a service cannot forget one. IDs, codes and dates are
//! short; free text is bounded once here, and each service bounds its own fields tighter.

use std::collections::HashMap;
use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, DynamicMessage, FieldDescriptor, MapKey, MessageDescriptor, Value};

use crate::fields::{FieldError, MAX_KEY_CHARS};

/// The longest free text any field may carry (the longest a service keeps today is a
/// growth plan's 4,000 characters).
pub const MAX_TEXT_CHARS: usize = 10_000;

/// The longest JSON document a field named `…_json` may carry (a county-year's assessment
/// rules: lists of dozens of items, tiers, consequences), still far below the body limit.
pub const MAX_DOCUMENT_CHARS: usize = 256 * 1024;

/// The longest page token (a token the kit issued is about 100 characters).
pub const MAX_TOKEN_CHARS: usize = 512;

/// The bound of a string field, by its name: IDs, region codes and dates (`id`,
/// `cadre_id`, `post_ids`, `region_code`, `start_date`, `as_of`) are keys of at most
/// [`MAX_KEY_CHARS`]; page tokens and a bare `code` (a region's, or a signed sign-in
/// code) [`MAX_TOKEN_CHARS`]; a document (`rules_json`) [`MAX_DOCUMENT_CHARS`]; anything else
/// [`MAX_TEXT_CHARS`].
pub fn max_chars(field_name: &str) -> usize {
    let keyish = ["id", "ids", "date", "as_of", "new_since"];
    let suffixes = ["_id", "_ids", "_code", "_codes", "_date", "_as_of"];
    if keyish.contains(&field_name) || suffixes.iter().any(|s| field_name.ends_with(s)) {
        MAX_KEY_CHARS
    } else if field_name.ends_with("page_token") || field_name == "code" || field_name == "codes" {
        MAX_TOKEN_CHARS
    } else if field_name.ends_with("_json") {
        MAX_DOCUMENT_CHARS
    } else {
        MAX_TEXT_CHARS
    }
}

/// Checks every string of `message`, nested messages, lists and maps included; the error
/// names the first field over its bound (`cadre.id`, `ids[3]`) and never echoes it.
pub fn check(message: &DynamicMessage) -> Result<(), FieldError> {
    walk(message, "")
}

fn walk(message: &DynamicMessage, path: &str) -> Result<(), FieldError> {
    for (field, value) in message.fields() {
        let at = if path.is_empty() { field.name().to_string() } else { format!("{path}.{}", field.name()) };
        match value {
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    one(&field, item, &format!("{at}[{i}]"))?;
                }
            }
            Value::Map(entries) => {
                for (key, item) in entries {
                    let label = match key {
                        MapKey::String(k) => {
                            string(&format!("{at} key"), k, MAX_KEY_CHARS)?;
                            format!("{at}[{k:?}]")
                        }
                        other => format!("{at}[{other:?}]"),
                    };
                    let inner = field.kind();
                    let value_field = inner.as_message().and_then(|m| m.get_field_by_name("value"));
                    match value_field {
                        Some(vf) => one(&vf, item, &label)?,
                        None => one(&field, item, &label)?,
                    }
                }
            }
            other => one(&field, other, &at)?,
        }
    }
    Ok(())
}

fn one(field: &FieldDescriptor, value: &Value, at: &str) -> Result<(), FieldError> {
    match value {
        Value::String(s) => string(at, s, max_chars(field.name())),
        Value::Message(m) => walk(m, at),
        _ => Ok(()),
    }
}

fn string(at: &str, s: &str, max: usize) -> Result<(), FieldError> {
    // A string of at most `max` bytes has at most `max` characters: count only longer ones.
    if s.len() > max {
        let n = s.chars().count();
        if n > max {
            return Err(FieldError::new(at, format!("must be at most {max} characters, got {n}")));
        }
    }
    Ok(())
}

/// The request type of the RPC at an HTTP/2 path (`/cadre.roster.v1.CadreService/GetCadre`),
/// from the suite's descriptor set (read once per process).
pub fn request_descriptor(path: &str) -> Option<MessageDescriptor> {
    static INPUTS: OnceLock<HashMap<String, MessageDescriptor>> = OnceLock::new();
    INPUTS
        .get_or_init(|| {
            let Ok(pool) = DescriptorPool::decode(cadre_proto::FILE_DESCRIPTOR_SET) else {
                return HashMap::new();
            };
            pool.services()
                .flat_map(|s| s.methods().collect::<Vec<_>>())
                .map(|m| (format!("/{}/{}", m.parent_service().full_name(), m.name()), m.input()))
                .collect()
        })
        .get(path)
        .cloned()
}

/// Decodes one request message of type `descriptor` and checks its strings.
pub fn decode_and_check(
    descriptor: MessageDescriptor,
    bytes: bytes::Bytes,
) -> Result<DynamicMessage, FieldError> {
    let name = descriptor.full_name().to_string();
    let message = DynamicMessage::decode(descriptor, bytes).map_err(|e| {
        FieldError::new(
            "request",
            format!("is not a valid {name}: {}", crate::text::bounded(&e.to_string(), 200)),
        )
    })?;
    check(&message)?;
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> DescriptorPool {
        DescriptorPool::decode(cadre_proto::FILE_DESCRIPTOR_SET).expect("descriptors")
    }

    fn message(name: &str, json: serde_json::Value) -> DynamicMessage {
        let desc = pool().get_message_by_name(name).expect(name);
        DynamicMessage::deserialize(desc, json).expect("valid JSON")
    }

    #[test]
    fn fields_are_bounded_by_what_they_are() {
        assert_eq!(max_chars("id"), MAX_KEY_CHARS);
        assert_eq!(max_chars("cadre_id"), MAX_KEY_CHARS);
        assert_eq!(max_chars("post_ids"), MAX_KEY_CHARS);
        assert_eq!(max_chars("region_code"), MAX_KEY_CHARS);
        assert_eq!(max_chars("stage_date"), MAX_KEY_CHARS);
        assert_eq!(max_chars("later_as_of"), MAX_KEY_CHARS);
        assert_eq!(max_chars("page_token"), MAX_TOKEN_CHARS);
        assert_eq!(max_chars("code"), MAX_TOKEN_CHARS, "a sign-in code is about 75 characters");
        assert_eq!(max_chars("growth_plan"), MAX_TEXT_CHARS);
        assert_eq!(max_chars("rules_json"), MAX_DOCUMENT_CHARS, "a county's rules, lists and all");
    }

    #[test]
    fn a_long_id_anywhere_is_named_and_not_echoed() {
        let long = "A".repeat(17_000);
        let m = message("cadre.roster.v1.GetCadreRequest", serde_json::json!({ "id": long }));
        let err = check(&m).unwrap_err();
        assert_eq!(err.field, "id");
        assert!(err.reason.contains("17000") && err.to_string().len() < 100, "{err}");
        let m = message("cadre.roster.v1.BatchGetCadresRequest", serde_json::json!({ "ids": ["a", long] }));
        assert_eq!(check(&m).unwrap_err().field, "ids[1]");
        let m = message(
            "cadre.roster.v1.UpdateCadreRequest",
            serde_json::json!({ "cadre": { "id": "c1", "name": "A".repeat(MAX_TEXT_CHARS + 1) } }),
        );
        assert_eq!(check(&m).unwrap_err().field, "cadre.name");
        let m = message("cadre.roster.v1.GetCadreRequest", serde_json::json!({ "id": "c-1" }));
        assert!(check(&m).is_ok());
    }

    #[test]
    fn every_rpc_of_the_suite_has_its_request_type() {
        let get = request_descriptor("/cadre.roster.v1.CadreService/GetCadre").expect("GetCadre");
        assert_eq!(get.full_name(), "cadre.roster.v1.GetCadreRequest");
        assert!(request_descriptor("/cadre.roster.v1.CadreService/Nothing").is_none());
    }

    #[test]
    fn bytes_that_are_not_the_message_are_refused_by_name() {
        let desc = pool().get_message_by_name("cadre.roster.v1.GetCadreRequest").unwrap();
        let err = decode_and_check(desc, bytes::Bytes::from_static(&[0x0a, 0xff, 0x01])).unwrap_err();
        assert!(
            err.to_string().starts_with("request: is not a valid cadre.roster.v1.GetCadreRequest"),
            "{err}"
        );
    }
}
