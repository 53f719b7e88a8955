//! The breaking-change guard's comparison: the API as released against the API as it
//! is now, package by package, every difference that would break a client named as a
//! [`Violation`] (element, [`Rule`], detail). Additions are listed apart and never fail.
//!
//! The rules are `buf breaking`'s FILE category where it applies to what we write
//! (proto3, no language options of our own), plus what buf cannot see: the HTTP rule a
//! REST client calls, the permission an RPC asks for, and the change-feed enums other
//! teams and the province follow. Rule ids keep buf's spelling so its documentation
//! explains them; ours are marked in [`Rule::ours`].

use std::fmt;

use prost_reflect::{
    Cardinality, DescriptorPool, EnumDescriptor, ExtensionDescriptor, FieldDescriptor, FileDescriptor, Kind,
    MessageDescriptor, MethodDescriptor, ServiceDescriptor, Syntax, Value,
};

/// The option that carries an RPC's REST route.
pub const HTTP_RULE_EXTENSION: &str = "google.api.http";
/// The option that says who may call an RPC.
pub const PERMISSION_EXTENSION: &str = "cadre.api.v1.permission";

/// Why a difference breaks someone. `id()` is buf's rule id where buf has the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    PackageNoDelete,
    FileNoDelete,
    FileSamePackage,
    FileSameSyntax,
    /// One of the language options of a file (`FILE_SAME_GO_PACKAGE`, …).
    FileSameOption(&'static str),
    MessageNoDelete,
    MessageSameMessageSetWireFormat,
    MessageNoRemoveStandardDescriptorAccessor,
    OneofNoDelete,
    FieldNoDelete,
    /// Ours: a field whose name now has another number (buf sees a deletion).
    FieldSameNumber,
    FieldSameName,
    FieldSameJsonName,
    FieldSameType,
    FieldSameCardinality,
    FieldSameOneof,
    FieldSameDefault,
    FieldSameCtype,
    FieldSameJstype,
    ReservedMessageNoDelete,
    ExtensionMessageNoDelete,
    ExtensionNoDelete,
    EnumNoDelete,
    EnumValueNoDelete,
    EnumValueSameName,
    ReservedEnumNoDelete,
    ServiceNoDelete,
    RpcNoDelete,
    RpcSameRequestType,
    RpcSameResponseType,
    RpcSameClientStreaming,
    RpcSameServerStreaming,
    RpcSameIdempotencyLevel,
    /// Ours: a REST route (method, path, body) removed or changed.
    RpcSameHttpRule,
    /// Ours: the permission an RPC asks for changed: callers allowed yesterday may get 403.
    RpcSamePermission,
    /// Ours: a kind of record gone from a change feed.
    FeedEntityNoDelete,
    /// Ours: a feed entity renamed (JSON carries names).
    FeedEntitySameName,
    /// Ours: an operation of the change feed gone.
    FeedOperationNoDelete,
    /// Ours: an operation renamed.
    FeedOperationSameName,
}

