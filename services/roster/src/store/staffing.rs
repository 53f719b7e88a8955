//! SQL of the staffing configuration per region (rules, vacancy priority) and the
//! read-only views the compliance report and alerts need.

use std::ops::Bound;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use cadre_kit::RegionCode;
use cadre_kit::db::{Db, like_prefix};
use cadre_kit::sql::Sql;
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::PostKind;

use super::{POST_COLUMNS, POST_FROM, decode, held_on, post_row};
use crate::domain::posts::HeldPost;
use crate::domain::staffing::{Holder, Rules};
use crate::error::RosterError;

/// Where a staffing read looks: everywhere under a region, or a run of villages
/// (`first..=last` in code order: one window of a list walked village by village).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area<'a> {
    Under(&'a str),
    Villages { first: &'a str, last: &'a str },
}

impl Area<'_> {
    /// Appends the condition that `column` (a region code) lies in the area.
    pub(crate) fn push<'s>(&self, s: &'s mut Sql, column: &str) -> &'s mut Sql {
        match self {
            Area::Under(prefix) => {
                s.push(&format!("{column} LIKE ")).bind(like_prefix(prefix)).push(" ESCAPE '\\'")
            }
            // Every code between two villages of a region lies in that region too.
            Area::Villages { first, last } => {
                s.push(&format!("{column} >= ")).bind(*first).push(&format!(" AND {column} <= ")).bind(*last)
            }
        }
    }
}

/// Up to `limit` villages (code, name) under a region prefix from `from` on, in code order.
pub async fn villages_from(
    db: &Db,
    prefix: &str,
    from: Bound<&str>,
    limit: i64,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let village = crate::domain::region::level_to_proto(cadre_kit::RegionLevel::Village) as i64;
    let mut s = Sql::new("SELECT code, name FROM roster_regions WHERE level = ");
    s.bind(village).push(" AND code LIKE ").bind(like_prefix(prefix)).push(" ESCAPE '\\'");
    match from {
        Bound::Included(code) => {
            s.push(" AND code >= ").bind(code);
        }
        Bound::Excluded(code) => {
            s.push(" AND code > ").bind(code);
        }
        Bound::Unbounded => {}
    }
    s.push(" ORDER BY code LIMIT ").bind(limit);
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// The posts of `kinds` in `area` begun by `day`, ended or not (when a seat fell vacant).
pub async fn seat_posts_in(
    db: &Db,
    area: Area<'_>,
    kinds: &[PostKind],
    day: &str,
) -> Result<Vec<HeldPost>, RosterError> {
    let mut s = Sql::new(format!("SELECT {POST_COLUMNS} {POST_FROM} WHERE "));
    area.push(&mut s, "p.region_code").push(" AND p.start_date <= ").bind(day);
    s.push(" AND p.kind IN (").bind_list(kinds.iter().map(|k| *k as i64)).push(")");
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(|r| post_row(r)?.held()).collect()
}

/// A region's own rules as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesRow {
    pub region_code: String,
    pub rules: Rules,
    pub revision: i64,
}

const RULE_COLUMNS: &str = "region_code, min_full_time_bachelor, youth_league_secretary_max_age, \
     womens_federation_chair_max_age, min_reserve_seeds, age_limit, term_end_warning_days, term_end_date, revision";

fn rules_row(r: &AnyRow) -> Result<RulesRow, sqlx::Error> {
    let int = |i: usize| -> Result<i32, sqlx::Error> { Ok(r.try_get::<i64, _>(i)? as i32) };
    let end: String = r.try_get(7)?;
    Ok(RulesRow {
        region_code: r.try_get(0)?,
        rules: Rules {
            min_full_time_bachelor: int(1)?,
            youth_league_secretary_max_age: int(2)?,
            womens_federation_chair_max_age: int(3)?,
            min_reserve_seeds: int(4)?,
            age_limit: int(5)?,
            term_end_warning_days: int(6)?,
            term_end_date: chrono::NaiveDate::parse_from_str(&end, "%Y-%m-%d")
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        },
        revision: r.try_get(8)?,
    })
}

/// Rules configured at any of `ancestors` or anywhere under `prefix`.
pub async fn rules_around(
    db: &Db,
    ancestors: &[RegionCode],
    prefix: &str,
) -> Result<Vec<RulesRow>, sqlx::Error> {
    let mut s = Sql::new(format!("SELECT {RULE_COLUMNS} FROM roster_staffing_rules WHERE region_code LIKE "));
    s.bind(like_prefix(prefix)).push(" ESCAPE '\\'");
    if !ancestors.is_empty() {
        s.push(" OR region_code IN (").bind_list(ancestors).push(")");
    }
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(rules_row).collect()
}

pub async fn get_rules(conn: &mut AnyConnection, code: &str) -> Result<Option<RulesRow>, sqlx::Error> {
    let sql = format!("SELECT {RULE_COLUMNS} FROM roster_staffing_rules WHERE region_code = $1");
    sqlx::query(&sql).bind(code.to_string()).fetch_optional(conn).await?.as_ref().map(rules_row).transpose()
}

