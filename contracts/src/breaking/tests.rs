//! Each rule on a hand-built package `t.v1`: a before set, one mutation, the violation
//! it must name. The files are `FileDescriptorProto`s written as proto3 JSON (as the
//! gateway's test pools are), built over the suite's own `google.api.http`,
//! `cadre.api.v1.permission` and `cadre.changes.v1` files.

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use serde_json::{Value as Json, json};

use super::*;

fn field(name: &str, number: u32, ty: &str) -> Json {
    let mut f = json!({"name": name, "number": number, "label": "LABEL_OPTIONAL"});
    match ty {
        "string" => f["type"] = json!("TYPE_STRING"),
        "int64" => f["type"] = json!("TYPE_INT64"),
        "int32" => f["type"] = json!("TYPE_INT32"),
        "bool" => f["type"] = json!("TYPE_BOOL"),
        enumeration if enumeration.starts_with("enum ") => {
            f["type"] = json!("TYPE_ENUM");
            f["typeName"] = json!(format!(".{}", &enumeration[5..]));
        }
        message => {
            f["type"] = json!("TYPE_MESSAGE");
            f["typeName"] = json!(format!(".{message}"));
        }
    }
    f
}

fn rpc(name: &str, input: &str, output: &str, verb: &str, path: &str, permission: &str) -> Json {
    json!({
        "name": name,
        "inputType": format!(".{input}"),
        "outputType": format!(".{output}"),
        "options": {
            "[google.api.http]": { verb: path, "body": if verb == "get" { "" } else { "*" } },
            "[cadre.api.v1.permission]": permission,
        }
    })
}

/// `t.v1`: a Cadre with a oneof, an enum, a service with HTTP rules, and a change feed.
fn before() -> Json {
    json!({
        "name": "t/v1/t.proto",
        "package": "t.v1",
        "syntax": "proto3",
        "dependency": [
            "google/api/annotations.proto",
            "cadre/api/v1/annotations.proto",
            "cadre/changes/v1/changes.proto"
        ],
        "messageType": [
            {
                "name": "Cadre",
                "field": [
                    field("id", 1, "string"),
                    field("name", 2, "string"),
                    field("phone", 3, "string"),
                    field("revision", 4, "int64"),
                    {"name": "by_phone", "number": 5, "label": "LABEL_OPTIONAL", "type": "TYPE_BOOL", "oneofIndex": 0},
                    {"name": "by_post", "number": 6, "label": "LABEL_OPTIONAL", "type": "TYPE_BOOL", "oneofIndex": 0},
                    field("kind", 7, "enum t.v1.Kind"),
                ],
                "oneofDecl": [{"name": "contact"}],
                "reservedRange": [{"start": 20, "end": 21}],
                "reservedName": ["old_name"],
            },
            {"name": "GetCadreRequest", "field": [field("id", 1, "string")]},
            {
                "name": "Change",
                "field": [
                    field("position", 1, "int64"),
                    field("entity", 3, "enum t.v1.Entity"),
                    field("key", 4, "string"),
                    field("operation", 5, "enum cadre.changes.v1.Operation"),
                ]
            },
            {"name": "ListChangesResponse", "field": [{"name": "changes", "number": 1, "label": "LABEL_REPEATED", "type": "TYPE_MESSAGE", "typeName": ".t.v1.Change"}]},
        ],
        "enumType": [
            {"name": "Kind", "value": [{"name": "KIND_UNSPECIFIED", "number": 0}, {"name": "KIND_A", "number": 1}]},
            {"name": "Entity", "value": [
                {"name": "ENTITY_UNSPECIFIED", "number": 0},
                {"name": "ENTITY_CADRE", "number": 1},
                {"name": "ENTITY_POST", "number": 2},
            ]},
        ],
        "service": [
            {"name": "CadreService", "method": [
                rpc("GetCadre", "t.v1.GetCadreRequest", "t.v1.Cadre", "get", "/v1/cadres/{id}", "PERMISSION_READ"),
                rpc("CreateCadre", "t.v1.Cadre", "t.v1.Cadre", "post", "/v1/cadres", "PERMISSION_WRITE"),
            ]},
            {"name": "ChangeService", "method": [
                rpc("ListChanges", "cadre.changes.v1.ListChangesRequest", "t.v1.ListChangesResponse", "get", "/v1/t/changes", "PERMISSION_READ"),
            ]},
        ],
    })
}

