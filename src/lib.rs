//! The `cadre` suite as a library: which parts exist (the registry), and how one
//! process starts any of them or all of them together (Mimir's `-target=all`). The
//! binary in `main.rs` parses the command line and calls in here; the end-to-end tests
//! start the suite the same way, on ports chosen by the OS.
#![forbid(unsafe_code)]

pub mod registry;
pub mod suite;

pub use suite::{RunningSuite, SuiteOptions};
