//! REST/JSON ⇄ protobuf: a request message from path variables, query parameters and
//! the JSON body (proto3 canonical JSON), and the JSON of a response message.
//!
//! Every bad input is an `INVALID_ARGUMENT` whose message starts with the field path
//! (`cadre.education: …`, `regions[1].code: …`, `page_size: …`).

use bytes::Bytes;
use cadre_kit::ApiError;
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage, SerializeOptions, Value,
};
use serde_json::{Map, Value as Json};

use crate::routes::{Route, decode_component};

/// Builds the request message of `route` from the bound path variables, the raw
/// query string and the body bytes.
pub fn request_message(
    route: &Route,
    bound: &[(String, String)],
    query: Option<&str>,
    body: &[u8],
) -> Result<DynamicMessage, ApiError> {
    let input = route.rpc.input();
    let mut root = Map::new();
    if !route.body.is_empty() {
        let value = if body.iter().all(u8::is_ascii_whitespace) {
            Json::Object(Map::new())
        } else {
            strict_json(body)?
        };
        if route.body == "*" {
            match value {
                Json::Object(map) => root = map,
                _ => return Err(ApiError::invalid("body", "expected a JSON object")),
            }
        } else if let Some(field) = input.get_field_by_name(&route.body) {
            root.insert(field.json_name().to_string(), value);
        }
    }
    if route.body != "*" {
        for (key, value) in query_pairs(query)? {
            let fields = resolve(&input, &key)
                .ok_or_else(|| ApiError::invalid(&bounded(&key), "unknown query parameter"))?;
            insert(&mut root, &fields, &key, &value, true)?;
        }
    }
    for (name, value) in bound {
        let fields = resolve(&input, name)
            .ok_or_else(|| ApiError::invalid(name, "path variable is not a request field"))?;
        insert(&mut root, &fields, name, value, false)?;
    }
    let mut message = DynamicMessage::new(input);
    fill(&mut message, Json::Object(root), "")?;
    Ok(message)
}

/// Decodes a response of type `output` and writes its canonical JSON (defaults
/// included, lowerCamelCase names).
pub fn response_json(output: MessageDescriptor, bytes: Bytes) -> Result<Vec<u8>, ApiError> {
    let message = DynamicMessage::decode(output, bytes).map_err(ApiError::internal)?;
    let mut out = Vec::with_capacity(256);
    let mut serializer = serde_json::Serializer::new(&mut out);
    message
        .serialize_with_options(&mut serializer, &SerializeOptions::new().skip_default_fields(false))
        .map_err(ApiError::internal)?;
    Ok(out)
}

/// `a=1&b=x+y` → pairs, percent-decoded.
fn query_pairs(query: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let mut pairs = Vec::new();
    for part in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let key = decode_component(k, true)
            .ok_or_else(|| ApiError::invalid(&bounded(k), "bad percent-encoding"))?;
        let value = decode_component(v, true)
            .ok_or_else(|| ApiError::invalid(&bounded(&key), "bad percent-encoding"))?;
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// Resolves a dotted field path (`cadre.id`, `pageSize`, `page_size`) to its fields.
pub fn resolve(message: &MessageDescriptor, path: &str) -> Option<Vec<FieldDescriptor>> {
    let mut fields = Vec::new();
    let mut current = message.clone();
    for (i, name) in path.split('.').enumerate() {
        if i > 0 {
            let Kind::Message(next) = fields.last().map(FieldDescriptor::kind)? else { return None };
            current = next;
        }
        let field = current.get_field_by_name(name).or_else(|| current.get_field_by_json_name(name))?;
        fields.push(field);
    }
    Some(fields)
}

/// Sets a string from the URL at `fields` inside the JSON tree, typed for the field.
fn insert(
    root: &mut Map<String, Json>,
    fields: &[FieldDescriptor],
    key: &str,
    raw: &str,
    query: bool,
) -> Result<(), ApiError> {
    let Some((last, parents)) = fields.split_last() else { return Ok(()) };
    let mut map = root;
    for parent in parents {
        if parent.is_list() || parent.is_map() {
            return Err(ApiError::invalid(key, "cannot address inside a repeated field from the URL"));
        }
        let entry = map.entry(parent.json_name().to_string()).or_insert_with(|| Json::Object(Map::new()));
        map = match entry {
            Json::Object(inner) => inner,
            _ => return Err(ApiError::invalid(parent.name(), "expected a JSON object")),
        };
    }
    if last.is_map() || matches!(last.kind(), Kind::Message(m) if !is_well_known(&m)) {
        return Err(ApiError::invalid(key, "is a message: set its fields one by one, e.g. field.name=value"));
    }
    let value = url_value(last, raw);
    let name = last.json_name().to_string();
    if last.is_list() {
        match map.entry(name).or_insert_with(|| Json::Array(Vec::new())) {
            Json::Array(items) => items.push(value),
            _ => return Err(ApiError::invalid(last.name(), "expected a JSON array")),
        }
    } else if query && map.contains_key(&name) {
        return Err(ApiError::invalid(key, "given more than once"));
    } else {
        map.insert(name, value);
    }
    Ok(())
}

/// A URL string as the JSON value proto3 JSON expects for the field.
fn url_value(field: &FieldDescriptor, raw: &str) -> Json {
    match field.kind() {
        Kind::Bool if raw == "true" || raw == "false" => Json::Bool(raw == "true"),
        Kind::Enum(_) => raw.parse::<i32>().map(Json::from).unwrap_or_else(|_| Json::String(raw.to_string())),
        _ => Json::String(raw.to_string()),
    }
}

/// `google.protobuf.*` messages have their own JSON forms (Timestamp, FieldMask, …).
fn is_well_known(message: &MessageDescriptor) -> bool {
    message.package_name() == "google.protobuf"
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_string() } else { format!("{path}.{name}") }
}

