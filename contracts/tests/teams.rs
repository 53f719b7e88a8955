//! The repository's rules that let each team move alone: every service, proto and k8s
//! path has an owning team in CODEOWNERS; a service crate depends on the kit and the
//! proto crate, never on another service; each service crate says what it is (README.md)
//! and what changed (CHANGELOG.md).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cadre_contracts::codeowners::Codeowners;
use cadre_contracts::repo_root;

/// Paths (relative, `/`-separated) the repository holds: git's tracked and new files,
/// or, without git, a walk that skips `target` and dot-directories.
fn repo_files(root: &Path) -> Vec<String> {
    let git = std::process::Command::new("git")
        .args(["ls-files", "--cached", "--others", "--exclude-standard"])
        .current_dir(root)
        .output();
    if let Ok(out) = git
        && out.status.success()
    {
        return String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || name == "target" || name.starts_with("target-") {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

fn codeowners(root: &Path) -> Codeowners {
    let text = std::fs::read_to_string(root.join("CODEOWNERS")).expect("CODEOWNERS at the repository root");
    Codeowners::parse(&text).expect("CODEOWNERS parses as GitHub reads it")
}

fn service_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("services"))
        .expect("services/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").exists() && p.file_name().is_some_and(|n| n != "kit"))
        .collect();
    dirs.sort();
    dirs
}

fn name_of(dir: &Path) -> String {
    dir.file_name().unwrap_or_default().to_string_lossy().to_string()
}

#[test]
fn every_service_proto_and_k8s_path_has_an_owner() {
    let root = repo_root();
    let owners = codeowners(&root);
    let unowned: Vec<String> = repo_files(&root)
        .into_iter()
        .filter(|p| ["services/", "proto/", "k8s/", "contracts/"].iter().any(|top| p.starts_with(top)))
        .filter(|p| owners.owner_of(p).is_none())
        .collect();
    assert!(unowned.is_empty(), "no owner in CODEOWNERS for:\n  {}", unowned.join("\n  "));
}

#[test]
fn each_service_has_its_own_owner_lines() {
    let root = repo_root();
    let owners = codeowners(&root);
    let patterns: BTreeSet<&str> = owners.rules.iter().map(|r| r.pattern.as_str()).collect();
    for dir in service_dirs(&root) {
        let name = name_of(&dir);
        let mut wanted = vec![format!("/services/{name}/")];
        if dir.join("migrations").exists() {
            wanted.push(format!("/services/{name}/migrations/"));
        }
        if root.join("proto/cadre").join(&name).exists() {
            wanted.push(format!("/proto/cadre/{name}/"));
        }
        for pattern in wanted {
            assert!(
                patterns.contains(pattern.as_str()),
                "CODEOWNERS has no line `{pattern} @cadre/{name}-team`"
            );
        }
        // And it is the service's team that owns its crate, not a catch-all.
        let rule = owners.owner_of(&format!("services/{name}/src/lib.rs")).expect("owned");
        assert_eq!(
            rule.pattern,
            format!("/services/{name}/"),
            "line {} takes services/{name} over",
            rule.line
        );
    }
}

/// The `cadre-*` crates a manifest depends on, in any section.
fn cadre_dependencies(manifest: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(manifest).expect("Cargo.toml");
    let doc: toml::Table = toml::from_str(&text).expect("Cargo.toml parses");
    let mut out = BTreeSet::new();
    for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
        if let Some(toml::Value::Table(deps)) = doc.get(section) {
            out.extend(deps.keys().filter(|k| k.starts_with("cadre")).cloned());
        }
    }
    out
}

#[test]
fn a_service_depends_on_the_kit_and_the_proto_crate_never_on_another_service() {
    let root = repo_root();
    let allowed: BTreeSet<String> = ["cadre-kit", "cadre-proto"].map(String::from).into();
    for dir in service_dirs(&root) {
        let deps = cadre_dependencies(&dir.join("Cargo.toml"));
        let extra: Vec<&String> = deps.difference(&allowed).collect();
        assert!(
            extra.is_empty(),
            "cadre-{} depends on {extra:?}: a service builds and tests alone on the kit and the proto \
             crate; talk to another service through its API (kit::client, kit::follow)",
            name_of(&dir)
        );
    }
    // What services stand on depends on no service either.
    for (crate_dir, allowed) in
        [("services/kit", vec!["cadre-proto"]), ("gateway", vec!["cadre-kit", "cadre-proto"])]
    {
        let deps = cadre_dependencies(&root.join(crate_dir).join("Cargo.toml"));
        let extra: Vec<&String> = deps.iter().filter(|d| !allowed.contains(&d.as_str())).collect();
        assert!(extra.is_empty(), "{crate_dir} depends on {extra:?}");
    }
    // Every service crate is a workspace member, so `cargo test --workspace` runs it.
    let workspace: toml::Table =
        toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml")).unwrap()).unwrap();
    let members: Vec<&str> = workspace["workspace"]["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    for dir in service_dirs(&root) {
        let member = format!("services/{}", name_of(&dir));
        assert!(members.contains(&member.as_str()), "{member} is not a workspace member");
    }
}

/// Sections a service's README must have, and what each says.
const README_SECTIONS: &[(&str, &str)] = &[
    ("## Owns", "what it owns: records, tables, decisions"),
    ("## API", "its packages, services and REST routes"),
    ("## Feeds", "the feeds it follows and publishes"),
    ("## Configuration", "its configuration section"),
    ("## SLOs", "its targets and what backs them"),
];

#[test]
fn each_service_crate_has_a_readme_and_a_changelog() {
    let root = repo_root();
    for dir in service_dirs(&root) {
        let name = name_of(&dir);
        let readme = std::fs::read_to_string(dir.join("README.md"))
            .unwrap_or_else(|_| panic!("services/{name}/README.md is missing"));
        for (heading, what) in README_SECTIONS {
            assert!(
                readme.lines().any(|l| l.trim_end() == *heading),
                "services/{name}/README.md has no `{heading}` section ({what})"
            );
        }
        let changelog = std::fs::read_to_string(dir.join("CHANGELOG.md"))
            .unwrap_or_else(|_| panic!("services/{name}/CHANGELOG.md is missing"));
        assert!(
            changelog.lines().any(|l| l.trim() == "## Unreleased"),
            "services/{name}/CHANGELOG.md has no `## Unreleased` section"
        );
    }
}
