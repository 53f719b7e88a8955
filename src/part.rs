//! The parts of the suite, as one typed list (Quickwit's `QuickwitService`): what
//! `cadre serve <part>` accepts and what `cadre up` runs.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Part {
    /// Regions, cadres, posts and structure analytics.
    Roster,
    /// REST/JSON and gRPC edge in front of the services.
    Gateway,
}

impl Part {
    /// Every part, services before the gateway that fronts them.
    pub const ALL: [Part; 2] = [Part::Roster, Part::Gateway];

    pub fn name(self) -> &'static str {
        match self {
            Part::Roster => cadre_roster::PART,
            Part::Gateway => "gateway",
        }
    }

    /// Parts that serve gRPC behind the gateway.
    pub fn services() -> impl Iterator<Item = Part> {
        Self::ALL.into_iter().filter(|p| *p != Part::Gateway)
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
