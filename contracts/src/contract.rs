//! Consumers' contracts: what a consumer of another service's API or change feed relies
//! on, written down by the consumer (`<consumer>-on-<producer>.toml`) and checked in the
//! producer's CI, so that a change that would break the consumer fails there, naming the
//! consumer ("breaks province's contract on cadre.roster.v1: …").
//!
//! A contract pins elements of the producer's descriptors (feed entities and operations
//! by name and number, fields by name, number and type, RPCs with their HTTP rule,
//! streaming and permission) — [`check`] — and states behaviour as cases (this request,
//! with this identity, gets this code and a response containing this), which the suite
//! tests run against the running producer ([`cases`] prepares them).
//!
//! Where contracts live: in the consumer's crate (`services/<consumer>/contracts/`), or
//! for consumers outside the suite (the province) in `contracts/consumers/`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use prost_reflect::{DescriptorPool, DynamicMessage, Kind, MessageDescriptor, MethodDescriptor};
use serde::Deserialize;
use serde_json::Value as Json;

use crate::breaking::{self, cardinality, field_type};
use crate::released::GuardError;

/// Directories that hold contracts, from the repository root (`*` is every service).
pub const CONTRACT_DIRS: &[&str] = &["contracts/consumers", "services/*/contracts"];

/// A consumer's contract on one producer package (or on every change feed).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    /// Named in every failure: `province`, `training`, `kit::follow`.
    pub consumer: String,
    /// The producer's package, `cadre.roster.v1`; `*` for every package with a change feed.
    pub package: String,
    /// Why the consumer relies on this (one line).
    #[serde(default)]
    pub about: String,
    #[serde(default)]
    pub feed: Option<Feed>,
    #[serde(default)]
    pub rpc: Vec<RpcPin>,
    /// Message (relative to the package, or a full name) → field → `"<number> [repeated] <type>"`.
    #[serde(default)]
    pub messages: BTreeMap<String, BTreeMap<String, String>>,
    /// Enum → value name → number.
    #[serde(default)]
    pub enums: BTreeMap<String, BTreeMap<String, i32>>,
    /// Who the cases call as, unless a case says otherwise.
    #[serde(default)]
    pub identity: Identity,
    #[serde(default, rename = "case")]
    pub cases: Vec<Case>,
}

/// The change feed's names the consumer reads: entity and operation → number.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feed {
    #[serde(default)]
    pub entities: BTreeMap<String, i32>,
    #[serde(default)]
    pub operations: BTreeMap<String, i32>,
}

/// An RPC the consumer calls.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RpcPin {
    /// `CadreService.BatchGetCadres` (relative to the package).
    pub name: String,
    /// A REST route it calls: `POST /v1/cadres:batchGet`.
    #[serde(default)]
    pub http: Option<String>,
    /// `unary` (default when pinned), `server`, `client` or `bidi`.
    #[serde(default)]
    pub streaming: Option<String>,
    #[serde(default)]
    pub request: Option<String>,
    #[serde(default)]
    pub response: Option<String>,
    /// The permission its identity is granted for it: `PERMISSION_READ`.
    #[serde(default)]
    pub permission: Option<String>,
}

/// Roles and jurisdiction of a token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    pub roles: Vec<String>,
    pub region: String,
}

impl Default for Identity {
    fn default() -> Self {
        Self { roles: vec!["integration".into()], region: "150000000000".into() }
    }
}

/// Behaviour the consumer relies on, run against the producer by the suite tests.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Named in failures: "a cadre that does not exist".
    pub what: String,
    pub rpc: String,
    /// The request as proto3 JSON.
    #[serde(default = "empty_object")]
    pub request: Json,
    /// The gRPC code (REST: the `code` of the error body): `OK`, `NOT_FOUND`, …
    #[serde(default = "ok")]
    pub code: String,
    /// JSON the response must contain (objects: these keys; lists: these items in order).
    #[serde(default)]
    pub response: Option<Json>,
    /// Another identity than the contract's.
    #[serde(default)]
    pub identity: Option<Identity>,
    /// Call without a token.
    #[serde(default)]
    pub anonymous: bool,
}

fn empty_object() -> Json {
    Json::Object(serde_json::Map::new())
}

fn ok() -> String {
    "OK".into()
}

/// The gRPC codes a case may expect.
pub const CODES: &[&str] = &[
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// Something a contract relies on that the producer no longer provides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub consumer: String,
    pub package: String,
    pub element: String,
    pub what: String,
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "breaks {}'s contract on {}: {}: {}", self.consumer, self.package, self.element, self.what)
    }
}