/// Fills `message` from JSON, naming the path of the first bad field.
fn fill(message: &mut DynamicMessage, value: Json, path: &str) -> Result<(), ApiError> {
    let desc = message.descriptor();
    let label = if path.is_empty() { "body" } else { path };
    if is_well_known(&desc) {
        *message = DynamicMessage::deserialize(desc, value)
            .map_err(|e| ApiError::invalid(label, bounded(&e.to_string())))?;
        return Ok(());
    }
    let Json::Object(map) = value else { return Err(ApiError::invalid(label, "expected a JSON object")) };
    for (key, value) in map {
        let Some(field) = desc.get_field_by_json_name(&key).or_else(|| desc.get_field_by_name(&key)) else {
            return Err(ApiError::invalid(&join(path, &bounded(&key)), "unknown field"));
        };
        let field_path = join(path, field.name());
        if value.is_null() {
            message.clear_field(&field);
            continue;
        }
        match field.kind() {
            Kind::Message(sub) if !field.is_map() && !is_well_known(&sub) => {
                if field.is_list() {
                    let Json::Array(items) = value else {
                        return Err(ApiError::invalid(&field_path, "expected a JSON array"));
                    };
                    let mut list = Vec::with_capacity(items.len());
                    for (i, item) in items.into_iter().enumerate() {
                        let mut element = DynamicMessage::new(sub.clone());
                        fill(&mut element, item, &format!("{field_path}[{i}]"))?;
                        list.push(Value::Message(element));
                    }
                    message.set_field(&field, Value::List(list));
                } else if let Some(inner) = message.get_field_mut(&field).as_message_mut() {
                    fill(inner, value, &field_path)?;
                }
            }
            _ => {
                // Scalars, enums, maps and well-known types: let prost-reflect apply the
                // canonical JSON rules to this one field, so its error names the field.
                let mut single = Map::new();
                single.insert(field.json_name().to_string(), value);
                let parsed = DynamicMessage::deserialize(desc.clone(), Json::Object(single))
                    .map_err(|e| ApiError::invalid(&field_path, bounded(&e.to_string())))?;
                message.set_field(&field, parsed.get_field(&field).into_owned());
            }
        }
    }
    Ok(())
}

/// A name or message from the caller, cut for an error message.
fn bounded(s: &str) -> String {
    cadre_kit::text::bounded(s, 100)
}

/// The body as JSON, refusing a key given twice in one object (at any depth) by its
/// path: `{"name":"A","name":"B"}` would otherwise mean whichever a parser keeps.
pub fn strict_json(body: &[u8]) -> Result<Json, ApiError> {
    use serde::de::DeserializeSeed;
    let duplicate = std::cell::RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = Strict { path: String::new(), duplicate: &duplicate }.deserialize(&mut de).and_then(|v| {
        de.end()?;
        Ok(v)
    });
    match parsed {
        Ok(v) => Ok(v),
        Err(_) if duplicate.borrow().is_some() => {
            let path = duplicate.borrow_mut().take().unwrap_or_default();
            Err(ApiError::invalid(&path, "given more than once in the JSON body"))
        }
        Err(e) => Err(ApiError::invalid("body", format!("not valid JSON: {e}"))),
    }
}

/// Builds a JSON value like `serde_json::Value`'s own deserializer, but notes the path of
/// the first key an object repeats and fails there.
struct Strict<'a> {
    path: String,
    duplicate: &'a std::cell::RefCell<Option<String>>,
}

