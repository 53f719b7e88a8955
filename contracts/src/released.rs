//! The API as released: one encoded descriptor set per service
//! (`proto/released/<service>.binpb`, its packages `cadre.<service>.v*` with what they
//! import) and one for the packages every service builds on (`shared.binpb`:
//! `cadre.api.v1`, `cadre.audit.v1`, `cadre.changes.v1`, `google.api`), each with a
//! text summary beside it (`.txt`) so that a release is reviewed as a readable diff.
//! [`check`] compares the current API with them; [`release`] records the current API of
//! one set, deliberately: never a break (unless told), never without a CHANGELOG entry.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, FileDescriptor};

use crate::breaking::{self, Diff, Violation};

/// Where the released sets live, from the repository root.
pub const RELEASED_DIR: &str = "proto/released";
/// The set of the packages every service builds on.
pub const SHARED: &str = "shared";
/// `cadre.<name>.vN` packages that are shared, not a service's.
const SHARED_NAMES: &[&str] = &["api", "audit", "changes"];

/// Why the guard could not do its work (not a break: those are [`Violation`]s).
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not an encoded descriptor set: {reason}")]
    Decode { path: PathBuf, reason: String },
    #[error("`{set}` is no set of the API (sets now: {known})")]
    UnknownSet { set: String, known: String },
    #[error(
        "releasing {set} would break its clients:\n{}\nA deliberate break goes into a new package version beside the old one (cadre.{set}.v2); `--accept-breaking` records it anyway",
        list(.violations)
    )]
    Breaking { set: String, violations: Vec<Violation> },
    #[error(
        "{path} has no entry for this change of the API: its `## Unreleased` section must name {}\nWrite what changed and why there (README \"For teams\"), then run the release again",
        .missing.join(", ")
    )]
    Changelog { path: PathBuf, missing: Vec<String> },
    #[error("{0}")]
    Contract(String),
}

fn list(violations: &[Violation]) -> String {
    violations.iter().map(|v| format!("  {v}")).collect::<Vec<_>>().join("\n")
}

/// Which released set `package` belongs to: `cadre.<service>.vN` → the service, the
/// shared packages → [`SHARED`], anything else (protobuf's own types) → none.
pub fn set_of(package: &str) -> Option<String> {
    if package == "google.api" {
        return Some(SHARED.to_string());
    }
    let mut pieces = package.split('.');
    match (pieces.next(), pieces.next(), pieces.next(), pieces.next()) {
        (Some("cadre"), Some(name), Some(version), None) if is_version(version) && !name.is_empty() => {
            Some(if SHARED_NAMES.contains(&name) { SHARED.to_string() } else { name.to_string() })
        }
        _ => None,
    }
}

/// `v1`, `v2`, `v1beta1`.
fn is_version(s: &str) -> bool {
    s.strip_prefix('v').is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
}

/// Packages of `pool` that belong to no set and so no guard: only protobuf's own may.
pub fn unguarded_packages(pool: &DescriptorPool) -> Vec<String> {
    packages(pool).into_iter().filter(|p| set_of(p).is_none() && p != "google.protobuf").collect()
}

fn packages(pool: &DescriptorPool) -> BTreeSet<String> {
    pool.files().map(|f| f.package_name().to_string()).collect()
}

/// Every set of `pool`, with its packages.
pub fn sets(pool: &DescriptorPool) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for package in packages(pool) {
        if let Some(set) = set_of(&package) {
            out.entry(set).or_default().push(package);
        }
    }
    out
}

/// `proto/released/<set>.binpb`
pub fn released_path(root: &Path, set: &str) -> PathBuf {
    root.join(RELEASED_DIR).join(format!("{set}.binpb"))
}

/// `proto/released/<set>.txt`
pub fn summary_path(root: &Path, set: &str) -> PathBuf {
    root.join(RELEASED_DIR).join(format!("{set}.txt"))
}

/// The CHANGELOG.md a release of `set` must have an entry in: the service crate's, or
/// the proto crate's for the shared packages.
pub fn changelog_path(root: &Path, set: &str) -> PathBuf {
    if set == SHARED {
        root.join("proto/CHANGELOG.md")
    } else {
        root.join("services").join(set).join("CHANGELOG.md")
    }
}

/// The released descriptors of `set`, or `None` when it was never released.
pub fn load(root: &Path, set: &str) -> Result<Option<DescriptorPool>, GuardError> {
    let path = released_path(root, set);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(GuardError::Io { path, source }),
    };
    DescriptorPool::decode(bytes.as_slice())
        .map(Some)
        .map_err(|e| GuardError::Decode { path, reason: e.to_string() })
}