/// A pool of the suite's option and feed files plus `file` (and `more`).
fn pool_of(files: &[Json]) -> DescriptorPool {
    let suite = DescriptorPool::decode(cadre_proto::FILE_DESCRIPTOR_SET).expect("suite descriptors");
    let mut pool = DescriptorPool::new();
    let mut base = Vec::new();
    for name in
        ["google/api/annotations.proto", "cadre/api/v1/annotations.proto", "cadre/changes/v1/changes.proto"]
    {
        with_imports(&suite.get_file_by_name(name).expect(name), &mut base);
    }
    for file in base {
        pool.decode_file_descriptor_proto(file.as_slice()).expect("suite file");
    }
    let file_type =
        suite.get_message_by_name("google.protobuf.FileDescriptorProto").expect("descriptor.proto");
    for file in files {
        let message = DynamicMessage::deserialize(file_type.clone(), file.clone()).expect("test file JSON");
        pool.decode_file_descriptor_proto(message.encode_to_vec().as_slice()).expect("test file");
    }
    pool
}

fn with_imports(file: &prost_reflect::FileDescriptor, out: &mut Vec<Vec<u8>>) {
    for dependency in file.dependencies() {
        with_imports(&dependency, out);
    }
    let bytes = file.encode_to_vec();
    if !out.contains(&bytes) {
        out.push(bytes);
    }
}

fn diff(after: Json) -> Diff {
    compare(&pool_of(&[before()]), &pool_of(&[after]), &["t.v1".to_string()])
}

fn message<'a>(file: &'a mut Json, name: &str) -> &'a mut Json {
    file["messageType"].as_array_mut().unwrap().iter_mut().find(|m| m["name"] == name).unwrap()
}

fn fields<'a>(file: &'a mut Json, name: &str) -> &'a mut Vec<Json> {
    message(file, name)["field"].as_array_mut().unwrap()
}

fn field_mut<'a>(file: &'a mut Json, msg: &str, name: &str) -> &'a mut Json {
    fields(file, msg).iter_mut().find(|f| f["name"] == name).unwrap()
}

fn method_mut<'a>(file: &'a mut Json, service: &str, name: &str) -> &'a mut Json {
    let s = file["service"].as_array_mut().unwrap().iter_mut().find(|s| s["name"] == service).unwrap();
    s["method"].as_array_mut().unwrap().iter_mut().find(|m| m["name"] == name).unwrap()
}

fn enum_values<'a>(file: &'a mut Json, name: &str) -> &'a mut Vec<Json> {
    let e = file["enumType"].as_array_mut().unwrap().iter_mut().find(|e| e["name"] == name).unwrap();
    e["value"].as_array_mut().unwrap()
}

/// The one violation of `d`, which must be `rule` on `element`.
#[track_caller]
fn only(d: &Diff, element: &str, rule: Rule) -> String {
    assert_eq!(d.violations.len(), 1, "{:#?}", d.violations);
    let v = &d.violations[0];
    assert_eq!((v.element.as_str(), v.rule), (element, rule), "{v}");
    v.to_string()
}

#[test]
fn the_same_api_passes() {
    let d = diff(before());
    assert_eq!(d, Diff::default());
}

#[test]
fn additions_pass_and_are_listed() {
    let mut after = before();
    fields(&mut after, "Cadre").push(field("nickname", 8, "string"));
    enum_values(&mut after, "Entity").push(json!({"name": "ENTITY_REGION", "number": 3}));
    enum_values(&mut after, "Kind").push(json!({"name": "KIND_B", "number": 2}));
    after["messageType"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "Region", "field": [field("code", 1, "string")]}));
    let s =
        after["service"].as_array_mut().unwrap().iter_mut().find(|s| s["name"] == "CadreService").unwrap();
    s["method"].as_array_mut().unwrap().push(rpc(
        "ListCadres",
        "t.v1.GetCadreRequest",
        "t.v1.Cadre",
        "get",
        "/v1/cadres",
        "PERMISSION_READ",
    ));
    let d = diff(after);
    assert!(!d.is_breaking(), "{:#?}", d.violations);
    let added: Vec<&str> = d.additions.iter().map(|a| a.element.as_str()).collect();
    for element in [
        "t.v1.Cadre.nickname",
        "t.v1.Entity.ENTITY_REGION",
        "t.v1.Kind.KIND_B",
        "t.v1.Region",
        "t.v1.CadreService.ListCadres",
    ] {
        assert!(added.contains(&element), "{element} not in {added:?}");
    }
    // The new message is one addition, not one per field.
    assert!(!added.contains(&"t.v1.Region.code"), "{added:?}");
}

#[test]
fn a_removed_field_is_named() {
    let mut after = before();
    fields(&mut after, "Cadre").retain(|f| f["name"] != "phone");
    let text = only(&diff(after), "t.v1.Cadre.phone", Rule::FieldNoDelete);
    assert!(text.contains("field 3 `phone` (string) deleted"), "{text}");
    assert!(text.contains("reserved 3, \"phone\""), "{text}");
}