impl<'de> serde::de::DeserializeSeed<'de> for Strict<'_> {
    type Value = Json;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Strict<'_> {
    type Value = Json;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        loop {
            let seed = Strict { path: format!("{}[{}]", self.path, items.len()), duplicate: self.duplicate };
            match seq.next_element_seed(seed)? {
                Some(v) => items.push(v),
                None => return Ok(Json::Array(items)),
            }
        }
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = join(&self.path, &bounded(&key));
            if out.contains_key(&key) {
                *self.duplicate.borrow_mut() = Some(path.clone());
                return Err(serde::de::Error::custom(format!("duplicate key {path}")));
            }
            let value = map.next_value_seed(Strict { path, duplicate: self.duplicate })?;
            out.insert(key, value);
        }
        Ok(Json::Object(out))
    }
}

/// The Google-style JSON error body and its HTTP status.
pub fn error_body(code: tonic::Code, message: &str) -> (http::StatusCode, Json) {
    let status = cadre_kit::error::http_status_for(code);
    let body = serde_json::json!({ "code": cadre_kit::error::code_name(code), "message": message, "status": status.as_u16() });
    (status, body)
}

#[cfg(test)]
mod tests {
    use http::Method;
    use prost_reflect::DescriptorPool;

    use super::*;
    use crate::routes::{Resolution, RouteTable};

    fn build(method: Method, uri: &str, body: &str) -> Result<DynamicMessage, ApiError> {
        let pool = DescriptorPool::decode(cadre_proto::FILE_DESCRIPTOR_SET).expect("descriptors");
        let table = RouteTable::from_pool(&pool).expect("routes");
        let (path, query) = uri.split_once('?').map_or((uri, None), |(p, q)| (p, Some(q)));
        let Resolution::Found(route, bound) = table.resolve(&method, path) else {
            panic!("no route for {uri}")
        };
        request_message(route, &bound, query, body.as_bytes())
    }

    fn json_of(message: &DynamicMessage) -> Json {
        serde_json::to_value(message).expect("serializes")
    }

    fn message_of(result: Result<DynamicMessage, ApiError>) -> String {
        let e = result.expect_err("refused");
        assert_eq!(e.code, cadre_kit::ErrorCode::InvalidArgument, "{e}");
        e.message
    }

    #[test]
    fn path_and_query_fill_the_request() {
        let m =
            build(Method::GET, "/v1/regions/150525000000/children?pageSize=5&page_token=abc", "").unwrap();
        assert_eq!(m.descriptor().name(), "ListChildRegionsRequest");
        assert_eq!(
            json_of(&m),
            serde_json::json!({"code": "150525000000", "pageSize": 5, "pageToken": "abc"})
        );
    }

    #[test]
    fn repeated_enums_bools_and_escapes_come_from_the_query() {
        let m = build(
            Method::GET,
            "/v1/cadres?tags=BACKGROUND_TAG_VETERAN&tags=3&educationOrAbove=true&nameContains=%E5%BC%A0+%E4%B8%89",
            "",
        )
        .unwrap();
        assert_eq!(
            json_of(&m),
            serde_json::json!({
                "tags": ["BACKGROUND_TAG_VETERAN", "BACKGROUND_TAG_BUSINESS_LEADER"],
                "educationOrAbove": true,
                "nameContains": "张 三"
            })
        );
    }

    #[test]
    fn a_body_field_and_a_nested_path_variable() {
        let m = build(
            Method::POST,
            "/v1/cadres",
            r#"{"name":"其木格","education":"EDUCATION_COLLEGE","tags":[1]}"#,
        )
        .unwrap();
        assert_eq!(
            json_of(&m),
            serde_json::json!({"cadre": {"name": "其木格", "education": "EDUCATION_COLLEGE", "tags": ["BACKGROUND_TAG_RETURNED_GRADUATE"]}})
        );
        let m = build(
            Method::PATCH,
            "/v1/cadres/c-9",
            r#"{"cadre":{"id":"other","revision":"3","phone":"13800000000"},"updateMask":"phone,politicalStatus"}"#,
        )
        .unwrap();
        assert_eq!(
            json_of(&m),
            serde_json::json!({"cadre": {"id": "c-9", "revision": "3", "phone": "13800000000"}, "updateMask": "phone,politicalStatus"})
        );
    }