/// Inserts (revision 1) or replaces a region's rules.
pub async fn put_rules(conn: &mut AnyConnection, row: &RulesRow, now: i64) -> Result<(), sqlx::Error> {
    let sql = if row.revision == 1 {
        "INSERT INTO roster_staffing_rules (min_full_time_bachelor, youth_league_secretary_max_age, \
         womens_federation_chair_max_age, min_reserve_seeds, age_limit, term_end_warning_days, term_end_date, \
         revision, updated_at, region_code) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    } else {
        "UPDATE roster_staffing_rules SET min_full_time_bachelor = $1, youth_league_secretary_max_age = $2, \
         womens_federation_chair_max_age = $3, min_reserve_seeds = $4, age_limit = $5, term_end_warning_days = $6, \
         term_end_date = $7, revision = $8, updated_at = $9 WHERE region_code = $10"
    };
    let r = &row.rules;
    sqlx::query(sql)
        .bind(i64::from(r.min_full_time_bachelor))
        .bind(i64::from(r.youth_league_secretary_max_age))
        .bind(i64::from(r.womens_federation_chair_max_age))
        .bind(i64::from(r.min_reserve_seeds))
        .bind(i64::from(r.age_limit))
        .bind(i64::from(r.term_end_warning_days))
        .bind(crate::domain::dates::format(r.term_end_date))
        .bind(row.revision)
        .bind(now)
        .bind(row.region_code.clone())
        .execute(conn)
        .await?;
    Ok(())
}

/// A region's own vacancy priority list as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorityRow {
    pub region_code: String,
    pub criteria: Vec<i32>,
    pub revision: i64,
}

fn priority_row(r: &AnyRow) -> Result<PriorityRow, sqlx::Error> {
    let criteria: String = r.try_get(1)?;
    Ok(PriorityRow {
        region_code: r.try_get(0)?,
        criteria: super::decode_tags(&criteria),
        revision: r.try_get(2)?,
    })
}

/// Priority lists configured at any of `codes`.
pub async fn priorities_at(db: &Db, codes: &[RegionCode]) -> Result<Vec<PriorityRow>, sqlx::Error> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let mut s = Sql::new(
        "SELECT region_code, criteria, revision FROM roster_vacancy_priorities WHERE region_code IN (",
    );
    s.bind_list(codes).push(")");
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(priority_row).collect()
}

pub async fn get_priority(conn: &mut AnyConnection, code: &str) -> Result<Option<PriorityRow>, sqlx::Error> {
    sqlx::query(
        "SELECT region_code, criteria, revision FROM roster_vacancy_priorities WHERE region_code = $1",
    )
    .bind(code.to_string())
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(priority_row)
    .transpose()
}

/// Inserts (revision 1) or replaces a region's priority list.
pub async fn put_priority(conn: &mut AnyConnection, row: &PriorityRow, now: i64) -> Result<(), sqlx::Error> {
    let sql = if row.revision == 1 {
        "INSERT INTO roster_vacancy_priorities (criteria, revision, updated_at, region_code) VALUES ($1, $2, $3, $4)"
    } else {
        "UPDATE roster_vacancy_priorities SET criteria = $1, revision = $2, updated_at = $3 WHERE region_code = $4"
    };
    sqlx::query(sql)
        .bind(super::encode_tags(&row.criteria))
        .bind(row.revision)
        .bind(now)
        .bind(row.region_code.clone())
        .execute(conn)
        .await?;
    Ok(())
}

/// Everyone holding a post in `area` on `day`: (village, holder).
pub async fn holders_in(db: &Db, area: Area<'_>, day: &str) -> Result<Vec<(String, Holder)>, RosterError> {
    let mut s = Sql::new(
        "SELECT p.region_code, p.kind, c.id, c.name, c.birth_date, c.education, c.full_time_education, p.id \
         FROM roster_posts p JOIN roster_cadres c ON c.id = p.cadre_id WHERE ",
    );
    held_on(area.push(&mut s, "p.region_code").push(" AND"), "p", day)
        .push(" ORDER BY p.region_code, p.kind, c.id");
    let rows = s.query().fetch_all(db.pool()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let cadre_id: String = r.try_get(2)?;
        let (post, cadre) = (format!("post {}", r.try_get::<String, _>(7)?), format!("cadre {cadre_id}"));
        let birth: String = r.try_get(4)?;
        out.push((
            r.try_get(0)?,
            Holder {
                kind: decode::enum_of("roster_posts.kind", &post, r.try_get(1)?)?,
                birth_date: decode::date_of("roster_cadres.birth_date", &cadre, &birth)?,
                education: decode::enum_of("roster_cadres.education", &cadre, r.try_get(5)?)?,
                cadre_id,
                name: r.try_get(3)?,
                full_time_education: r.try_get::<i64, _>(6)? != 0,
            },
        ));
    }
    Ok(out)
}

/// A cadre's political status and tags, for ranking specialists.
pub type Profile = (pb::PoliticalStatus, Vec<pb::BackgroundTag>);

/// Cadres (id, profile) by id.
pub async fn cadre_profiles(db: &Db, ids: &[String]) -> Result<Vec<(String, Profile)>, RosterError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut s = Sql::new("SELECT id, political_status, tags FROM roster_cadres WHERE id IN (");
    s.bind_list(ids).push(") ORDER BY id");
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter()
        .map(|r| {
            let id: String = r.try_get(0)?;
            let row = format!("cadre {id}");
            let tags: String = r.try_get(2)?;
            let political = decode::enum_of("roster_cadres.political_status", &row, r.try_get(1)?)?;
            let tags = decode::enums_of("roster_cadres.tags", &row, &super::decode_tags(&tags))?;
            Ok((id, (political, tags)))
        })
        .collect()
}

/// Townships (code, name) under a region prefix, in code order.
pub async fn townships_under(db: &Db, prefix: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT code, name FROM roster_regions WHERE level = $1 AND code LIKE $2 ESCAPE '\\' ORDER BY code",
    )
    .bind(crate::domain::region::level_to_proto(cadre_kit::RegionLevel::Township) as i64)
    .bind(like_prefix(prefix))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}