impl Rule {
    pub fn id(self) -> &'static str {
        match self {
            Self::PackageNoDelete => "PACKAGE_NO_DELETE",
            Self::FileNoDelete => "FILE_NO_DELETE",
            Self::FileSamePackage => "FILE_SAME_PACKAGE",
            Self::FileSameSyntax => "FILE_SAME_SYNTAX",
            Self::FileSameOption(id) => id,
            Self::MessageNoDelete => "MESSAGE_NO_DELETE",
            Self::MessageSameMessageSetWireFormat => "MESSAGE_SAME_MESSAGE_SET_WIRE_FORMAT",
            Self::MessageNoRemoveStandardDescriptorAccessor => {
                "MESSAGE_NO_REMOVE_STANDARD_DESCRIPTOR_ACCESSOR"
            }
            Self::OneofNoDelete => "ONEOF_NO_DELETE",
            Self::FieldNoDelete => "FIELD_NO_DELETE",
            Self::FieldSameNumber => "FIELD_SAME_NUMBER",
            Self::FieldSameName => "FIELD_SAME_NAME",
            Self::FieldSameJsonName => "FIELD_SAME_JSON_NAME",
            Self::FieldSameType => "FIELD_SAME_TYPE",
            Self::FieldSameCardinality => "FIELD_SAME_CARDINALITY",
            Self::FieldSameOneof => "FIELD_SAME_ONEOF",
            Self::FieldSameDefault => "FIELD_SAME_DEFAULT",
            Self::FieldSameCtype => "FIELD_SAME_CTYPE",
            Self::FieldSameJstype => "FIELD_SAME_JSTYPE",
            Self::ReservedMessageNoDelete => "RESERVED_MESSAGE_NO_DELETE",
            Self::ExtensionMessageNoDelete => "EXTENSION_MESSAGE_NO_DELETE",
            Self::ExtensionNoDelete => "EXTENSION_NO_DELETE",
            Self::EnumNoDelete => "ENUM_NO_DELETE",
            Self::EnumValueNoDelete => "ENUM_VALUE_NO_DELETE",
            Self::EnumValueSameName => "ENUM_VALUE_SAME_NAME",
            Self::ReservedEnumNoDelete => "RESERVED_ENUM_NO_DELETE",
            Self::ServiceNoDelete => "SERVICE_NO_DELETE",
            Self::RpcNoDelete => "RPC_NO_DELETE",
            Self::RpcSameRequestType => "RPC_SAME_REQUEST_TYPE",
            Self::RpcSameResponseType => "RPC_SAME_RESPONSE_TYPE",
            Self::RpcSameClientStreaming => "RPC_SAME_CLIENT_STREAMING",
            Self::RpcSameServerStreaming => "RPC_SAME_SERVER_STREAMING",
            Self::RpcSameIdempotencyLevel => "RPC_SAME_IDEMPOTENCY_LEVEL",
            Self::RpcSameHttpRule => "RPC_SAME_HTTP_RULE",
            Self::RpcSamePermission => "RPC_SAME_PERMISSION",
            Self::FeedEntityNoDelete => "FEED_ENTITY_NO_DELETE",
            Self::FeedEntitySameName => "FEED_ENTITY_SAME_NAME",
            Self::FeedOperationNoDelete => "FEED_OPERATION_NO_DELETE",
            Self::FeedOperationSameName => "FEED_OPERATION_SAME_NAME",
        }
    }

    /// Rules buf does not have (or files under PACKAGE, not FILE): ours.
    pub fn ours(self) -> bool {
        matches!(
            self,
            Self::PackageNoDelete
                | Self::FieldSameNumber
                | Self::RpcSameHttpRule
                | Self::RpcSamePermission
                | Self::FeedEntityNoDelete
                | Self::FeedEntitySameName
                | Self::FeedOperationNoDelete
                | Self::FeedOperationSameName
        )
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// One difference that breaks a client: which element, by which rule, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Full name: `cadre.roster.v1.Cadre.id_number`, `cadre.roster.v1.CadreService.GetCadre`,
    /// `cadre.roster.v1.Entity.ENTITY_POST`, a package or a file path.
    pub element: String,
    pub rule: Rule,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.element, self.rule, self.detail)
    }
}

/// An element that is new: the outermost one (a new message, not each of its fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addition {
    pub element: String,
    pub what: String,
}

impl fmt::Display for Addition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.element, self.what)
    }
}

/// What changed between two versions of some packages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    pub violations: Vec<Violation>,
    pub additions: Vec<Addition>,
}

impl Diff {
    pub fn is_breaking(&self) -> bool {
        !self.violations.is_empty()
    }
}

/// Compares `packages` as `released` has them with `current`. A package only in
/// `current` is an addition; one only in `released` is deleted.
pub fn compare(released: &DescriptorPool, current: &DescriptorPool, packages: &[String]) -> Diff {
    let mut cx = Compare { diff: Diff::default(), feed_enums: feed_enums(released, current) };
    for package in packages {
        cx.package(released, current, package);
    }
    cx.diff
}