    #[test]
    fn bad_input_names_the_field() {
        let msg = message_of(build(Method::GET, "/v1/cadres?pageSize=lots", ""));
        assert!(msg.starts_with("page_size:"), "{msg}");
        let msg = message_of(build(Method::GET, "/v1/cadres?colour=red", ""));
        assert!(msg.starts_with("colour:") && msg.contains("unknown"), "{msg}");
        let msg = message_of(build(Method::POST, "/v1/cadres", r#"{"education":"EDUCATION_PHD"}"#));
        assert!(msg.starts_with("cadre.education:"), "{msg}");
        let msg = message_of(build(Method::POST, "/v1/cadres", r#"{"name":7}"#));
        assert!(msg.starts_with("cadre.name:"), "{msg}");
        let msg = message_of(build(Method::POST, "/v1/cadres", r#"{"nickname":"x"}"#));
        assert!(msg.starts_with("cadre.nickname: unknown field"), "{msg}");
        let msg = message_of(build(
            Method::POST,
            "/v1/regions:batchUpsert",
            r#"{"regions":[{"code":"1"},{"code":2,"x":1}]}"#,
        ));
        assert!(msg.starts_with("regions[1].code:"), "{msg}");
        let msg = message_of(build(Method::POST, "/v1/regions:batchUpsert", r#"{"regions":{}}"#));
        assert!(msg.starts_with("regions:"), "{msg}");
        let msg = message_of(build(Method::POST, "/v1/regions:batchUpsert", "[1]"));
        assert!(msg.starts_with("body:"), "{msg}");
        let msg = message_of(build(Method::POST, "/v1/regions:batchUpsert", "{"));
        assert!(msg.starts_with("body: not valid JSON"), "{msg}");
        let msg = message_of(build(Method::PATCH, "/v1/cadres/c", r#"{"cadre":{"createdAt":"yesterday"}}"#));
        assert!(msg.starts_with("cadre.created_at:"), "{msg}");
        let msg = message_of(build(Method::GET, "/v1/cadres?pageSize=1&pageSize=2", ""));
        assert!(msg.contains("more than once"), "{msg}");
        let msg = message_of(build(Method::GET, "/v1/cadres?%zz=1", ""));
        assert!(msg.contains("percent"), "{msg}");
    }

    #[test]
    fn a_key_given_twice_is_refused_by_its_path_at_any_depth() {
        let msg = message_of(build(Method::POST, "/v1/cadres", r#"{"name":"A","education":1,"name":"B"}"#));
        assert!(msg.starts_with("name: given more than once"), "{msg}");
        let msg = message_of(build(
            Method::PATCH,
            "/v1/cadres/c-9",
            r#"{"cadre":{"revision":"3","phone":"1","phone":"2"},"updateMask":"phone"}"#,
        ));
        assert!(msg.starts_with("cadre.phone: given more than once"), "{msg}");
        let msg = message_of(build(
            Method::POST,
            "/v1/regions:batchUpsert",
            r#"{"regions":[{"code":"1"},{"code":"2","name":"x","code":"3"}]}"#,
        ));
        assert!(msg.starts_with("regions[1].code: given more than once"), "{msg}");
        // The same key in two objects is no repeat; a long key is named cut.
        let ok = r#"{"regions":[{"code":"150000000000","name":"a"},{"code":"150500000000","name":"b"}]}"#;
        assert!(build(Method::POST, "/v1/regions:batchUpsert", ok).is_ok());
        let long = "k".repeat(5000);
        let msg = message_of(build(Method::POST, "/v1/cadres", &format!(r#"{{"{long}":1,"{long}":2}}"#)));
        assert!(msg.len() < 300 && msg.contains("given more than once"), "{msg}");
        let msg = message_of(build(Method::POST, "/v1/cadres", r#"{"name":"A"} x"#));
        assert!(msg.starts_with("body: not valid JSON"), "{msg}");
    }

    #[test]
    fn empty_body_with_star_is_an_empty_message() {
        let m = build(Method::POST, "/v1/roster/audit:verify", "").unwrap();
        assert_eq!(json_of(&m), serde_json::json!({}));
    }

    #[test]
    fn responses_are_canonical_json_with_defaults() {
        let pool = DescriptorPool::decode(cadre_proto::FILE_DESCRIPTOR_SET).expect("descriptors");
        let desc = pool.get_message_by_name("cadre.roster.v1.Region").expect("Region");
        let mut region = DynamicMessage::new(desc.clone());
        region.set_field_by_name("code", Value::String("150525000000".into()));
        region.set_field_by_name("revision", Value::I64(2));
        let bytes = Bytes::from(prost::Message::encode_to_vec(&region));
        let json: Json = serde_json::from_slice(&response_json(desc, bytes).unwrap()).unwrap();
        assert_eq!(json["code"], "150525000000");
        assert_eq!(json["revision"], "2");
        assert_eq!(json["level"], "REGION_LEVEL_UNSPECIFIED");
        assert_eq!(json["parentCode"], "");
    }

    #[test]
    fn error_bodies_follow_google_style() {
        let (status, body) = error_body(tonic::Code::PermissionDenied, "outside your jurisdiction");
        assert_eq!(status, http::StatusCode::FORBIDDEN);
        assert_eq!(body["code"], "PERMISSION_DENIED");
        assert_eq!(body["status"], 403);
    }
}