#[test]
fn a_removed_field_stays_a_break_when_reserved() {
    let mut after = before();
    fields(&mut after, "Cadre").retain(|f| f["name"] != "phone");
    message(&mut after, "Cadre")["reservedRange"].as_array_mut().unwrap().push(json!({"start": 3, "end": 4}));
    message(&mut after, "Cadre")["reservedName"].as_array_mut().unwrap().push(json!("phone"));
    let text = only(&diff(after), "t.v1.Cadre.phone", Rule::FieldNoDelete);
    assert!(text.contains("v2"), "{text}");
}

#[test]
fn a_renumbered_field_is_named() {
    let mut after = before();
    field_mut(&mut after, "Cadre", "phone")["number"] = json!(9);
    let text = only(&diff(after), "t.v1.Cadre.phone", Rule::FieldSameNumber);
    assert!(text.contains("renumbered from 3 to 9"), "{text}");
}

#[test]
fn a_number_reused_without_reserved_is_named() {
    let mut after = before();
    field_mut(&mut after, "Cadre", "phone")["name"] = json!("mobile");
    let text = only(&diff(after), "t.v1.Cadre.phone", Rule::FieldSameName);
    assert!(text.contains("number 3 was `phone`, now `mobile`"), "{text}");
    assert!(text.contains("reused"), "{text}");
}

#[test]
fn a_changed_type_is_named() {
    let mut after = before();
    field_mut(&mut after, "Cadre", "revision")["type"] = json!("TYPE_INT32");
    let text = only(&diff(after), "t.v1.Cadre.revision", Rule::FieldSameType);
    assert!(text.contains("type was int64, now int32"), "{text}");
}

#[test]
fn a_changed_cardinality_is_named() {
    let mut after = before();
    field_mut(&mut after, "Cadre", "name")["label"] = json!("LABEL_REPEATED");
    let text = only(&diff(after), "t.v1.Cadre.name", Rule::FieldSameCardinality);
    assert!(text.contains("was implicit, now repeated"), "{text}");

    // proto3 `optional` (explicit presence) is another cardinality too.
    let mut after = before();
    let f = field_mut(&mut after, "Cadre", "name");
    f["proto3Optional"] = json!(true);
    f["oneofIndex"] = json!(1);
    message(&mut after, "Cadre")["oneofDecl"].as_array_mut().unwrap().push(json!({"name": "_name"}));
    let text = only(&diff(after), "t.v1.Cadre.name", Rule::FieldSameCardinality);
    assert!(text.contains("was implicit, now optional"), "{text}");
}

#[test]
fn moving_into_or_out_of_a_oneof_is_named() {
    let mut after = before();
    field_mut(&mut after, "Cadre", "phone")["oneofIndex"] = json!(0);
    let text = only(&diff(after), "t.v1.Cadre.phone", Rule::FieldSameOneof);
    assert!(text.contains("was in no oneof, now in oneof `contact`"), "{text}");

    let mut after = before();
    field_mut(&mut after, "Cadre", "by_post").as_object_mut().unwrap().remove("oneofIndex");
    let text = only(&diff(after), "t.v1.Cadre.by_post", Rule::FieldSameOneof);
    assert!(text.contains("was in oneof `contact`, now in no oneof"), "{text}");
}

#[test]
fn removed_reservations_and_oneofs_are_named() {
    let mut after = before();
    message(&mut after, "Cadre")["reservedRange"] = json!([]);
    message(&mut after, "Cadre")["reservedName"] = json!([]);
    let d = diff(after);
    let rules: Vec<Rule> = d.violations.iter().map(|v| v.rule).collect();
    assert_eq!(rules, [Rule::ReservedMessageNoDelete, Rule::ReservedMessageNoDelete], "{:#?}", d.violations);

    let mut after = before();
    for name in ["by_phone", "by_post"] {
        field_mut(&mut after, "Cadre", name).as_object_mut().unwrap().remove("oneofIndex");
    }
    message(&mut after, "Cadre")["oneofDecl"] = json!([]);
    let d = diff(after);
    assert!(d.violations.iter().any(|v| v.rule == Rule::OneofNoDelete && v.element == "t.v1.Cadre.contact"));
}