/// Sets released in `root` (by their files), whether or not the current API has them.
pub fn released_sets(root: &Path) -> Result<Vec<String>, GuardError> {
    let dir = root.join(RELEASED_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(GuardError::Io { path: dir, source }),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(|source| GuardError::Io { path: dir.clone(), source })?.path();
        if path.extension().is_some_and(|e| e == "binpb")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            out.push(stem.to_string());
        }
    }
    out.sort();
    Ok(out)
}

/// One set compared with what was released of it.
#[derive(Debug)]
pub struct SetReport {
    pub set: String,
    /// False for a set never released: it passes, whatever it holds.
    pub released: bool,
    pub diff: Diff,
}

/// Every set of the current API (and every released one) compared with its release.
pub fn check(root: &Path, current: &DescriptorPool) -> Result<Vec<SetReport>, GuardError> {
    let current_sets = sets(current);
    let mut names: BTreeSet<String> = current_sets.keys().cloned().collect();
    names.extend(released_sets(root)?);
    let mut out = Vec::new();
    for set in names {
        let Some(released) = load(root, &set)? else {
            out.push(SetReport { set, released: false, diff: Diff::default() });
            continue;
        };
        let diff = breaking::compare(&released, current, &set_packages(&set, &released, current));
        out.push(SetReport { set, released: true, diff });
    }
    Ok(out)
}

/// The packages of `set` in either version.
fn set_packages(set: &str, released: &DescriptorPool, current: &DescriptorPool) -> Vec<String> {
    let mut all: BTreeSet<String> = BTreeSet::new();
    for pool in [released, current] {
        all.extend(sets(pool).remove(set).unwrap_or_default());
    }
    all.into_iter().collect()
}

/// The encoded descriptor set of `set`: its packages' files and everything they import,
/// without source info (comments are not the API), extension options kept.
pub fn encode_set(pool: &DescriptorPool, set: &str) -> Vec<u8> {
    let mut files: Vec<FileDescriptor> = Vec::new();
    for file in pool.files().filter(|f| set_of(f.package_name()).as_deref() == Some(set)) {
        with_imports(&file, &mut files);
    }
    let file_type = pool.get_message_by_name("google.protobuf.FileDescriptorProto");
    let mut out = Vec::new();
    for file in files {
        let raw = file.encode_to_vec();
        let bytes = match &file_type {
            Some(t) => match DynamicMessage::decode(t.clone(), raw.as_slice()) {
                Ok(mut m) => {
                    m.clear_field_by_name("source_code_info");
                    m.encode_to_vec()
                }
                Err(_) => raw,
            },
            None => raw,
        };
        // FileDescriptorSet.file = 1, length-delimited.
        prost::encoding::bytes::encode(1, &bytes, &mut out);
    }
    out
}

fn with_imports(file: &FileDescriptor, out: &mut Vec<FileDescriptor>) {
    if out.iter().any(|f| f.name() == file.name()) {
        return;
    }
    for dependency in file.dependencies() {
        with_imports(&dependency, out);
    }
    out.push(file.clone());
}

