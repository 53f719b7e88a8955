//! The breaking-change guard and the consumers' contracts applied to the repository, in
//! `cargo test --workspace` (and `cargo test -p cadre-contracts`, in seconds): the API
//! this build has against `proto/released/`, and against what every consumer relies on.

use std::fmt::Write as _;

use cadre_contracts::{contract, released, repo_root};

#[test]
fn the_api_keeps_what_each_service_released() {
    let root = repo_root();
    let current = cadre_contracts::current().expect("descriptors");
    let mut failures = String::new();
    for report in released::check(&root, &current).expect("released sets readable") {
        if !report.diff.is_breaking() {
            continue;
        }
        let path = released::released_path(&root, &report.set);
        let _ =
            writeln!(failures, "\nthe API of {} breaks what it released ({}):", report.set, path.display());
        for v in &report.diff.violations {
            let _ = writeln!(failures, "  {v}");
        }
        let _ = writeln!(
            failures,
            "Additions pass; a deliberate break goes into a new package version beside the old one \
             (cadre.{}.v2); README \"For teams\".",
            report.set
        );
    }
    assert!(failures.is_empty(), "{failures}");
}

#[test]
fn every_package_belongs_to_a_released_set() {
    let current = cadre_contracts::current().expect("descriptors");
    let unguarded = released::unguarded_packages(&current);
    assert!(
        unguarded.is_empty(),
        "{unguarded:?}: name a service's package cadre.<service>.v<N> (or add a shared one to released.rs)"
    );
}

#[test]
fn each_summary_is_its_released_set() {
    let root = repo_root();
    for set in released::released_sets(&root).expect("proto/released") {
        let pool = released::load(&root, &set).expect("decodes").expect("exists");
        let path = released::summary_path(&root, &set);
        let written = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            written == released::summary(&pool, &set),
            "{} does not match {set}.binpb: both are written by `cadre api release --service {set}`, never by hand",
            path.display()
        );
    }
}

#[test]
fn every_consumer_contract_holds() {
    let root = repo_root();
    let current = cadre_contracts::current().expect("descriptors");
    let contracts = contract::load_all(&root).expect("contracts parse");
    let mut failures = String::new();
    for (path, c) in &contracts {
        for broken in contract::check(c, &current) {
            let _ = writeln!(failures, "{broken}\n  (the contract: {})", path.display());
        }
    }
    assert!(failures.is_empty(), "\n{failures}Talk to the consumer, or keep v1 as it is and change v2.");
    // The first contracts: a deleted file would silently stop protecting its consumer.
    let consumers: Vec<&str> = contracts.iter().map(|(_, c)| c.consumer.as_str()).collect();
    for consumer in ["province", "kit::follow"] {
        assert!(consumers.contains(&consumer), "no contract of {consumer}: {consumers:?}");
    }
}