impl Contract {
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The packages it binds: its own, or every package with a `ChangeService`.
    pub fn packages(&self, pool: &DescriptorPool) -> Vec<String> {
        if self.package == "*" {
            let mut all: Vec<String> = pool
                .services()
                .filter(|s| s.name() == "ChangeService")
                .map(|s| s.package_name().to_string())
                .collect();
            all.sort();
            all.dedup();
            all
        } else {
            vec![self.package.clone()]
        }
    }
}

/// Every contract under `root`'s [`CONTRACT_DIRS`], with its file.
pub fn load_all(root: &Path) -> Result<Vec<(PathBuf, Contract)>, GuardError> {
    let mut files = Vec::new();
    for dir in CONTRACT_DIRS {
        match dir.split_once("/*/") {
            Some((parent, child)) => {
                let parent = root.join(parent);
                for crate_dir in read_dir(&parent)? {
                    files.extend(toml_files(&crate_dir.join(child))?);
                }
            }
            None => files.extend(toml_files(&root.join(dir))?),
        }
    }
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let text =
            std::fs::read_to_string(&path).map_err(|source| GuardError::Io { path: path.clone(), source })?;
        let contract =
            Contract::parse(&text).map_err(|e| GuardError::Contract(format!("{}: {e}", path.display())))?;
        out.push((path, contract));
    }
    Ok(out)
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, GuardError> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.map(|e| e.path()).map_err(|source| GuardError::Io { path: dir.to_path_buf(), source }))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(GuardError::Io { path: dir.to_path_buf(), source }),
    }
}

fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, GuardError> {
    Ok(read_dir(dir)?.into_iter().filter(|p| p.extension().is_some_and(|e| e == "toml")).collect())
}

/// Everything `contract` relies on that `pool` does not provide (empty: it holds).
pub fn check(contract: &Contract, pool: &DescriptorPool) -> Vec<Broken> {
    let packages = contract.packages(pool);
    let mut out = Vec::new();
    if packages.is_empty() {
        out.push(broken(contract, "*", "*", "no package has a ChangeService any more".into()));
    }
    for package in &packages {
        let mut cx = Checker { contract, pool, package, out: &mut out };
        cx.all();
    }
    out
}

fn broken(contract: &Contract, package: &str, element: &str, what: String) -> Broken {
    Broken { consumer: contract.consumer.clone(), package: package.into(), element: element.into(), what }
}

struct Checker<'a> {
    contract: &'a Contract,
    pool: &'a DescriptorPool,
    package: &'a str,
    out: &'a mut Vec<Broken>,
}