/// A readable listing of `set` as `pool` has it: one line per element, sorted, so a
/// release reads as a diff in review.
pub fn summary(pool: &DescriptorPool, set: &str) -> String {
    let packages: Vec<String> = sets(pool).remove(set).unwrap_or_default();
    let mut out = format!(
        "# The released API of `{set}`: written by `cadre api release --service {set}` with\n\
         # {set}.binpb beside it, which the breaking-change guard compares with. Do not edit.\n"
    );
    for package in &packages {
        let _ = writeln!(out, "\npackage {package}");
        let mut files: Vec<FileDescriptor> = pool.files().filter(|f| f.package_name() == package).collect();
        files.sort_by(|a, b| a.name().cmp(b.name()));
        for file in &files {
            let _ = writeln!(out, "  file {}", file.name());
        }
        let mut enums: Vec<_> = pool.all_enums().filter(|e| e.package_name() == package).collect();
        enums.sort_by(|a, b| a.full_name().cmp(b.full_name()));
        for e in enums {
            let _ = writeln!(out, "enum {}", e.full_name());
            for v in e.values() {
                let _ = writeln!(out, "  {} {}", v.number(), v.name());
            }
            for r in e.reserved_ranges() {
                let _ = writeln!(out, "  reserved {} to {}", r.start(), r.end());
            }
            for n in e.reserved_names() {
                let _ = writeln!(out, "  reserved \"{n}\"");
            }
        }
        let mut messages: Vec<_> =
            pool.all_messages().filter(|m| m.package_name() == package && !m.is_map_entry()).collect();
        messages.sort_by(|a, b| a.full_name().cmp(b.full_name()));
        for m in messages {
            let _ = writeln!(out, "message {}", m.full_name());
            let mut fields: Vec<_> = m.fields().collect();
            fields.sort_by_key(|f| f.number());
            for f in fields {
                let card = match breaking::cardinality(&f) {
                    "implicit" | "map" => String::new(),
                    c => format!("{c} "),
                };
                let oneof = f
                    .containing_oneof()
                    .filter(|o| !o.is_synthetic())
                    .map(|o| format!(" (oneof {})", o.name()))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  {} {} {card}{} json={}{oneof}",
                    f.number(),
                    f.name(),
                    breaking::field_type(&f),
                    f.json_name()
                );
            }
            for r in m.reserved_ranges() {
                let _ = writeln!(out, "  reserved {} to {}", r.start, r.end - 1);
            }
            for n in m.reserved_names() {
                let _ = writeln!(out, "  reserved \"{n}\"");
            }
        }
        let mut services: Vec<_> = pool.services().filter(|s| s.package_name() == package).collect();
        services.sort_by(|a, b| a.full_name().cmp(b.full_name()));
        for s in services {
            let _ = writeln!(out, "service {}", s.full_name());
            for rpc in s.methods() {
                let stream = |yes: bool| if yes { "stream " } else { "" };
                let _ = writeln!(
                    out,
                    "  rpc {}({}{}) returns ({}{}) {} {}",
                    rpc.name(),
                    stream(rpc.is_client_streaming()),
                    rpc.input().full_name(),
                    stream(rpc.is_server_streaming()),
                    rpc.output().full_name(),
                    breaking::permission(&rpc).unwrap_or_else(|| "no permission".into()),
                    breaking::idempotency(&rpc),
                );
                for binding in breaking::http_bindings(&rpc) {
                    let _ = writeln!(out, "    {binding}");
                }
            }
        }
        let mut extensions: Vec<_> = pool.all_extensions().filter(|x| x.package_name() == package).collect();
        extensions.sort_by(|a, b| a.full_name().cmp(b.full_name()));
        for x in extensions {
            let _ = writeln!(
                out,
                "extension {} = {} on {}: {}",
                x.full_name(),
                x.number(),
                x.containing_message().full_name(),
                breaking::kind_name(&x.kind())
            );
        }
    }
    out
}

/// What [`release`] did.
#[derive(Debug)]
pub enum Released {
    /// The released set is the current API already.
    Unchanged,
    /// Written: what changed since the last release (everything, the first time).
    Written { first: bool, diff: Diff, files: Vec<PathBuf>, changelog: PathBuf },
}

/// Records the current API of `set` as released. Refuses a break unless
/// `accept_breaking`, and any change whose elements the CHANGELOG's `## Unreleased`
/// section does not name.
pub fn release(
    root: &Path,
    current: &DescriptorPool,
    set: &str,
    accept_breaking: bool,
) -> Result<Released, GuardError> {
    let current_sets = sets(current);
    let Some(packages) = current_sets.get(set) else {
        let known = current_sets.keys().cloned().collect::<Vec<_>>().join(", ");
        return Err(GuardError::UnknownSet { set: set.to_string(), known });
    };
    let encoded = encode_set(current, set);
    let (binpb, txt) = (released_path(root, set), summary_path(root, set));
    let previous = load(root, set)?;
    let first = previous.is_none();
    let diff = match &previous {
        Some(released) => breaking::compare(released, current, &set_packages(set, released, current)),
        None => Diff {
            violations: Vec::new(),
            additions: packages
                .iter()
                .map(|p| breaking::Addition { element: p.clone(), what: "first release".into() })
                .collect(),
        },
    };
    let summary_text = summary(&decode(&encoded, &binpb)?, set);
    let unchanged = std::fs::read(&binpb).is_ok_and(|b| b == encoded)
        && std::fs::read_to_string(&txt).is_ok_and(|t| t == summary_text);
    if unchanged {
        return Ok(Released::Unchanged);
    }
    if diff.is_breaking() && !accept_breaking {
        return Err(GuardError::Breaking { set: set.to_string(), violations: diff.violations });
    }
    let changelog = changelog_path(root, set);
    let missing = unmentioned(&changelog, packages, &diff)?;
    if !missing.is_empty() {
        return Err(GuardError::Changelog { path: changelog, missing });
    }
    let dir = root.join(RELEASED_DIR);
    std::fs::create_dir_all(&dir).map_err(|source| GuardError::Io { path: dir, source })?;
    std::fs::write(&binpb, &encoded).map_err(|source| GuardError::Io { path: binpb.clone(), source })?;
    std::fs::write(&txt, summary_text).map_err(|source| GuardError::Io { path: txt.clone(), source })?;
    Ok(Released::Written { first, diff, files: vec![binpb, txt], changelog })
}

fn decode(bytes: &[u8], path: &Path) -> Result<DescriptorPool, GuardError> {
    DescriptorPool::decode(bytes)
        .map_err(|e| GuardError::Decode { path: path.to_path_buf(), reason: e.to_string() })
}