#[test]
fn a_removed_or_renamed_enum_value_is_named() {
    let mut after = before();
    enum_values(&mut after, "Kind").retain(|v| v["name"] != "KIND_A");
    only(&diff(after), "t.v1.Kind.KIND_A", Rule::EnumValueNoDelete);

    let mut after = before();
    enum_values(&mut after, "Kind")[1]["name"] = json!("KIND_ALPHA");
    let text = only(&diff(after), "t.v1.Kind.KIND_A", Rule::EnumValueSameName);
    assert!(text.contains("now `KIND_ALPHA`"), "{text}");
}

#[test]
fn a_removed_change_feed_entity_is_named_as_such() {
    let mut after = before();
    enum_values(&mut after, "Entity").retain(|v| v["name"] != "ENTITY_POST");
    let text = only(&diff(after), "t.v1.Entity.ENTITY_POST", Rule::FeedEntityNoDelete);
    assert!(text.contains("change-feed entity 2 `ENTITY_POST` deleted"), "{text}");

    let mut after = before();
    enum_values(&mut after, "Entity")[1]["name"] = json!("ENTITY_PERSON");
    only(&diff(after), "t.v1.Entity.ENTITY_CADRE", Rule::FeedEntitySameName);
}

#[test]
fn a_removed_change_feed_operation_is_named_as_such() {
    // The operation lives in the shared package: compare that one, before and after.
    let suite = DescriptorPool::decode(cadre_proto::FILE_DESCRIPTOR_SET).unwrap();
    let file_type = suite.get_message_by_name("google.protobuf.FileDescriptorProto").unwrap();
    let changes = suite.get_file_by_name("cadre/changes/v1/changes.proto").unwrap();
    let mut json_file = serde_json::to_value(
        DynamicMessage::decode(file_type.clone(), changes.encode_to_vec().as_slice()).unwrap(),
    )
    .unwrap();
    let operation =
        json_file["enumType"].as_array_mut().unwrap().iter_mut().find(|e| e["name"] == "Operation").unwrap();
    operation["value"].as_array_mut().unwrap().retain(|v| v["name"] != "OPERATION_DELETED");
    let mutated = DynamicMessage::deserialize(file_type, json_file).unwrap().encode_to_vec();

    let mut after = DescriptorPool::new();
    for file in suite.files() {
        let bytes = if file.name() == changes.name() { mutated.clone() } else { file.encode_to_vec() };
        after.decode_file_descriptor_proto(bytes.as_slice()).unwrap();
    }
    let d = compare(&suite, &after, &["cadre.changes.v1".to_string()]);
    only(&d, "cadre.changes.v1.Operation.OPERATION_DELETED", Rule::FeedOperationNoDelete);
}

#[test]
fn a_changed_or_removed_http_rule_is_named() {
    let mut after = before();
    method_mut(&mut after, "CadreService", "GetCadre")["options"]["[google.api.http]"] =
        json!({"get": "/v1/cadre/{id}"});
    let text = only(&diff(after), "t.v1.CadreService.GetCadre", Rule::RpcSameHttpRule);
    assert!(text.contains("`GET /v1/cadres/{id}` is gone (now: GET /v1/cadre/{id})"), "{text}");

    let mut after = before();
    method_mut(&mut after, "CadreService", "CreateCadre")["options"]["[google.api.http]"] =
        json!({"put": "/v1/cadres", "body": "*"});
    only(&diff(after), "t.v1.CadreService.CreateCadre", Rule::RpcSameHttpRule);

    let mut after = before();
    method_mut(&mut after, "CadreService", "GetCadre")["options"]
        .as_object_mut()
        .unwrap()
        .remove("[google.api.http]");
    let text = only(&diff(after), "t.v1.CadreService.GetCadre", Rule::RpcSameHttpRule);
    assert!(text.contains("(now: none)"), "{text}");

    // Another route beside the old one is an addition.
    let mut after = before();
    method_mut(&mut after, "CadreService", "GetCadre")["options"]["[google.api.http]"]["additionalBindings"] =
        json!([{"get": "/v1/people/{id}"}]);
    let d = diff(after);
    assert!(!d.is_breaking(), "{:#?}", d.violations);
    assert_eq!(d.additions.len(), 1, "{:#?}", d.additions);
}

#[test]
fn a_changed_streaming_kind_is_named() {
    let mut after = before();
    method_mut(&mut after, "CadreService", "GetCadre")["serverStreaming"] = json!(true);
    only(&diff(after), "t.v1.CadreService.GetCadre", Rule::RpcSameServerStreaming);
    let mut after = before();
    method_mut(&mut after, "CadreService", "CreateCadre")["clientStreaming"] = json!(true);
    only(&diff(after), "t.v1.CadreService.CreateCadre", Rule::RpcSameClientStreaming);
}