impl Checker<'_> {
    fn fail(&mut self, element: &str, what: String) {
        self.out.push(broken(self.contract, self.package, element, what));
    }

    /// `name` relative to the package, else as a full name.
    fn full(&self, name: &str) -> String {
        let relative = format!("{}.{name}", self.package);
        let exists = |n: &str| {
            self.pool.get_message_by_name(n).is_some()
                || self.pool.get_enum_by_name(n).is_some()
                || self.pool.get_service_by_name(n).is_some()
        };
        if exists(&relative) || !exists(name) { relative } else { name.to_string() }
    }

    fn all(&mut self) {
        if self.pool.files().all(|f| f.package_name() != self.package) {
            let package = self.package.to_string();
            self.fail(&package, "the package is gone".into());
            return;
        }
        if let Some(feed) = self.contract.feed.clone() {
            self.feed(&feed);
        }
        for (message, fields) in self.contract.messages.clone() {
            self.message(&message, &fields);
        }
        for (name, values) in self.contract.enums.clone() {
            let full = self.full(&name);
            match self.pool.get_enum_by_name(&full) {
                Some(e) => self.values(&e, &values, "value"),
                None => self.fail(&full, "enum is gone".into()),
            }
        }
        for pin in self.contract.rpc.clone() {
            self.rpc(&pin);
        }
        if let Err(problems) = cases(self.contract, self.pool, self.package) {
            self.out.extend(problems);
        }
    }

    fn feed(&mut self, feed: &Feed) {
        let change = format!("{}.Change", self.package);
        let Some(message) = self.pool.get_message_by_name(&change) else {
            return self.fail(&change, "the change feed's Change message is gone".into());
        };
        for (field, values, what) in [
            ("entity", &feed.entities, "change-feed entity"),
            ("operation", &feed.operations, "change-feed operation"),
        ] {
            if values.is_empty() {
                continue;
            }
            match message.get_field_by_name(field).map(|f| f.kind()) {
                Some(Kind::Enum(e)) => self.values(&e, values, what),
                _ => self.fail(&format!("{change}.{field}"), "is no enum field any more".into()),
            }
        }
    }

    fn values(&mut self, e: &prost_reflect::EnumDescriptor, values: &BTreeMap<String, i32>, what: &str) {
        for (name, number) in values {
            let element = format!("{}.{name}", e.full_name());
            match e.get_value_by_name(name) {
                None => self.fail(&element, format!("{what} `{name}` is gone")),
                Some(v) if v.number() != *number => self.fail(
                    &element,
                    format!("{what} `{name}` is number {}, relied on as {number}", v.number()),
                ),
                Some(_) => {}
            }
        }
    }

    fn message(&mut self, name: &str, fields: &BTreeMap<String, String>) {
        let full = self.full(name);
        let Some(message) = self.pool.get_message_by_name(&full) else {
            return self.fail(&full, "message is gone".into());
        };
        for (field, spec) in fields {
            self.field(&message, field, spec);
        }
    }

    fn field(&mut self, message: &MessageDescriptor, name: &str, spec: &str) {
        let element = format!("{}.{name}", message.full_name());
        let (number, repeated, ty) = match parse_field_spec(spec) {
            Ok(parsed) => parsed,
            Err(e) => return self.fail(&element, format!("contract error: {e}")),
        };
        let Some(field) = message.get_field_by_name(name) else {
            return self.fail(&element, format!("field {number} `{name}` is gone"));
        };
        if field.number() != number {
            self.fail(
                &element,
                format!("field `{name}` is number {}, relied on as {number}", field.number()),
            );
        }
        let want = if is_scalar(&ty) { ty.clone() } else { self.full(&ty) };
        if field_type(&field) != want {
            self.fail(&element, format!("field `{name}` is {}, relied on as {want}", field_type(&field)));
        }
        if repeated != (cardinality(&field) == "repeated") {
            let was = if repeated { "repeated" } else { "singular" };
            self.fail(&element, format!("field `{name}` is {}, relied on as {was}", cardinality(&field)));
        }
    }

    fn rpc(&mut self, pin: &RpcPin) {
        let Some(rpc) = find_rpc(self.pool, self.package, &pin.name) else {
            let element = format!("{}.{}", self.package, pin.name);
            return self.fail(&element, "RPC is gone".into());
        };
        let element = rpc.full_name().to_string();
        if let Some(http) = &pin.http {
            let routes = breaking::http_bindings(&rpc);
            let found = routes.iter().any(|b| format!("{} {}", b.method, b.path) == *http);
            if !found {
                let now: Vec<String> = routes.iter().map(|b| format!("{} {}", b.method, b.path)).collect();
                self.fail(&element, format!("HTTP rule `{http}` is gone (now: {})", none_or(&now)));
            }
        }
        if let Some(streaming) = &pin.streaming {
            let now = match (rpc.is_client_streaming(), rpc.is_server_streaming()) {
                (false, false) => "unary",
                (false, true) => "server",
                (true, false) => "client",
                (true, true) => "bidi",
            };
            if now != streaming {
                self.fail(&element, format!("streaming is {now}, relied on as {streaming}"));
            }
        }
        for (pinned, actual, what) in
            [(&pin.request, rpc.input(), "request"), (&pin.response, rpc.output(), "response")]
        {
            if let Some(name) = pinned {
                let want = self.full(name);
                if actual.full_name() != want {
                    self.fail(&element, format!("{what} is {}, relied on as {want}", actual.full_name()));
                }
            }
        }
        if let Some(permission) = &pin.permission {
            let now = breaking::permission(&rpc).unwrap_or_else(|| "none".into());
            if now != *permission {
                self.fail(&element, format!("permission is {now}, relied on as {permission}"));
            }
        }
    }
}

fn none_or(items: &[String]) -> String {
    if items.is_empty() { "none".into() } else { items.join(", ") }
}

fn find_rpc(pool: &DescriptorPool, package: &str, name: &str) -> Option<MethodDescriptor> {
    let (service, method) = name.rsplit_once(['.', '/'])?;
    let service = pool
        .get_service_by_name(&format!("{package}.{service}"))
        .or_else(|| pool.get_service_by_name(service))?;
    service.methods().find(|m| m.name() == method)
}

const SCALARS: &[&str] = &[
    "double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64",
    "sfixed32", "sfixed64", "bool", "string", "bytes",
];

