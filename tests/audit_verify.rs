//! `cadre audit verify` as an operator runs it (issue 13, finding 4): on a database that
//! is not there it refuses, naming the path, and creates nothing; on a real one it says
//! the chain is intact.

mod common;

use std::time::Duration;

use common::Proc;

#[test]
fn audit_verify_refuses_a_missing_database_and_creates_none() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let missing = dir.path().join("nowhere").join("roster.db");
    let url = format!("sqlite://{}", missing.display());
    let mut verify = Proc::spawn(
        "audit verify",
        &["audit", "verify", "--part", "roster"],
        &[("CADRE__roster__DATABASE__URL", url.clone())],
    );
    let status = verify.wait(Duration::from_secs(60));
    let output = verify.output();
    assert!(!status.success(), "no database, no verdict: {output}");
    assert!(output.contains(&missing.display().to_string()), "the message names the path: {output}");
    assert!(!output.contains("intact"), "{output}");
    assert!(!missing.exists() && !missing.parent().unwrap().exists(), "nothing was created");

    // The same command on a migrated database answers.
    let real = dir.path().join("roster.db");
    let url = format!("sqlite://{}", real.display());
    let mut migrate = Proc::spawn(
        "migrate",
        &["migrate", "--part", "roster"],
        &[("CADRE__roster__DATABASE__URL", url.clone())],
    );
    assert!(migrate.wait(Duration::from_secs(60)).success(), "{}", migrate.output());
    let mut verify = Proc::spawn(
        "audit verify",
        &["audit", "verify", "--part", "roster"],
        &[("CADRE__roster__DATABASE__URL", url)],
    );
    assert!(verify.wait(Duration::from_secs(60)).success(), "{}", verify.output());
    assert!(verify.output().contains("roster audit chain intact: 0 entries"), "{}", verify.output());
}
