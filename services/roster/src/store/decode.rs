//! Stored values read back strictly: an enum number this build does not know, or a
//! date that does not parse, is [`RosterError::Corrupt`] naming the table's column,
//! the row and the value, never a default or a skipped row.

use cadre_proto::roster::v1 as pb;
use chrono::NaiveDate;

use super::reserves::{ReserveRow, StageRow};
use super::staffing::PriorityRow;
use super::{CadreRow, PostRow};
use crate::domain::dates;
use crate::error::RosterError;

/// `value` of `column` (as "table.column") in `row` as the enum `E`.
pub(crate) fn enum_of<E: TryFrom<i32>>(
    column: &'static str,
    row: &str,
    value: i64,
) -> Result<E, RosterError> {
    i32::try_from(value).ok().and_then(|v| E::try_from(v).ok()).ok_or_else(|| RosterError::Corrupt {
        column,
        row: row.to_string(),
        value: value.to_string(),
    })
}

/// A stored list of enum numbers (tags, criteria), every one known.
pub(crate) fn enums_of<E: TryFrom<i32>>(
    column: &'static str,
    row: &str,
    values: &[i32],
) -> Result<Vec<E>, RosterError> {
    values.iter().map(|v| enum_of(column, row, i64::from(*v))).collect()
}

pub(crate) fn date_of(column: &'static str, row: &str, value: &str) -> Result<NaiveDate, RosterError> {
    dates::parse_stored(value).ok_or_else(|| RosterError::Corrupt {
        column,
        row: row.to_string(),
        value: value.to_string(),
    })
}

/// A cadre's enum columns, read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CadreEnums {
    pub political_status: pb::PoliticalStatus,
    pub education: pb::Education,
    pub tags: Vec<pb::BackgroundTag>,
}

impl CadreRow {
    pub fn enums(&self) -> Result<CadreEnums, RosterError> {
        let row = format!("cadre {}", self.id);
        Ok(CadreEnums {
            political_status: enum_of("roster_cadres.political_status", &row, self.political_status)?,
            education: enum_of("roster_cadres.education", &row, self.education)?,
            tags: enums_of("roster_cadres.tags", &row, &self.tags)?,
        })
    }
}

/// A reserve's enum columns, read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveEnums {
    pub political_status: pb::PoliticalStatus,
    pub education: pb::Education,
    pub tags: Vec<pb::BackgroundTag>,
    pub stage: pb::ReserveStage,
}

impl ReserveRow {
    pub fn enums(&self) -> Result<ReserveEnums, RosterError> {
        let row = format!("reserve {}", self.id);
        Ok(ReserveEnums {
            political_status: enum_of("roster_reserves.political_status", &row, self.political_status)?,
            education: enum_of("roster_reserves.education", &row, self.education)?,
            tags: enums_of("roster_reserves.tags", &row, &self.tags)?,
            stage: enum_of("roster_reserves.stage", &row, self.stage)?,
        })
    }

    pub fn birth(&self) -> Result<NaiveDate, RosterError> {
        date_of("roster_reserves.birth_date", &format!("reserve {}", self.id), &self.birth_date)
    }
}

impl StageRow {
    /// The stage this step moved the reserve to.
    pub fn to_stage(&self) -> Result<pb::ReserveStage, RosterError> {
        let row = format!("step {} of reserve {}", self.seq, self.reserve_id);
        enum_of("roster_reserve_stages.stage", &row, self.stage)
    }
}

impl PostRow {
    pub fn post_kind(&self) -> Result<pb::PostKind, RosterError> {
        enum_of("roster_posts.kind", &format!("post {}", self.id), self.kind)
    }
}

impl PriorityRow {
    pub fn criteria(&self) -> Result<Vec<pb::VacancyCriterion>, RosterError> {
        let row = format!("region {}", self.region_code);
        enums_of("roster_vacancy_priorities.criteria", &row, &self.criteria)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_stored_number_is_corrupt_naming_column_row_and_value() {
        let err = enum_of::<pb::Education>("roster_cadres.education", "cadre c1", 99).unwrap_err();
        assert_eq!(
            err.to_string(),
            "roster_cadres.education of cadre c1 holds \"99\", which is not a value this service knows"
        );
        assert!(enum_of::<pb::Education>("x.y", "r", i64::from(i32::MAX) + 1).is_err());
        let tags: Vec<pb::BackgroundTag> = enums_of("roster_cadres.tags", "cadre c1", &[1, 2]).unwrap();
        assert_eq!(tags.len(), 2);
        assert!(enums_of::<pb::BackgroundTag>("roster_cadres.tags", "cadre c1", &[1, 77]).is_err());
        assert!(date_of("roster_posts.start_date", "post p1", "2021-02-30").is_err());
    }
}