fn is_scalar(ty: &str) -> bool {
    SCALARS.contains(&ty)
}

/// `"4 string"`, `"13 repeated Post"` → (number, repeated, type).
pub fn parse_field_spec(spec: &str) -> Result<(u32, bool, String), String> {
    let mut words = spec.split_whitespace();
    let number = words
        .next()
        .and_then(|n| n.parse::<u32>().ok())
        .ok_or_else(|| format!("`{spec}`: expected \"<number> [repeated] <type>\""))?;
    let mut next = words.next().ok_or_else(|| format!("`{spec}`: no type"))?;
    let repeated = next == "repeated";
    if repeated {
        next = words.next().ok_or_else(|| format!("`{spec}`: no type after repeated"))?;
    }
    if words.next().is_some() {
        return Err(format!("`{spec}`: expected \"<number> [repeated] <type>\""));
    }
    Ok((number, repeated, next.to_string()))
}

/// A case ready to run: the RPC, its request as a message, who calls, what must come back.
#[derive(Debug, Clone)]
pub struct PreparedCase {
    pub consumer: String,
    pub what: String,
    pub rpc: MethodDescriptor,
    pub request: DynamicMessage,
    /// `None`: no token.
    pub identity: Option<Identity>,
    pub code: String,
    pub response: Option<Json>,
}

impl PreparedCase {
    /// What a failure of this case says.
    pub fn failure(&self, why: &str) -> String {
        format!(
            "breaks {}'s contract on {}: {} ({}): {why}",
            self.consumer,
            self.rpc.parent_service().package_name(),
            self.rpc.full_name(),
            self.what
        )
    }
}

/// The contract's cases on `package`, checked against the descriptors (the RPC exists,
/// the request and expected response still fit its messages, the code is a code).
pub fn cases(
    contract: &Contract,
    pool: &DescriptorPool,
    package: &str,
) -> Result<Vec<PreparedCase>, Vec<Broken>> {
    let mut ready = Vec::new();
    let mut problems = Vec::new();
    for case in &contract.cases {
        let element = format!("{package}.{} ({})", case.rpc, case.what);
        let Some(rpc) = find_rpc(pool, package, &case.rpc) else {
            problems.push(broken(contract, package, &element, "RPC is gone".into()));
            continue;
        };
        if rpc.is_client_streaming() || rpc.is_server_streaming() {
            problems.push(broken(contract, package, &element, "cases are for unary RPCs".into()));
            continue;
        }
        if !CODES.contains(&case.code.as_str()) {
            problems.push(broken(
                contract,
                package,
                &element,
                format!("contract error: no code `{}`", case.code),
            ));
            continue;
        }
        let request = match DynamicMessage::deserialize(rpc.input(), case.request.clone()) {
            Ok(r) => r,
            Err(e) => {
                problems.push(broken(
                    contract,
                    package,
                    &element,
                    format!("the request no longer fits: {e}"),
                ));
                continue;
            }
        };
        if let Some(expected) = &case.response
            && let Err(e) = DynamicMessage::deserialize(rpc.output(), expected.clone())
        {
            problems.push(broken(
                contract,
                package,
                &element,
                format!("the expected response no longer fits: {e}"),
            ));
            continue;
        }
        ready.push(PreparedCase {
            consumer: contract.consumer.clone(),
            what: case.what.clone(),
            rpc,
            request,
            identity: if case.anonymous {
                None
            } else {
                Some(case.identity.clone().unwrap_or_else(|| contract.identity.clone()))
            },
            code: case.code.clone(),
            response: case.response.clone(),
        });
    }
    if problems.is_empty() { Ok(ready) } else { Err(problems) }
}

