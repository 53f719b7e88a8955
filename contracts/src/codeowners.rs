//! `CODEOWNERS` as GitHub reads it, for the test that every service, proto and k8s path
//! has an owning team: one rule a line (`pattern owner…`), `#` comments, the last
//! matching rule wins. Patterns follow the gitignore subset GitHub supports: `/` at the
//! start anchors at the root (as does a `/` inside), a trailing `/` matches a directory
//! and everything under it, `*` and `?` stay within one path segment, `**` spans any
//! number of them. As GitHub documents, `docs/*` matches `docs/a.md` but not
//! `docs/sub/b.md`; `docs/` and `/docs` match both.

/// One line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRule {
    pub line: usize,
    pub pattern: String,
    pub owners: Vec<String>,
}

/// The parsed file.
#[derive(Debug, Clone, Default)]
pub struct Codeowners {
    pub rules: Vec<OwnerRule>,
}

impl Codeowners {
    /// Parses the file; a rule without an owner or with a pattern GitHub rejects is an error
    /// (GitHub would ignore it silently and leave the path unowned).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut rules = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split_once(" #").map_or(raw, |(before, _)| before).trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            let pattern = words.next().unwrap_or_default().to_string();
            let owners: Vec<String> = words.map(str::to_string).collect();
            if owners.is_empty() {
                return Err(format!("line {}: `{pattern}` names no owner", i + 1));
            }
            if let Some(bad) = owners.iter().find(|o| !o.starts_with('@') && !o.contains('@')) {
                return Err(format!("line {}: `{bad}` is neither @user, @org/team nor an e-mail", i + 1));
            }
            if pattern.starts_with('!') || pattern.contains('[') || pattern.starts_with("\\#") {
                return Err(format!("line {}: `{pattern}`: GitHub does not support this pattern", i + 1));
            }
            rules.push(OwnerRule { line: i + 1, pattern, owners });
        }
        Ok(Self { rules })
    }

    /// The rule that owns `path` (relative, `/`-separated): the last one matching.
    pub fn owner_of(&self, path: &str) -> Option<&OwnerRule> {
        self.rules.iter().rev().find(|r| matches(&r.pattern, path))
    }
}

/// Whether `pattern` matches the file at `path`.
pub fn matches(pattern: &str, path: &str) -> bool {
    let dir_only = pattern.ends_with('/');
    let trimmed = pattern.trim_end_matches('/');
    let anchored = trimmed.starts_with('/') || trimmed.contains('/');
    let globs: Vec<&str> = trimmed.trim_start_matches('/').split('/').collect();
    let parts: Vec<&str> = path.split('/').collect();
    // A match of a leading part of the path names a directory: everything under it
    // matches, unless the pattern's last segment is a wildcard (`docs/*`).
    let last_is_wild = globs.last().is_some_and(|g| g.contains(['*', '?']));
    let whole_dirs = dir_only || !last_is_wild || globs.last() == Some(&"**");
    let starts: Vec<usize> = if anchored { vec![0] } else { (0..parts.len()).collect() };
    starts.into_iter().any(|start| {
        let rest = &parts[start..];
        (0..=rest.len()).rev().any(|end| {
            let is_file = end == rest.len();
            if is_file && dir_only {
                return false;
            }
            if !is_file && !whole_dirs {
                return false;
            }
            end > 0 && segments(&globs, &rest[..end])
        })
    })
}

fn segments(globs: &[&str], parts: &[&str]) -> bool {
    match globs.split_first() {
        None => parts.is_empty(),
        Some((&"**", rest)) => (0..=parts.len()).any(|skip| segments(rest, &parts[skip..])),
        Some((glob, rest)) => {
            !parts.is_empty() && segment(glob.as_bytes(), parts[0].as_bytes()) && segments(rest, &parts[1..])
        }
    }
}

fn segment(glob: &[u8], name: &[u8]) -> bool {
    match glob.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|skip| segment(rest, &name[skip..])),
        Some((b'?', rest)) => !name.is_empty() && segment(rest, &name[1..]),
        Some((c, rest)) => name.first() == Some(c) && segment(rest, &name[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_documented_examples() {
        // `*.js` anywhere.
        assert!(matches("*.js", "app.js"));
        assert!(matches("*.js", "src/deep/app.js"));
        assert!(!matches("*.js", "app.jsx"));
        // `/build/logs/`: that directory, anything under it.
        assert!(matches("/build/logs/", "build/logs/a.txt"));
        assert!(matches("/build/logs/", "build/logs/deep/a.txt"));
        assert!(!matches("/build/logs/", "x/build/logs/a.txt"));
        // `docs/*`: files directly inside only.
        assert!(matches("docs/*", "docs/getting-started.md"));
        assert!(!matches("docs/*", "docs/build-app/troubleshooting.md"));
        // `apps/`: an apps directory anywhere.
        assert!(matches("apps/", "apps/a.rb"));
        assert!(matches("apps/", "src/apps/deep/a.rb"));
        assert!(!matches("apps/", "apps"));
        // `/docs/`: the root docs directory.
        assert!(matches("/docs/", "docs/a/b.md"));
        assert!(!matches("/docs/", "src/docs/a.md"));
        // `**/logs`: a logs directory anywhere.
        assert!(matches("**/logs", "build/logs/a.txt"));
        assert!(matches("**/logs", "logs/a.txt"));
        assert!(matches("**/logs", "deeply/nested/logs/a.txt"));
        // A literal path without a trailing slash: the file, or the directory and its contents.
        assert!(matches("/services/roster", "services/roster/src/lib.rs"));
        assert!(matches("/Cargo.toml", "Cargo.toml"));
        assert!(!matches("/Cargo.toml", "services/roster/Cargo.toml"));
        assert!(matches("Cargo.toml", "services/roster/Cargo.toml"));
        assert!(matches("/proto/released/roster.*", "proto/released/roster.binpb"));
        assert!(!matches("/proto/released/roster.*", "proto/released/shared.binpb"));
        assert!(matches("/services/*/README.md", "services/roster/README.md"));
    }

    #[test]
    fn the_last_matching_rule_wins() {
        let owners = Codeowners::parse(
            "# comment\n/services/ @cadre/platform-team\n/services/roster/ @cadre/roster-team # the roster\n",
        )
        .unwrap();
        assert_eq!(owners.owner_of("services/roster/src/lib.rs").unwrap().owners, ["@cadre/roster-team"]);
        assert_eq!(owners.owner_of("services/kit/src/lib.rs").unwrap().owners, ["@cadre/platform-team"]);
        assert!(owners.owner_of("README.md").is_none());
    }

    #[test]
    fn rules_github_would_ignore_are_refused() {
        assert!(Codeowners::parse("/services/roster/\n").unwrap_err().contains("names no owner"));
        assert!(Codeowners::parse("!/x @a/b\n").is_err());
        assert!(Codeowners::parse("/x roster-team\n").is_err());
    }
}