/// Which enums a change feed carries (the `entity` and `operation` of each package's
/// `Change`, where the package has a `ChangeService`), in either version.
fn feed_enums(released: &DescriptorPool, current: &DescriptorPool) -> Vec<(String, FeedEnum)> {
    let mut out = Vec::new();
    for pool in [released, current] {
        for service in pool.services().filter(|s| s.name() == "ChangeService") {
            let Some(change) = pool.get_message_by_name(&format!("{}.Change", service.package_name())) else {
                continue;
            };
            for (field, kind) in [("entity", FeedEnum::Entity), ("operation", FeedEnum::Operation)] {
                if let Some(Kind::Enum(e)) = change.get_field_by_name(field).map(|f| f.kind()) {
                    let name = e.full_name().to_string();
                    if !out.iter().any(|(n, _)| *n == name) {
                        out.push((name, kind));
                    }
                }
            }
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FeedEnum {
    Entity,
    Operation,
}

/// The language options buf's FILE category keeps stable, and their rules.
const FILE_OPTIONS: &[(&str, &str)] = &[
    ("java_package", "FILE_SAME_JAVA_PACKAGE"),
    ("java_outer_classname", "FILE_SAME_JAVA_OUTER_CLASSNAME"),
    ("java_multiple_files", "FILE_SAME_JAVA_MULTIPLE_FILES"),
    ("java_string_check_utf8", "FILE_SAME_JAVA_STRING_CHECK_UTF8"),
    ("java_generic_services", "FILE_SAME_JAVA_GENERIC_SERVICES"),
    ("go_package", "FILE_SAME_GO_PACKAGE"),
    ("optimize_for", "FILE_SAME_OPTIMIZE_FOR"),
    ("cc_generic_services", "FILE_SAME_CC_GENERIC_SERVICES"),
    ("cc_enable_arenas", "FILE_SAME_CC_ENABLE_ARENAS"),
    ("py_generic_services", "FILE_SAME_PY_GENERIC_SERVICES"),
    ("php_generic_services", "FILE_SAME_PHP_GENERIC_SERVICES"),
    ("objc_class_prefix", "FILE_SAME_OBJC_CLASS_PREFIX"),
    ("csharp_namespace", "FILE_SAME_CSHARP_NAMESPACE"),
    ("swift_prefix", "FILE_SAME_SWIFT_PREFIX"),
    ("php_class_prefix", "FILE_SAME_PHP_CLASS_PREFIX"),
    ("php_namespace", "FILE_SAME_PHP_NAMESPACE"),
    ("php_metadata_namespace", "FILE_SAME_PHP_METADATA_NAMESPACE"),
    ("ruby_package", "FILE_SAME_RUBY_PACKAGE"),
];

struct Compare {
    diff: Diff,
    feed_enums: Vec<(String, FeedEnum)>,
}

impl Compare {
    fn violation(&mut self, element: &str, rule: Rule, detail: String) {
        self.diff.violations.push(Violation { element: element.to_string(), rule, detail });
    }

    fn addition(&mut self, element: &str, what: String) {
        self.diff.additions.push(Addition { element: element.to_string(), what });
    }

    fn package(&mut self, released: &DescriptorPool, current: &DescriptorPool, package: &str) {
        let old_files: Vec<FileDescriptor> =
            released.files().filter(|f| f.package_name() == package).collect();
        let new_files: Vec<FileDescriptor> =
            current.files().filter(|f| f.package_name() == package).collect();
        if old_files.is_empty() {
            if !new_files.is_empty() {
                self.addition(package, "new package".into());
            }
            return;
        }
        if new_files.is_empty() {
            self.violation(
                package,
                Rule::PackageNoDelete,
                "the package is gone (a renamed package is a deleted one): keep it beside its successor"
                    .into(),
            );
            return;
        }
        for old in &old_files {
            let new = current.get_file_by_name(old.name());
            match &new {
                None => self.violation(
                    old.name(),
                    Rule::FileNoDelete,
                    format!("file of {package} deleted (code generated per file would lose it)"),
                ),
                Some(new) => self.file(old, new),
            }
            self.top_level_moves(old, new.as_ref(), current);
        }
        // Contents compared by full name, wherever in the package they live now.
        for old in &old_files {
            for message in old.messages() {
                if let Some(new) = current.get_message_by_name(message.full_name()) {
                    self.message(&message, &new);
                }
            }
            for e in old.enums() {
                if let Some(new) = current.get_enum_by_name(e.full_name()) {
                    self.enumeration(&e, &new);
                }
            }
            for service in old.services() {
                if let Some(new) = current.get_service_by_name(service.full_name()) {
                    self.service(&service, &new);
                }
            }
            for ext in old.extensions() {
                self.extension(&ext, current.get_extension_by_name(ext.full_name()));
            }
        }
        for new in &new_files {
            let added = |exists: bool, name: &str, what: &str| {
                (!exists).then(|| (name.to_string(), what.to_string()))
            };
            let mut found = Vec::new();
            for m in new.messages() {
                found.extend(added(
                    released.get_message_by_name(m.full_name()).is_some(),
                    m.full_name(),
                    "new message",
                ));
            }
            for e in new.enums() {
                found.extend(added(
                    released.get_enum_by_name(e.full_name()).is_some(),
                    e.full_name(),
                    "new enum",
                ));
            }
            for s in new.services() {
                found.extend(added(
                    released.get_service_by_name(s.full_name()).is_some(),
                    s.full_name(),
                    "new service",
                ));
            }
            for x in new.extensions() {
                found.extend(added(
                    released.get_extension_by_name(x.full_name()).is_some(),
                    x.full_name(),
                    "new extension",
                ));
            }
            for (name, what) in found {
                self.addition(&name, what);
            }
        }
    }

    fn file(&mut self, old: &FileDescriptor, new: &FileDescriptor) {
        if old.package_name() != new.package_name() {
            self.violation(
                old.name(),
                Rule::FileSamePackage,
                format!("package was {}, now {}", old.package_name(), new.package_name()),
            );
        }
        if old.syntax() != new.syntax() {
            self.violation(
                old.name(),
                Rule::FileSameSyntax,
                format!("syntax was {}, now {}", syntax(old.syntax()), syntax(new.syntax())),
            );
        }
        let (old_options, new_options) = (old.options(), new.options());
        for (option, rule) in FILE_OPTIONS {
            if let Some(detail) = option_change(&old_options, &new_options, option) {
                self.violation(old.name(), Rule::FileSameOption(rule), detail);
            }
        }
    }

    /// Top-level elements of `old` that are not in the same file any more: deleted, or
    /// moved to another file (FILE category: code generated per file breaks).
    fn top_level_moves(
        &mut self,
        old: &FileDescriptor,
        new: Option<&FileDescriptor>,
        current: &DescriptorPool,
    ) {
        let moved = |found: Option<FileDescriptor>| -> Option<String> {
            match (found, new) {
                (None, _) => Some("deleted".to_string()),
                (Some(file), Some(new)) if file.name() != new.name() => {
                    Some(format!("moved from {} to {}", old.name(), file.name()))
                }
                _ => None,
            }
        };
        let mut found = Vec::new();
        for m in old.messages() {
            let now = current.get_message_by_name(m.full_name()).map(|m| m.parent_file());
            found.push((m.full_name().to_string(), Rule::MessageNoDelete, moved(now)));
        }
        for e in old.enums() {
            let now = current.get_enum_by_name(e.full_name()).map(|e| e.parent_file());
            found.push((e.full_name().to_string(), Rule::EnumNoDelete, moved(now)));
        }
        for s in old.services() {
            let now = current.get_service_by_name(s.full_name()).map(|s| s.parent_file());
            found.push((s.full_name().to_string(), Rule::ServiceNoDelete, moved(now)));
        }
        for (name, rule, why) in found {
            if let Some(why) = why {
                self.violation(&name, rule, why);
            }
        }
    }

    fn message(&mut self, old: &MessageDescriptor, new: &MessageDescriptor) {
        let name = old.full_name();
        for (option, rule) in [
            ("message_set_wire_format", Rule::MessageSameMessageSetWireFormat),
            ("no_standard_descriptor_accessor", Rule::MessageNoRemoveStandardDescriptorAccessor),
        ] {
            if let Some(detail) = option_change(&old.options(), &new.options(), option) {
                self.violation(name, rule, detail);
            }
        }
        for range in old.reserved_ranges() {
            if !covered(&range, new.reserved_ranges()) {
                self.violation(
                    name,
                    Rule::ReservedMessageNoDelete,
                    format!("reserved {} is gone", range_text(&range)),
                );
            }
        }
        for reserved in old.reserved_names() {
            if !new.reserved_names().any(|n| n == reserved) {
                self.violation(
                    name,
                    Rule::ReservedMessageNoDelete,
                    format!("reserved name \"{reserved}\" is gone"),
                );
            }
        }
        for range in old.extension_ranges() {
            if !covered(&range, new.extension_ranges()) {
                let detail = format!("extension range {} is gone", range_text(&range));
                self.violation(name, Rule::ExtensionMessageNoDelete, detail);
            }
        }
        for oneof in old.oneofs().filter(|o| !o.is_synthetic()) {
            if !new.oneofs().any(|o| !o.is_synthetic() && o.name() == oneof.name()) {
                self.violation(oneof.full_name(), Rule::OneofNoDelete, "oneof deleted".into());
            }
        }
        for field in old.fields() {
            match new.get_field(field.number()) {
                Some(now) => self.field(&field, &now, new),
                None => match new.get_field_by_name(field.name()) {
                    Some(now) => self.violation(
                        field.full_name(),
                        Rule::FieldSameNumber,
                        format!(
                            "renumbered from {} to {}: clients send and read {} (a new field needs a new number; the old one stays)",
                            field.number(),
                            now.number(),
                            field.number()
                        ),
                    ),
                    None => {
                        let detail = format!(
                            "field {} `{}` ({}) deleted{}",
                            field.number(),
                            field.name(),
                            field_type(&field),
                            reserve_hint(&field, new)
                        );
                        self.violation(field.full_name(), Rule::FieldNoDelete, detail);
                    }
                },
            }
        }
        for field in new.fields() {
            if old.get_field(field.number()).is_none() && old.get_field_by_name(field.name()).is_none() {
                self.addition(
                    field.full_name(),
                    format!("new field {} {}", field.number(), field_type(&field)),
                );
            }
        }
        for child in old.child_messages().filter(|m| !m.is_map_entry()) {
            match new.child_messages().find(|m| m.name() == child.name()) {
                Some(now) => self.message(&child, &now),
                None => {
                    self.violation(child.full_name(), Rule::MessageNoDelete, "nested message deleted".into())
                }
            }
        }
        for child in new.child_messages().filter(|m| !m.is_map_entry()) {
            if !old.child_messages().any(|m| m.name() == child.name()) {
                self.addition(child.full_name(), "new message".into());
            }
        }
        for child in old.child_enums() {
            match new.child_enums().find(|e| e.name() == child.name()) {
                Some(now) => self.enumeration(&child, &now),
                None => self.violation(child.full_name(), Rule::EnumNoDelete, "nested enum deleted".into()),
            }
        }
        for child in new.child_enums() {
            if !old.child_enums().any(|e| e.name() == child.name()) {
                self.addition(child.full_name(), "new enum".into());
            }
        }
    }

    /// The field that had `old`'s number then and has it now.
    fn field(&mut self, old: &FieldDescriptor, new: &FieldDescriptor, new_message: &MessageDescriptor) {
        let element = old.full_name();
        if old.name() != new.name() {
            let reuse = if new_message.get_field_by_name(old.name()).is_none() {
                format!(
                    ": number {} reused (never reuse a number: add a new field and `reserved {}, \"{}\"`)",
                    old.number(),
                    old.number(),
                    old.name()
                )
            } else {
                String::new()
            };
            let detail = format!("number {} was `{}`, now `{}`{reuse}", old.number(), old.name(), new.name());
            self.violation(element, Rule::FieldSameName, detail);
        } else if old.json_name() != new.json_name() {
            let detail = format!("JSON name was `{}`, now `{}`", old.json_name(), new.json_name());
            self.violation(element, Rule::FieldSameJsonName, detail);
        }
        let (before, after) = (field_type(old), field_type(new));
        if before != after {
            self.violation(element, Rule::FieldSameType, format!("type was {before}, now {after}"));
        }
        let (was_in, now_in) = (real_oneof(old), real_oneof(new));
        if was_in != now_in {
            let show =
                |o: &Option<String>| o.as_ref().map_or("no oneof".to_string(), |o| format!("oneof `{o}`"));
            let detail = format!("was in {}, now in {}", show(&was_in), show(&now_in));
            self.violation(element, Rule::FieldSameOneof, detail);
        } else if was_in.is_none() && cardinality(old) != cardinality(new) {
            let detail = format!("cardinality was {}, now {}", cardinality(old), cardinality(new));
            self.violation(element, Rule::FieldSameCardinality, detail);
        }
        let default = |f: &FieldDescriptor| f.field_descriptor_proto().default_value.clone();
        if default(old) != default(new) {
            let detail = format!("default was {:?}, now {:?}", default(old), default(new));
            self.violation(element, Rule::FieldSameDefault, detail);
        }
        for (option, rule) in [("ctype", Rule::FieldSameCtype), ("jstype", Rule::FieldSameJstype)] {
            if let Some(detail) = option_change(&old.options(), &new.options(), option) {
                self.violation(element, rule, detail);
            }
        }
    }

    fn enumeration(&mut self, old: &EnumDescriptor, new: &EnumDescriptor) {
        let name = old.full_name();
        let feed = self.feed_enums.iter().find(|(n, _)| n == name).map(|(_, kind)| *kind);
        let (no_delete, same_name) = match feed {
            Some(FeedEnum::Entity) => (Rule::FeedEntityNoDelete, Rule::FeedEntitySameName),
            Some(FeedEnum::Operation) => (Rule::FeedOperationNoDelete, Rule::FeedOperationSameName),
            None => (Rule::EnumValueNoDelete, Rule::EnumValueSameName),
        };
        let what = match feed {
            Some(FeedEnum::Entity) => "change-feed entity",
            Some(FeedEnum::Operation) => "change-feed operation",
            None => "value",
        };
        for value in old.values() {
            let element = format!("{name}.{}", value.name());
            match new.get_value(value.number()) {
                None => {
                    let detail = format!("{what} {} `{}` deleted", value.number(), value.name());
                    self.violation(&element, no_delete, detail);
                }
                Some(now) if now.name() != value.name() => {
                    let detail = format!(
                        "number {} was `{}`, now `{}` (JSON and REST clients send names)",
                        value.number(),
                        value.name(),
                        now.name()
                    );
                    self.violation(&element, same_name, detail);
                }
                Some(_) => {}
            }
        }
        for value in new.values() {
            if old.get_value(value.number()).is_none() {
                self.addition(&format!("{name}.{}", value.name()), format!("new {what} {}", value.number()));
            }
        }
        for range in old.reserved_ranges() {
            if !new.reserved_ranges().any(|r| r.start() <= range.start() && range.end() <= r.end()) {
                let detail = format!("reserved {} to {} is gone", range.start(), range.end());
                self.violation(name, Rule::ReservedEnumNoDelete, detail);
            }
        }
        for reserved in old.reserved_names() {
            if !new.reserved_names().any(|n| n == reserved) {
                self.violation(
                    name,
                    Rule::ReservedEnumNoDelete,
                    format!("reserved name \"{reserved}\" is gone"),
                );
            }
        }
    }

    fn service(&mut self, old: &ServiceDescriptor, new: &ServiceDescriptor) {
        for rpc in old.methods() {
            let element = rpc.full_name();
            let Some(now) = new.methods().find(|m| m.name() == rpc.name()) else {
                self.violation(element, Rule::RpcNoDelete, "RPC deleted".into());
                continue;
            };
            if rpc.input().full_name() != now.input().full_name() {
                let detail =
                    format!("request was {}, now {}", rpc.input().full_name(), now.input().full_name());
                self.violation(element, Rule::RpcSameRequestType, detail);
            }
            if rpc.output().full_name() != now.output().full_name() {
                let detail =
                    format!("response was {}, now {}", rpc.output().full_name(), now.output().full_name());
                self.violation(element, Rule::RpcSameResponseType, detail);
            }
            if rpc.is_client_streaming() != now.is_client_streaming() {
                let detail = format!(
                    "client streaming was {}, now {}",
                    rpc.is_client_streaming(),
                    now.is_client_streaming()
                );
                self.violation(element, Rule::RpcSameClientStreaming, detail);
            }
            if rpc.is_server_streaming() != now.is_server_streaming() {
                let detail = format!(
                    "server streaming was {}, now {}",
                    rpc.is_server_streaming(),
                    now.is_server_streaming()
                );
                self.violation(element, Rule::RpcSameServerStreaming, detail);
            }
            if idempotency(&rpc) != idempotency(&now) {
                let detail =
                    format!("idempotency level was {}, now {}", idempotency(&rpc), idempotency(&now));
                self.violation(element, Rule::RpcSameIdempotencyLevel, detail);
            }
            let (before, after) = (http_bindings(&rpc), http_bindings(&now));
            for binding in &before {
                if !after.contains(binding) {
                    let now = if after.is_empty() {
                        "none".to_string()
                    } else {
                        after.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                    };
                    let detail = format!("HTTP rule `{binding}` is gone (now: {now})");
                    self.violation(element, Rule::RpcSameHttpRule, detail);
                }
            }
            for binding in after.iter().filter(|b| !before.contains(b)) {
                self.addition(element, format!("new HTTP rule `{binding}`"));
            }
            let (before, after) = (permission(&rpc), permission(&now));
            if before != after {
                let detail = format!(
                    "permission was {}, now {} (callers allowed before may be refused)",
                    before.as_deref().unwrap_or("none"),
                    after.as_deref().unwrap_or("none")
                );
                self.violation(element, Rule::RpcSamePermission, detail);
            }
        }
        for rpc in new.methods() {
            if !old.methods().any(|m| m.name() == rpc.name()) {
                self.addition(rpc.full_name(), "new RPC".into());
            }
        }
    }

    fn extension(&mut self, old: &ExtensionDescriptor, new: Option<ExtensionDescriptor>) {
        let element = old.full_name();
        let Some(new) = new else {
            self.violation(element, Rule::ExtensionNoDelete, "extension deleted".into());
            return;
        };
        if old.containing_message().full_name() != new.containing_message().full_name() {
            let detail = format!(
                "extended {}, now {}",
                old.containing_message().full_name(),
                new.containing_message().full_name()
            );
            self.violation(element, Rule::ExtensionNoDelete, detail);
        }
        if old.number() != new.number() {
            let detail = format!("renumbered from {} to {}", old.number(), new.number());
            self.violation(element, Rule::FieldSameNumber, detail);
        }
        let (before, after) = (kind_name(&old.kind()), kind_name(&new.kind()));
        if before != after {
            self.violation(element, Rule::FieldSameType, format!("type was {before}, now {after}"));
        }
        if old.cardinality() != new.cardinality() {
            let detail = format!("cardinality was {:?}, now {:?}", old.cardinality(), new.cardinality());
            self.violation(element, Rule::FieldSameCardinality, detail);
        }
    }
}

fn syntax(s: Syntax) -> &'static str {
    match s {
        Syntax::Proto2 => "proto2",
        Syntax::Proto3 => "proto3",
    }
}

/// How a standard option changed, if its value did (unset counts as its default).
fn option_change(
    before: &prost_reflect::DynamicMessage,
    after: &prost_reflect::DynamicMessage,
    option: &str,
) -> Option<String> {
    let (a, b) = (before.get_field_by_name(option)?, after.get_field_by_name(option)?);
    if a == b {
        return None;
    }
    let show = |message: &prost_reflect::DynamicMessage, value: &Value| {
        if !message.has_field_by_name(option) {
            "unset".to_string()
        } else if let Value::String(s) = value {
            format!("\"{s}\"")
        } else {
            format!("{value:?}")
        }
    };
    Some(format!("option {option} was {}, now {}", show(before, &a), show(after, &b)))
}

fn covered(range: &std::ops::Range<u32>, mut ranges: impl Iterator<Item = std::ops::Range<u32>>) -> bool {
    ranges.any(|r| r.start <= range.start && range.end <= r.end)
}

fn range_text(range: &std::ops::Range<u32>) -> String {
    if range.end == range.start + 1 {
        range.start.to_string()
    } else {
        format!("{} to {}", range.start, range.end - 1)
    }
}

/// What FIELD_NO_DELETE adds: whether the number and name are reserved against reuse.
fn reserve_hint(field: &FieldDescriptor, now: &MessageDescriptor) -> String {
    let number = now.reserved_ranges().any(|r| r.contains(&field.number()));
    let name = now.reserved_names().any(|n| n == field.name());
    if number && name {
        " (reserved now, but clients still send and read it: deprecate it in v1, drop it in v2)".into()
    } else {
        format!(
            " (deprecate it instead; when a v2 drops it, `reserved {}, \"{}\"` there)",
            field.number(),
            field.name()
        )
    }
}

/// A field's type as written in a .proto: `string`, `cadre.roster.v1.Post`, `map<string, int64>`.
pub fn field_type(field: &FieldDescriptor) -> String {
    if field.is_map()
        && let Kind::Message(entry) = field.kind()
    {
        let key = kind_name(&entry.map_entry_key_field().kind());
        let value = kind_name(&entry.map_entry_value_field().kind());
        return format!("map<{key}, {value}>");
    }
    kind_name(&field.kind())
}

pub fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Message(m) => m.full_name().to_string(),
        Kind::Enum(e) => e.full_name().to_string(),
        other => scalar_name(other).to_string(),
    }
}