/// The changed elements the CHANGELOG's `## Unreleased` section does not name (by the
/// name relative to its package, `Cadre.nickname`, or in full; `/` for `.` is fine).
pub fn unmentioned(changelog: &Path, packages: &[String], diff: &Diff) -> Result<Vec<String>, GuardError> {
    let text = match std::fs::read_to_string(changelog) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => return Err(GuardError::Io { path: changelog.to_path_buf(), source }),
    };
    let section = unreleased_section(&text).replace('/', ".");
    let mut missing = Vec::new();
    let elements = diff
        .additions
        .iter()
        .map(|a| a.element.as_str())
        .chain(diff.violations.iter().map(|v| v.element.as_str()))
        .filter(|e| !e.ends_with(".proto"));
    for element in elements {
        let relative = packages
            .iter()
            .filter_map(|p| element.strip_prefix(p.as_str()).and_then(|rest| rest.strip_prefix('.')))
            .next()
            .unwrap_or(element);
        if !section.contains(relative) && !section.contains(element) && !missing.iter().any(|m| m == relative)
        {
            missing.push(relative.to_string());
        }
    }
    Ok(missing)
}

/// The text under `## Unreleased` (or `## [Unreleased]`) up to the next `## ` heading.
pub fn unreleased_section(changelog: &str) -> String {
    let mut inside = false;
    let mut out = String::new();
    for line in changelog.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            inside = heading.trim().trim_matches(['[', ']']).eq_ignore_ascii_case("unreleased");
            continue;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_belong_to_sets() {
        assert_eq!(set_of("cadre.roster.v1").as_deref(), Some("roster"));
        assert_eq!(set_of("cadre.roster.v2").as_deref(), Some("roster"));
        assert_eq!(set_of("cadre.training.v1beta1").as_deref(), Some("training"));
        assert_eq!(set_of("cadre.changes.v1").as_deref(), Some(SHARED));
        assert_eq!(set_of("cadre.api.v1").as_deref(), Some(SHARED));
        assert_eq!(set_of("google.api").as_deref(), Some(SHARED));
        assert_eq!(set_of("google.protobuf"), None);
        assert_eq!(set_of("cadre.roster"), None);
        assert_eq!(set_of("cadre.roster.latest"), None);
    }

    #[test]
    fn the_suite_has_no_unguarded_package() {
        let pool = DescriptorPool::decode(cadre_proto::FILE_DESCRIPTOR_SET).unwrap();
        assert_eq!(unguarded_packages(&pool), Vec::<String>::new());
        assert!(sets(&pool).contains_key("roster"));
    }

    #[test]
    fn a_set_decodes_alone_and_keeps_its_options() {
        let pool = DescriptorPool::decode(cadre_proto::FILE_DESCRIPTOR_SET).unwrap();
        let encoded = encode_set(&pool, "roster");
        let alone =
            DescriptorPool::decode(encoded.as_slice()).expect("roster's set decodes without the rest");
        let rpc = alone.get_service_by_name("cadre.roster.v1.CadreService").unwrap();
        let get = rpc.methods().find(|m| m.name() == "GetCadre").unwrap();
        assert_eq!(breaking::http_bindings(&get)[0].to_string(), "GET /v1/cadres/{id}");
        assert_eq!(breaking::permission(&get).as_deref(), Some("PERMISSION_READ"));
        assert!(alone.files().all(|f| f.file_descriptor_proto().source_code_info.is_none()));
        // Against itself: nothing to say.
        let diff = breaking::compare(&alone, &pool, &["cadre.roster.v1".to_string()]);
        assert_eq!(diff, Diff::default());
    }

    #[test]
    fn the_unreleased_section_is_what_counts() {
        let text = "# Changelog\n\n## Unreleased\n\n- `Cadre.nickname`: new field\n- `CadreService/ListX`\n\n## 0.1.0\n\n- `Cadre.phone`\n";
        let section = unreleased_section(text);
        assert!(section.contains("Cadre.nickname") && !section.contains("Cadre.phone"), "{section}");
        let dir = std::env::temp_dir().join(format!("cadre-changelog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("CHANGELOG.md");
        std::fs::write(&path, text).unwrap();
        let add = |e: &str| breaking::Addition { element: e.into(), what: String::new() };
        let diff = Diff {
            violations: Vec::new(),
            additions: vec![
                add("cadre.roster.v1.Cadre.nickname"),
                add("cadre.roster.v1.CadreService.ListX"),
                add("cadre.roster.v1.Cadre.phone"),
            ],
        };
        let missing = unmentioned(&path, &["cadre.roster.v1".into()], &diff).unwrap();
        assert_eq!(missing, ["Cadre.phone"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