#[test]
fn rpc_types_permission_and_idempotency_are_kept() {
    let mut after = before();
    method_mut(&mut after, "CadreService", "GetCadre")["outputType"] = json!(".t.v1.GetCadreRequest");
    only(&diff(after), "t.v1.CadreService.GetCadre", Rule::RpcSameResponseType);

    let mut after = before();
    method_mut(&mut after, "CadreService", "GetCadre")["options"]["[cadre.api.v1.permission]"] =
        json!("PERMISSION_WRITE");
    let text = only(&diff(after), "t.v1.CadreService.GetCadre", Rule::RpcSamePermission);
    assert!(text.contains("was PERMISSION_READ, now PERMISSION_WRITE"), "{text}");

    let mut after = before();
    method_mut(&mut after, "CadreService", "GetCadre")["options"]["idempotencyLevel"] =
        json!("NO_SIDE_EFFECTS");
    only(&diff(after), "t.v1.CadreService.GetCadre", Rule::RpcSameIdempotencyLevel);
}

#[test]
fn removed_rpcs_services_messages_and_packages_are_named() {
    let mut after = before();
    let s =
        after["service"].as_array_mut().unwrap().iter_mut().find(|s| s["name"] == "CadreService").unwrap();
    s["method"].as_array_mut().unwrap().retain(|m| m["name"] != "CreateCadre");
    only(&diff(after), "t.v1.CadreService.CreateCadre", Rule::RpcNoDelete);

    let mut after = before();
    after["service"].as_array_mut().unwrap().retain(|s| s["name"] != "CadreService");
    only(&diff(after), "t.v1.CadreService", Rule::ServiceNoDelete);

    // A renamed message is a deleted one (and every reference to it changes type).
    let mut after = before();
    message(&mut after, "GetCadreRequest")["name"] = json!("FetchCadreRequest");
    method_mut(&mut after, "CadreService", "GetCadre")["inputType"] = json!(".t.v1.FetchCadreRequest");
    let d = diff(after);
    assert!(
        d.violations.iter().any(|v| v.element == "t.v1.GetCadreRequest" && v.rule == Rule::MessageNoDelete)
    );
    assert!(d.violations.iter().any(|v| v.rule == Rule::RpcSameRequestType));

    // A renamed package is a deleted one; its successor beside it is an addition.
    let mut after = before();
    after["package"] = json!("t.v2");
    after["name"] = json!("t/v2/t.proto");
    let text = serde_json::to_string(&after).unwrap().replace(".t.v1.", ".t.v2.");
    let after: Json = serde_json::from_str(&text).unwrap();
    let d = compare(&pool_of(&[before()]), &pool_of(&[after]), &["t.v1".into(), "t.v2".into()]);
    only(&d, "t.v1", Rule::PackageNoDelete);
    assert_eq!(d.additions[0].element, "t.v2");
}

#[test]
fn a_v2_beside_v1_passes() {
    let mut v2 = before();
    v2["package"] = json!("t.v2");
    v2["name"] = json!("t/v2/t.proto");
    let text = serde_json::to_string(&v2).unwrap().replace(".t.v1.", ".t.v2.");
    let mut v2: Json = serde_json::from_str(&text).unwrap();
    fields(&mut v2, "Cadre").retain(|f| f["name"] != "phone");
    let d = compare(&pool_of(&[before()]), &pool_of(&[before(), v2]), &["t.v1".into(), "t.v2".into()]);
    assert!(!d.is_breaking(), "{:#?}", d.violations);
}

#[test]
fn moving_a_message_to_another_file_breaks_per_file_code() {
    let mut after = before();
    let moved = {
        let all = after["messageType"].as_array_mut().unwrap();
        let i = all.iter().position(|m| m["name"] == "GetCadreRequest").unwrap();
        all.remove(i)
    };
    let other = json!({
        "name": "t/v1/requests.proto",
        "package": "t.v1",
        "syntax": "proto3",
        "messageType": [moved],
    });
    after["dependency"].as_array_mut().unwrap().push(json!("t/v1/requests.proto"));
    let d = compare(&pool_of(&[before()]), &pool_of(&[other, after]), &["t.v1".to_string()]);
    let text = only(&d, "t.v1.GetCadreRequest", Rule::MessageNoDelete);
    assert!(text.contains("moved from t/v1/t.proto to t/v1/requests.proto"), "{text}");
}

#[test]
fn file_options_are_kept() {
    let mut after = before();
    after["options"] = json!({"goPackage": "example.com/t/v1"});
    let text = only(&diff(after), "t/v1/t.proto", Rule::FileSameOption("FILE_SAME_GO_PACKAGE"));
    assert!(text.contains("go_package was unset"), "{text}");
}