fn scalar_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Double => "double",
        Kind::Float => "float",
        Kind::Int32 => "int32",
        Kind::Int64 => "int64",
        Kind::Uint32 => "uint32",
        Kind::Uint64 => "uint64",
        Kind::Sint32 => "sint32",
        Kind::Sint64 => "sint64",
        Kind::Fixed32 => "fixed32",
        Kind::Fixed64 => "fixed64",
        Kind::Sfixed32 => "sfixed32",
        Kind::Sfixed64 => "sfixed64",
        Kind::Bool => "bool",
        Kind::String => "string",
        Kind::Bytes => "bytes",
        Kind::Message(_) | Kind::Enum(_) => "message or enum",
    }
}

/// `map`, `repeated`, `required`, `optional` (explicit presence) or `implicit`.
pub fn cardinality(field: &FieldDescriptor) -> &'static str {
    if field.is_map() {
        "map"
    } else if field.is_list() {
        "repeated"
    } else if field.cardinality() == Cardinality::Required {
        "required"
    } else if field.supports_presence() {
        "optional"
    } else {
        "implicit"
    }
}

/// The oneof a field belongs to, not counting proto3 `optional`'s synthetic one.
fn real_oneof(field: &FieldDescriptor) -> Option<String> {
    field.containing_oneof().filter(|o| !o.is_synthetic()).map(|o| o.name().to_string())
}

