//! What lets the suite's teams move independently without breaking each other or the
//! province: the breaking-change guard that compares the API with what each service
//! released ([`breaking`], [`released`]), consumers' contracts checked in the
//! producer's CI ([`contract`]), and the `CODEOWNERS` rules that say who owns what
//! ([`codeowners`]). The tests of this crate apply them to the repository; `cadre api`
//! (the binary) records a release.
#![forbid(unsafe_code)]

pub mod breaking;
pub mod codeowners;
pub mod contract;
pub mod released;

pub use breaking::{Diff, Rule, Violation};
pub use released::GuardError;

/// The repository root, as this crate was built from it (`contracts/..`).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default()
}

/// The suite's API as this build has it (`cadre_proto::FILE_DESCRIPTOR_SET`).
pub fn current() -> Result<prost_reflect::DescriptorPool, prost_reflect::DescriptorError> {
    prost_reflect::DescriptorPool::decode(cadre_proto::FILE_DESCRIPTOR_SET)
}