/// Whether `actual` contains `expected`: objects by key (recursively), lists item by
/// item in order (the actual list may be longer), anything else by equality.
pub fn contains(actual: &Json, expected: &Json) -> Result<(), String> {
    match (actual, expected) {
        (Json::Object(a), Json::Object(e)) => {
            for (key, want) in e {
                let got = a.get(key).ok_or_else(|| format!("`{key}` is missing from {actual}"))?;
                contains(got, want).map_err(|why| format!("{key}: {why}"))?;
            }
            Ok(())
        }
        (Json::Array(a), Json::Array(e)) => {
            if a.len() < e.len() {
                return Err(format!("expected at least {} items, got {actual}", e.len()));
            }
            for (i, (got, want)) in a.iter().zip(e).enumerate() {
                contains(got, want).map_err(|why| format!("[{i}]: {why}"))?;
            }
            Ok(())
        }
        _ if actual == expected => Ok(()),
        _ => Err(format!("expected {expected}, got {actual}")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn suite() -> DescriptorPool {
        DescriptorPool::decode(cadre_proto::FILE_DESCRIPTOR_SET).unwrap()
    }

    const CONTRACT: &str = r#"
consumer = "someone"
package = "cadre.roster.v1"

[feed.entities]
ENTITY_CADRE = 2

[feed.operations]
OPERATION_DELETED = 3

[messages.Cadre]
id = "1 string"
current_posts = "13 repeated Post"

[[rpc]]
name = "CadreService.GetCadre"
http = "GET /v1/cadres/{id}"
streaming = "unary"
request = "GetCadreRequest"
response = "Cadre"
permission = "PERMISSION_READ"

[[case]]
what = "a cadre that does not exist"
rpc = "CadreService.GetCadre"
request = { id = "nobody" }
code = "NOT_FOUND"
"#;

    #[test]
    fn a_contract_the_producer_keeps_holds() {
        let contract = Contract::parse(CONTRACT).unwrap();
        assert_eq!(check(&contract, &suite()), Vec::new());
        let ready = cases(&contract, &suite(), "cadre.roster.v1").unwrap();
        assert_eq!(ready[0].code, "NOT_FOUND");
        assert_eq!(ready[0].identity.as_ref().unwrap().roles, ["integration"]);
    }

    #[test]
    fn what_the_producer_no_longer_provides_names_the_consumer() {
        let text = CONTRACT
            .replace("ENTITY_CADRE = 2", "ENTITY_CADRE = 2\nENTITY_TRAINEE = 40")
            .replace("id = \"1 string\"", "id = \"1 string\"\nname = \"2 string\"\nnickname = \"30 string\"")
            .replace("current_posts = \"13 repeated Post\"", "current_posts = \"13 Post\"")
            .replace("GET /v1/cadres/{id}", "GET /v1/cadre/{id}")
            .replace("request = { id = \"nobody\" }", "request = { cadreId = \"nobody\" }");
        let contract = Contract::parse(&text).unwrap();
        let problems: Vec<String> = check(&contract, &suite()).iter().map(ToString::to_string).collect();
        let expect = [
            "breaks someone's contract on cadre.roster.v1: cadre.roster.v1.Entity.ENTITY_TRAINEE: change-feed entity `ENTITY_TRAINEE` is gone",
            "cadre.roster.v1.Cadre.name: field `name` is number 3, relied on as 2",
            "cadre.roster.v1.Cadre.nickname: field 30 `nickname` is gone",
            "cadre.roster.v1.Cadre.current_posts: field `current_posts` is repeated, relied on as singular",
            "cadre.roster.v1.CadreService.GetCadre: HTTP rule `GET /v1/cadre/{id}` is gone (now: GET /v1/cadres/{id})",
            "CadreService.GetCadre (a cadre that does not exist): the request no longer fits",
        ];
        for e in expect {
            assert!(problems.iter().any(|p| p.contains(e)), "{e}\nnot in {problems:#?}");
        }
        assert_eq!(problems.len(), expect.len(), "{problems:#?}");
    }

    #[test]
    fn every_feed_is_every_package_with_a_change_service() {
        let contract = Contract::parse(
            "consumer = \"kit::follow\"\npackage = \"*\"\n[messages.Change]\nkey = \"4 string\"\n",
        )
        .unwrap();
        assert!(contract.packages(&suite()).contains(&"cadre.roster.v1".to_string()));
        assert_eq!(check(&contract, &suite()), Vec::new());
    }

    #[test]
    fn responses_are_matched_by_what_they_contain() {
        let actual = json!({"cadres": [], "missing": ["a", "b"], "extra": 1});
        assert!(contains(&actual, &json!({"missing": ["a"]})).is_ok());
        assert!(contains(&actual, &json!({"missing": ["b"]})).is_err());
        assert!(contains(&actual, &json!({"other": 1})).unwrap_err().contains("`other` is missing"));
    }

    #[test]
    fn field_specs_parse() {
        assert_eq!(parse_field_spec("4 string").unwrap(), (4, false, "string".into()));
        assert_eq!(parse_field_spec("13 repeated Post").unwrap(), (13, true, "Post".into()));
        assert!(parse_field_spec("string 4").is_err());
        assert!(parse_field_spec("4").is_err());
    }
}