/// `NO_SIDE_EFFECTS`, `IDEMPOTENT` or `IDEMPOTENCY_UNKNOWN`: what the kit's clients and
/// the gateway decide retries by.
pub fn idempotency(rpc: &MethodDescriptor) -> &'static str {
    match rpc.options().get_field_by_name("idempotency_level").as_deref() {
        Some(Value::EnumNumber(1)) => "NO_SIDE_EFFECTS",
        Some(Value::EnumNumber(2)) => "IDEMPOTENT",
        _ => "IDEMPOTENCY_UNKNOWN",
    }
}

/// One REST route of an RPC: `GET /v1/cadres/{id}`, with its body selectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpBinding {
    pub method: String,
    pub path: String,
    pub body: String,
    pub response_body: String,
}

impl fmt::Display for HttpBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)?;
        if !self.body.is_empty() {
            write!(f, " body={}", self.body)?;
        }
        if !self.response_body.is_empty() {
            write!(f, " response_body={}", self.response_body)?;
        }
        Ok(())
    }
}

/// Every route of `rpc`'s `google.api.http` option, additional bindings included.
pub fn http_bindings(rpc: &MethodDescriptor) -> Vec<HttpBinding> {
    let Some(ext) = rpc.parent_pool().get_extension_by_name(HTTP_RULE_EXTENSION) else {
        return Vec::new();
    };
    let options = rpc.options();
    if !options.has_extension(&ext) {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Value::Message(rule) = options.get_extension(&ext).as_ref() {
        collect_bindings(rule, &mut out);
    }
    out
}

fn collect_bindings(rule: &prost_reflect::DynamicMessage, out: &mut Vec<HttpBinding>) {
    let text = |name: &str| match rule.get_field_by_name(name).as_deref() {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let mut binding = None;
    for verb in ["get", "put", "post", "delete", "patch"] {
        if rule.has_field_by_name(verb) {
            binding = Some((verb.to_ascii_uppercase(), text(verb)));
        }
    }
    if rule.has_field_by_name("custom")
        && let Some(Value::Message(custom)) = rule.get_field_by_name("custom").as_deref()
    {
        let field = |name: &str| match custom.get_field_by_name(name).as_deref() {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        binding = Some((field("kind"), field("path")));
    }
    if let Some((method, path)) = binding {
        out.push(HttpBinding { method, path, body: text("body"), response_body: text("response_body") });
    }
    if let Some(Value::List(more)) = rule.get_field_by_name("additional_bindings").as_deref() {
        for item in more {
            if let Value::Message(m) = item {
                collect_bindings(m, out);
            }
        }
    }
}

/// The `cadre.api.v1.permission` an RPC declares, by name.
pub fn permission(rpc: &MethodDescriptor) -> Option<String> {
    let ext = rpc.parent_pool().get_extension_by_name(PERMISSION_EXTENSION)?;
    let options = rpc.options();
    if !options.has_extension(&ext) {
        return None;
    }
    let number = match options.get_extension(&ext).as_ref() {
        Value::EnumNumber(n) => *n,
        _ => return None,
    };
    match ext.kind() {
        Kind::Enum(e) => {
            Some(e.get_value(number).map_or_else(|| number.to_string(), |v| v.name().to_string()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
