//! Why a rule refused: a field, a move between phases, a phase that takes no sheets, a
//! scheme that cannot serve the county's villages, or the rows of a sheet.

use cadre_kit::fields::FieldError;

/// One refused row of a sheet: its index in the request (or line in a file), the column
/// (`village_code`, `indicator_code`, `points`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    pub row: usize,
    pub column: &'static str,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// A field is wrong; the message starts with its name (`items[2].indicators[0].max_points`).
    #[error("{0}")]
    Invalid(#[from] FieldError),
    /// A move the phases do not allow, naming both ends.
    #[error("{what} is {from}; it cannot move to {to}")]
    IllegalMove { what: String, from: &'static str, to: &'static str },
    /// A sheet arrived when the year takes none.
    #[error("{what} is {phase}: sheets are accepted only while SCORING_OPEN")]
    NotScoring { what: String, phase: &'static str },
    /// Something the year's phase does not allow, naming the phase.
    #[error("{what} is {phase}: {rule}")]
    Phase { what: String, phase: &'static str, rule: &'static str },
    /// Opening scoring needs a variant for every type of village the county has.
    #[error("the scheme has no variant for {villages} villages of type(s) {types}: add a variant for each")]
    MissingVariants { types: String, villages: usize },
    /// Rows of a sheet refused (all of them; the sheet changes not at all).
    #[error("{} row(s) refused; first: scores[{}].{}: {}", .0.len(), .0[0].row, .0[0].column, .0[0].reason)]
    Rows(Vec<RowProblem>),
}

impl RuleError {
    pub fn invalid_phase(what: &str, phase: super::phase::Phase, rule: &'static str) -> Self {
        Self::Phase { what: what.to_string(), phase: phase.as_str(), rule }
    }

    pub fn invalid(field: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::Invalid(FieldError::new(field, reason))
    }
}
