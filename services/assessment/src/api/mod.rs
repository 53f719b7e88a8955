//! Assessment's gRPC services: proto in, domain decisions, store out, errors to `Status`.
//! No SQL here and no rules: those live in `store` and `domain`.

mod file;
mod results;
mod schemes;
mod sheets;
mod units;
mod years;

use cadre_kit::db::{Db, from_micros};
use cadre_kit::{ApiError, Principal, RegionCode, RegionLevel, fields};
use sqlx::AnyConnection;

use crate::error::AssessmentError;
use crate::store::years::{self as year_store, YearRow};

/// A scheme as the domain reads it (for the demo's own check).
#[cfg(test)]
pub(crate) fn body_of_for_tests(
    s: &cadre_proto::assessment::v1::Scheme,
) -> crate::domain::scheme::SchemeBody {
    schemes::body_of(s)
}

/// Shared by every assessment service: its database.
#[derive(Clone)]
pub struct AssessmentApi {
    pub(crate) db: Db,
}

impl AssessmentApi {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }
}

/// A county code given in `field`: 12 digits, at the county level.
pub(crate) fn county(field: &str, s: &str) -> Result<RegionCode, ApiError> {
    let c = fields::region(field, s)?;
    if c.level() != RegionLevel::County {
        return Err(ApiError::invalid(field, format!("{c} is not a county")));
    }
    Ok(c)
}

/// Whether the caller sees a county's assessment: from the county or above, or from a
/// township of it (its township's units read the scheme their sheets follow).
pub(crate) fn sees_county(p: &Principal, county: &RegionCode) -> bool {
    p.covers(county) || county.covers(&p.jurisdiction)
}

pub(crate) fn ensure_sees_county(p: &Principal, county: &RegionCode) -> Result<(), ApiError> {
    if sees_county(p, county) {
        Ok(())
    } else {
        Err(ApiError::permission_denied(format!(
            "the assessment of {county} is outside your jurisdiction {}",
            p.jurisdiction
        )))
    }
}

/// The county's year, or NOT_FOUND saying how a year begins.
pub(crate) async fn year_of(conn: &mut AnyConnection, county: &str, year: i32) -> Result<YearRow, ApiError> {
    year_store::get(conn, county, year).await?.ok_or_else(|| {
        AssessmentError::NotFound(format!(
            "assessment year {county}/{year} (it begins with a scheme: CreateScheme or CopyScheme)"
        ))
        .into()
    })
}

pub(crate) fn timestamp(micros: Option<i64>) -> Option<prost_types::Timestamp> {
    micros.map(|m| cadre_kit::audit::prost_types_timestamp(from_micros(m)))
}
