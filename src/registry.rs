//! The parts of the suite, in one list (Mimir's modules, Quickwit's services): what
//! `cadre up` runs, what `cadre serve <part>`, `cadre migrate`, `cadre audit verify
//! --part` and the gateway's upstreams loop over. Adding a service is implementing
//! `cadre_kit::part::Part` in its crate and one line here.

use cadre_kit::part::Part;

/// Every service part, in start order (a part's dependencies before it); the first
/// also answers health and reflection through the gateway.
pub const PARTS: &[&dyn Part] = &[
    &cadre_roster::Roster,
    &cadre_training::Training,
    &cadre_assessment::Assessment,
    &cadre_incentive::Incentive,
];

/// The gateway: not a service part (no database, no proto package of its own), but a
/// target of `cadre serve`.
pub const GATEWAY: &str = "gateway";

/// The part called `name`.
pub fn find(name: &str) -> Option<&'static dyn Part> {
    PARTS.iter().copied().find(|p| p.name() == name)
}

/// The names of every part, for configuration sections and messages.
pub fn names() -> Vec<&'static str> {
    PARTS.iter().map(|p| p.name()).collect()
}

/// What `cadre serve` accepts: every part, and the gateway.
pub fn targets() -> Vec<&'static str> {
    let mut all = names();
    all.push(GATEWAY);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_is_consistent() {
        cadre_kit::part::check_registry(PARTS).expect("names unique, dependencies registered");
        assert!(!names().contains(&GATEWAY));
        for part in PARTS {
            assert!(part.package().starts_with(&format!("cadre.{}.", part.name())), "{}", part.name());
        }
    }
}
