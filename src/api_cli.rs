//! `cadre api check` and `cadre api release`: the breaking-change guard from the command
//! line (the tests run the same check), and the deliberate step that records a service's
//! API as released, reminding of the CHANGELOG entry it needs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use cadre_contracts::released::{self, Released};

/// The repository this binary was built from.
pub fn default_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn check(root: &Path) -> anyhow::Result<ExitCode> {
    let current = cadre_contracts::current().context("the built-in descriptor set")?;
    let mut code = ExitCode::SUCCESS;
    for report in released::check(root, &current)? {
        if !report.released {
            println!(
                "{}: never released: passes (`cadre api release --service {}` when it ships)",
                report.set, report.set
            );
            continue;
        }
        if report.diff.is_breaking() {
            code = ExitCode::from(1);
            println!(
                "{}: BREAKS what was released ({}):",
                report.set,
                released::released_path(root, &report.set).display()
            );
            for v in &report.diff.violations {
                println!("  {v}");
            }
        } else {
            println!("{}: compatible with its release", report.set);
        }
        for a in &report.diff.additions {
            println!("  + {a} (not released yet)");
        }
    }
    Ok(code)
}

pub fn release(root: &Path, set: Option<&str>, accept_breaking: bool) -> anyhow::Result<ExitCode> {
    let current = cadre_contracts::current().context("the built-in descriptor set")?;
    let sets: Vec<String> = match set {
        Some(s) => vec![s.to_string()],
        None => released::sets(&current).into_keys().collect(),
    };
    println!(
        "Every change of a released API needs an entry in its CHANGELOG.md under `## Unreleased`\n\
         naming what changed (`Cadre.nickname`, `CadreService.ListCadres`); the release refuses without one.\n"
    );
    let mut code = ExitCode::SUCCESS;
    for set in sets {
        let changelog = released::changelog_path(root, &set);
        match released::release(root, &current, &set, accept_breaking) {
            Ok(Released::Unchanged) => println!("{set}: released already, nothing to record"),
            Ok(Released::Written { first, diff, files, changelog }) => {
                let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
                let how = if first { "first release" } else { "release" };
                println!("{set}: {how} recorded in {}", names.join(" and "));
                for v in &diff.violations {
                    println!("  ! {v}   (BREAKING, accepted with --accept-breaking)");
                }
                for a in &diff.additions {
                    println!("  + {a}");
                }
                println!(
                    "  CHANGELOG: {} names every change; commit it with the protos and the released set",
                    changelog.display()
                );
            }
            Err(e) => {
                code = ExitCode::from(1);
                eprintln!("{set}: not released: {e}\n  (CHANGELOG: {})", changelog.display());
            }
        }
    }
    Ok(code)
}
