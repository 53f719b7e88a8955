//! Descriptor pools for tests: a few services whose methods carry HTTP rules, built
//! without compiling a `.proto`, so a test can declare the rules it needs (clashing
//! routes, RPC names shared by two services).
//!
//! The rule extension and the file that defines it come from the suite's own
//! descriptor set, found by [`HTTP_RULE_EXTENSION`]: renaming the option is a
//! one-line change in `routes.rs`, not here.

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, FileDescriptor};
use serde_json::json;

use crate::routes::HTTP_RULE_EXTENSION;

/// One RPC of a test pool: `service` is a full name (`a.v1.Things`); `verb` is the
/// rule's field (`get`, `post`, …). Every RPC takes and returns `<package>.Thing`,
/// which has the string fields `id` and `name`.
pub(crate) struct Rpc {
    pub service: &'static str,
    pub method: &'static str,
    pub verb: &'static str,
    pub path: &'static str,
}

pub(crate) const fn rpc(
    service: &'static str,
    method: &'static str,
    verb: &'static str,
    path: &'static str,
) -> Rpc {
    Rpc { service, method, verb, path }
}

/// A pool holding the rule extension's file (and what it imports) plus one file per
/// package of `rpcs`.
pub(crate) fn pool(rpcs: &[Rpc]) -> DescriptorPool {
    let suite = DescriptorPool::decode(cadre_proto::FILE_DESCRIPTOR_SET).expect("suite descriptors");
    let ext = suite.get_extension_by_name(HTTP_RULE_EXTENSION).expect("HTTP rule extension");
    let rule_file = ext.parent_file();
    let mut files = Vec::new();
    with_imports(&rule_file, &mut files);
    let mut pool = DescriptorPool::new();
    pool.add_file_descriptor_protos(files).expect("rule extension's files");

    let mut packages: Vec<&str> = rpcs.iter().map(|r| package_of(r.service)).collect();
    packages.sort_unstable();
    packages.dedup();
    let file_type =
        suite.get_message_by_name("google.protobuf.FileDescriptorProto").expect("descriptor.proto");
    for package in packages {
        let mut services: Vec<(&str, Vec<serde_json::Value>)> = Vec::new();
        for r in rpcs.iter().filter(|r| package_of(r.service) == package) {
            let name = &r.service[package.len() + 1..];
            let thing = format!(".{package}.Thing");
            let method = json!({
                "name": r.method,
                "inputType": thing,
                "outputType": thing,
                "options": { format!("[{HTTP_RULE_EXTENSION}]"): { r.verb: r.path } },
            });
            match services.iter_mut().find(|(s, _)| *s == name) {
                Some((_, methods)) => methods.push(method),
                None => services.push((name, vec![method])),
            }
        }
        let string_field = |name: &str, number: i32| json!({"name": name, "jsonName": name, "number": number, "label": "LABEL_OPTIONAL", "type": "TYPE_STRING"});
        let file = json!({
            "name": format!("{}.proto", package.replace('.', "/")),
            "package": package,
            "dependency": [rule_file.name()],
            "syntax": "proto3",
            "messageType": [{"name": "Thing", "field": [string_field("id", 1), string_field("name", 2)]}],
            "service": services
                .into_iter()
                .map(|(name, methods)| json!({"name": name, "method": methods}))
                .collect::<Vec<_>>(),
        });
        // Through a dynamic message so the extension option is encoded (prost_types
        // has no field for it).
        let file = DynamicMessage::deserialize(file_type.clone(), file).expect("test file descriptor");
        pool.decode_file_descriptor_proto(file.encode_to_vec().as_slice()).expect("test file");
    }
    pool
}

fn package_of(service: &str) -> &str {
    service.rsplit_once('.').map_or("", |(package, _)| package)
}

/// `file` after everything it imports, each once.
fn with_imports(file: &FileDescriptor, out: &mut Vec<prost_reflect::prost_types::FileDescriptorProto>) {
    for dependency in file.dependencies() {
        with_imports(&dependency, out);
    }
    if !out.iter().any(|f| f.name() == file.name()) {
        out.push(file.file_descriptor_proto().clone());
    }
}
