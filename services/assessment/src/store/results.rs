//! The year's rules, list events, results (current and every revision), the notice
//! window, objections and consequences.

use std::collections::BTreeMap;

use cadre_kit::bulk;
use cadre_kit::db::{WriteTx, like_prefix};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::decode;
use crate::domain::results::{Explanation, VillageResult};
use crate::error::AssessmentError;

fn y(year: i32) -> i64 {
    i64::from(year)
}

// ------------------------------------------------------------------ rules

pub async fn rules(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
) -> Result<Option<(String, i64)>, AssessmentError> {
    let row = sqlx::query("SELECT body, revision FROM assessment_rules WHERE county_code = $1 AND year = $2")
        .bind(county.to_string())
        .bind(y(year))
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
}

/// Writes the rules at `revision` (1: first).
pub async fn put_rules(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
    body: &str,
    revision: i64,
    now: i64,
) -> Result<(), AssessmentError> {
    let sql = if revision == 1 {
        "INSERT INTO assessment_rules (county_code, year, body, revision, updated_at) VALUES ($1, $2, $3, $4, $5)"
    } else {
        "UPDATE assessment_rules SET body = $3, revision = $4, updated_at = $5 WHERE county_code = $1 AND year = $2"
    };
    sqlx::query(sql)
        .bind(county.to_string())
        .bind(y(year))
        .bind(body.to_string())
        .bind(revision)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

// ------------------------------------------------------------------ list events

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub id: String,
    pub county_code: String,
    pub year: i32,
    pub village_code: String,
    pub cadre_id: String,
    pub list_code: String,
    pub item_code: String,
    pub evidence: String,
    pub points: i64,
    pub recorded_by: String,
    pub recorded_at: i64,
}

const EVENT_COLUMNS: &str = "id, county_code, year, village_code, cadre_id, list_code, item_code, evidence, points, \
                             recorded_by, recorded_at";

fn event(r: &AnyRow) -> Result<EventRow, AssessmentError> {
    let year: i64 = r.try_get(2)?;
    Ok(EventRow {
        id: r.try_get(0)?,
        county_code: r.try_get(1)?,
        year: year as i32,
        village_code: r.try_get(3)?,
        cadre_id: r.try_get(4)?,
        list_code: r.try_get(5)?,
        item_code: r.try_get(6)?,
        evidence: r.try_get(7)?,
        points: r.try_get(8)?,
        recorded_by: r.try_get(9)?,
        recorded_at: r.try_get(10)?,
    })
}

pub async fn insert_event(conn: &mut AnyConnection, e: &EventRow) -> Result<(), AssessmentError> {
    sqlx::query(&format!(
        "INSERT INTO assessment_list_events ({EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(e.id.clone())
    .bind(e.county_code.clone())
    .bind(y(e.year))
    .bind(e.village_code.clone())
    .bind(e.cadre_id.clone())
    .bind(e.list_code.clone())
    .bind(e.item_code.clone())
    .bind(e.evidence.clone())
    .bind(e.points)
    .bind(e.recorded_by.clone())
    .bind(e.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The year's events (of one village when `village` is not empty), by id after `after`.
pub async fn events(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
    village: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<EventRow>, AssessmentError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM assessment_list_events WHERE county_code = $1 AND year = $2 \
         AND ($3 = '' OR village_code = $3) AND id > $4 ORDER BY id LIMIT $5"
    );
    let rows = sqlx::query(&sql)
        .bind(county.to_string())
        .bind(y(year))
        .bind(village.to_string())
        .bind(after.to_string())
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(event).collect()
}

// ------------------------------------------------------------------ what compute reads

/// Each village's indicator sum and score count for the year: one GROUP BY.
pub async fn score_sums(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
) -> Result<BTreeMap<String, (i64, u32)>, AssessmentError> {
    let rows = sqlx::query(
        "SELECT village_code, CAST(SUM(points) AS BIGINT), COUNT(*) FROM assessment_scores WHERE county_code = $1 AND year = $2 \
         GROUP BY village_code",
    )
    .bind(county.to_string())
    .bind(y(year))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let sum: i64 = r.try_get(1)?;
            let n: i64 = r.try_get(2)?;
            Ok((r.try_get(0)?, (sum, n as u32)))
        })
        .collect()
}

/// The score of a village's indicator, with its unit.
pub async fn score(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
    village: &str,
    indicator: &str,
) -> Result<Option<i64>, AssessmentError> {
    let row = sqlx::query(
        "SELECT points FROM assessment_scores WHERE county_code = $1 AND year = $2 AND village_code = $3 \
         AND indicator_code = $4",
    )
    .bind(county.to_string())
    .bind(y(year))
    .bind(village.to_string())
    .bind(indicator.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(|r| r.try_get(0).map_err(AssessmentError::from)).transpose()
}

pub async fn set_score(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
    village: &str,
    indicator: &str,
    points: i64,
) -> Result<(), AssessmentError> {
    sqlx::query(
        "UPDATE assessment_scores SET points = $5 WHERE county_code = $1 AND year = $2 AND village_code = $3 \
         AND indicator_code = $4",
    )
    .bind(county.to_string())
    .bind(y(year))
    .bind(village.to_string())
    .bind(indicator.to_string())
    .bind(points)
    .execute(conn)
    .await?;
    Ok(())
}

// ------------------------------------------------------------------ results

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResult {
    pub result: VillageResult,
    pub revision: i64,
    pub reason: String,
}

const RESULT_COLUMNS: &str = "village_code, total, indicator_total, rank_township, rank_county, rank_type, tier, \
                              explanation, revision, reason";

/// A result row joined with its frozen village (township, type).
fn result(r: &AnyRow) -> Result<StoredResult, AssessmentError> {
    let code: String = r.try_get(0)?;
    let explanation: String = r.try_get(7)?;
    let explanation: Explanation =
        serde_json::from_str(&explanation).map_err(|_| AssessmentError::Corrupt {
            column: "assessment_results.explanation",
            row: code.clone(),
            value: explanation.chars().take(40).collect(),
        })?;
    let n = |i: usize| -> Result<i64, AssessmentError> { Ok(r.try_get::<i64, _>(i)?) };
    Ok(StoredResult {
        result: VillageResult {
            township_code: r.try_get(10)?,
            village_type: r.try_get(11)?,
            total: n(1)?,
            indicator_total: n(2)?,
            negative_events: 0,
            rank_township: n(3)? as u32,
            rank_county: n(4)? as u32,
            rank_type: n(5)? as u32,
            tier: decode("assessment_results.tier", &code, n(6)?, |t| {
                (1..=4).contains(&t).then_some(t as u8)
            })?,
            explanation,
            code,
        },
        revision: n(8)?,
        reason: r.try_get(9)?,
    })
}

fn select_results() -> String {
    let cols: Vec<String> = RESULT_COLUMNS.split(", ").map(|c| format!("r.{c}")).collect();
    format!(
        "SELECT {}, v.township_code, v.village_type FROM assessment_results r JOIN assessment_year_villages v \
         ON v.county_code = r.county_code AND v.year = r.year AND v.village_code = r.village_code",
        cols.join(", ")
    )
}

pub async fn all_results(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
) -> Result<Vec<StoredResult>, AssessmentError> {
    let sql =
        format!("{} WHERE r.county_code = $1 AND r.year = $2 ORDER BY r.village_code", select_results());
    let rows = sqlx::query(&sql).bind(county.to_string()).bind(y(year)).fetch_all(conn).await?;
    rows.iter().map(result).collect()
}

pub async fn results_page(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
    prefix: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<StoredResult>, AssessmentError> {
    let sql = format!(
        "{} WHERE r.county_code = $1 AND r.year = $2 AND r.village_code LIKE $3 ESCAPE '\\' AND r.village_code > $4 \
         ORDER BY r.village_code LIMIT $5",
        select_results()
    );
    let rows = sqlx::query(&sql)
        .bind(county.to_string())
        .bind(y(year))
        .bind(like_prefix(prefix))
        .bind(after.to_string())
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(result).collect()
}

pub async fn result_of(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
    village: &str,
) -> Result<Option<StoredResult>, AssessmentError> {
    let sql =
        format!("{} WHERE r.county_code = $1 AND r.year = $2 AND r.village_code = $3", select_results());
    let row = sqlx::query(&sql)
        .bind(county.to_string())
        .bind(y(year))
        .bind(village.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(result).transpose()
}

fn explanation_json(r: &VillageResult) -> String {
    serde_json::to_string(&r.explanation).unwrap_or_default()
}

/// The first results of a year, in bulk statements (and their first revisions).
pub async fn insert_results(
    tx: &mut WriteTx,
    county: &str,
    year: i32,
    results: &[VillageResult],
    by: &str,
    now: i64,
) -> Result<(), AssessmentError> {
    use bulk::Column as C;
    let explained: Vec<(&VillageResult, String)> = results.iter().map(|r| (r, explanation_json(r))).collect();
    const COLUMNS: [C; 8] = [
        C::text("village_code"),
        C::bigint("total"),
        C::bigint("indicator_total"),
        C::bigint("rank_township"),
        C::bigint("rank_county"),
        C::bigint("rank_type"),
        C::bigint("tier"),
        C::text("explanation"),
    ];
    let shared = [
        ("county_code", bulk::Cell::Text(county)),
        ("year", bulk::Cell::BigInt(y(year))),
        ("revision", bulk::Cell::BigInt(1)),
        ("reason", bulk::Cell::Text("computed")),
        ("updated_at", bulk::Cell::BigInt(now)),
    ];
    let table = bulk::Table { name: "assessment_results", columns: &COLUMNS, shared: &shared };
    bulk::insert(tx, &table, &explained, |(r, e)| {
        [
            (&r.code).into(),
            r.total.into(),
            r.indicator_total.into(),
            i64::from(r.rank_township).into(),
            i64::from(r.rank_county).into(),
            i64::from(r.rank_type).into(),
            i64::from(r.tier).into(),
            e.as_str().into(),
        ]
    })
    .await?;
    const REV: [C; 4] =
        [C::text("village_code"), C::bigint("total"), C::bigint("tier"), C::text("explanation")];
    let shared = [
        ("county_code", bulk::Cell::Text(county)),
        ("year", bulk::Cell::BigInt(y(year))),
        ("revision", bulk::Cell::BigInt(1)),
        ("reason", bulk::Cell::Text("computed")),
        ("recorded_by", bulk::Cell::Text(by)),
        ("recorded_at", bulk::Cell::BigInt(now)),
    ];
    let table = bulk::Table { name: "assessment_result_revisions", columns: &REV, shared: &shared };
    bulk::insert(tx, &table, &explained, |(r, e)| {
        [(&r.code).into(), r.total.into(), i64::from(r.tier).into(), e.as_str().into()]
    })
    .await?;
    Ok(())
}

/// A result's new revision: the current row rewritten and the revision kept.
pub async fn revise_result(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
    s: &StoredResult,
    by: &str,
    now: i64,
) -> Result<(), AssessmentError> {
    let r = &s.result;
    let e = explanation_json(r);
    sqlx::query(
        "UPDATE assessment_results SET total = $4, indicator_total = $5, rank_township = $6, rank_county = $7, \
         rank_type = $8, tier = $9, explanation = $10, revision = $11, reason = $12, updated_at = $13 \
         WHERE county_code = $1 AND year = $2 AND village_code = $3",
    )
    .bind(county.to_string())
    .bind(y(year))
    .bind(r.code.clone())
    .bind(r.total)
    .bind(r.indicator_total)
    .bind(i64::from(r.rank_township))
    .bind(i64::from(r.rank_county))
    .bind(i64::from(r.rank_type))
    .bind(i64::from(r.tier))
    .bind(e.clone())
    .bind(s.revision)
    .bind(s.reason.clone())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO assessment_result_revisions (county_code, year, village_code, revision, total, tier, explanation, \
         reason, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(county.to_string())
    .bind(y(year))
    .bind(r.code.clone())
    .bind(s.revision)
    .bind(r.total)
    .bind(i64::from(r.tier))
    .bind(e)
    .bind(s.reason.clone())
    .bind(by.to_string())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The final tiers of a year (empty unless that year is final).
pub async fn final_tiers(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
) -> Result<BTreeMap<String, u8>, AssessmentError> {
    let rows = sqlx::query(
        "SELECT r.village_code, r.tier FROM assessment_results r JOIN assessment_years y \
         ON y.county_code = r.county_code AND y.year = r.year WHERE r.county_code = $1 AND r.year = $2 AND y.phase = 6",
    )
    .bind(county.to_string())
    .bind(y(year))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let t: i64 = r.try_get(1)?;
            Ok((r.try_get(0)?, t as u8))
        })
        .collect()
}

// ------------------------------------------------------------------ notice and objections

pub async fn put_notice(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
    starts_on: &str,
    ends_on: &str,
) -> Result<(), AssessmentError> {
    sqlx::query(
        "INSERT INTO assessment_notices (county_code, year, starts_on, ends_on) VALUES ($1, $2, $3, $4)",
    )
    .bind(county.to_string())
    .bind(y(year))
    .bind(starts_on.to_string())
    .bind(ends_on.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn notice(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
) -> Result<Option<(String, String)>, AssessmentError> {
    let row =
        sqlx::query("SELECT starts_on, ends_on FROM assessment_notices WHERE county_code = $1 AND year = $2")
            .bind(county.to_string())
            .bind(y(year))
            .fetch_optional(conn)
            .await?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectionRow {
    pub id: String,
    pub county_code: String,
    pub year: i32,
    pub village_code: String,
    pub reason: String,
    /// 1 open, 2 upheld, 3 dismissed.
    pub state: i64,
    pub answer: String,
    /// JSON `[[indicator, points], …]`.
    pub score_changes: String,
    pub raised_by: String,
    pub raised_at: i64,
    pub resolved_by: String,
    pub resolved_at: Option<i64>,
    pub revision: i64,
}

const OBJECTION_COLUMNS: &str = "id, county_code, year, village_code, reason, state, answer, score_changes, raised_by, \
                                 raised_at, resolved_by, resolved_at, revision";

fn objection(r: &AnyRow) -> Result<ObjectionRow, AssessmentError> {
    let year: i64 = r.try_get(2)?;
    let id: String = r.try_get(0)?;
    Ok(ObjectionRow {
        state: decode("assessment_objections.state", &id, r.try_get(5)?, |s| {
            (1..=3).contains(&s).then_some(s)
        })?,
        id,
        county_code: r.try_get(1)?,
        year: year as i32,
        village_code: r.try_get(3)?,
        reason: r.try_get(4)?,
        answer: r.try_get(6)?,
        score_changes: r.try_get(7)?,
        raised_by: r.try_get(8)?,
        raised_at: r.try_get(9)?,
        resolved_by: r.try_get(10)?,
        resolved_at: r.try_get(11)?,
        revision: r.try_get(12)?,
    })
}

pub async fn insert_objection(conn: &mut AnyConnection, o: &ObjectionRow) -> Result<(), AssessmentError> {
    sqlx::query(&format!(
        "INSERT INTO assessment_objections ({OBJECTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
         $12, $13)"
    ))
    .bind(o.id.clone())
    .bind(o.county_code.clone())
    .bind(y(o.year))
    .bind(o.village_code.clone())
    .bind(o.reason.clone())
    .bind(o.state)
    .bind(o.answer.clone())
    .bind(o.score_changes.clone())
    .bind(o.raised_by.clone())
    .bind(o.raised_at)
    .bind(o.resolved_by.clone())
    .bind(o.resolved_at)
    .bind(o.revision)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn resolve_objection(conn: &mut AnyConnection, o: &ObjectionRow) -> Result<(), AssessmentError> {
    sqlx::query(
        "UPDATE assessment_objections SET state = $2, answer = $3, score_changes = $4, resolved_by = $5, \
         resolved_at = $6, revision = $7 WHERE id = $1",
    )
    .bind(o.id.clone())
    .bind(o.state)
    .bind(o.answer.clone())
    .bind(o.score_changes.clone())
    .bind(o.resolved_by.clone())
    .bind(o.resolved_at)
    .bind(o.revision)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn objection_by_id(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<ObjectionRow>, AssessmentError> {
    let row = sqlx::query(&format!("SELECT {OBJECTION_COLUMNS} FROM assessment_objections WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(objection).transpose()
}

pub async fn objections(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
    after: &str,
    limit: i64,
) -> Result<Vec<ObjectionRow>, AssessmentError> {
    let rows = sqlx::query(&format!(
        "SELECT {OBJECTION_COLUMNS} FROM assessment_objections WHERE county_code = $1 AND year = $2 AND id > $3 \
         ORDER BY id LIMIT $4"
    ))
    .bind(county.to_string())
    .bind(y(year))
    .bind(after.to_string())
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(objection).collect()
}

pub async fn open_objections(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
) -> Result<i64, AssessmentError> {
    let row = sqlx::query(
        "SELECT COUNT(*) FROM assessment_objections WHERE county_code = $1 AND year = $2 AND state = 1",
    )
    .bind(county.to_string())
    .bind(y(year))
    .fetch_one(conn)
    .await?;
    Ok(row.try_get(0)?)
}

// ------------------------------------------------------------------ consequences

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsequenceRow {
    pub village_code: String,
    pub kind: String,
    pub subject: String,
    pub secretary_id: String,
    pub secretary_name: String,
    pub rule: String,
    /// JSON array of strings.
    pub because: String,
    pub withdrawn: bool,
    pub revision: i64,
}

const CONSEQUENCE_COLUMNS: &str = "village_code, kind, subject, secretary_id, secretary_name, rule, because, withdrawn, \
                                   revision";

fn consequence(r: &AnyRow) -> Result<ConsequenceRow, AssessmentError> {
    let withdrawn: i64 = r.try_get(7)?;
    Ok(ConsequenceRow {
        village_code: r.try_get(0)?,
        kind: r.try_get(1)?,
        subject: r.try_get(2)?,
        secretary_id: r.try_get(3)?,
        secretary_name: r.try_get(4)?,
        rule: r.try_get(5)?,
        because: r.try_get(6)?,
        withdrawn: withdrawn != 0,
        revision: r.try_get(8)?,
    })
}

pub async fn consequences(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
    kind: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<ConsequenceRow>, AssessmentError> {
    // Keyset on "village|kind".
    let rows = sqlx::query(&format!(
        "SELECT {CONSEQUENCE_COLUMNS} FROM assessment_consequences WHERE county_code = $1 AND year = $2 \
         AND ($3 = '' OR kind = $3) AND (village_code || '|' || kind) > $4 ORDER BY village_code, kind LIMIT $5"
    ))
    .bind(county.to_string())
    .bind(y(year))
    .bind(kind.to_string())
    .bind(after.to_string())
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(consequence).collect()
}

pub async fn write_consequence(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
    c: &ConsequenceRow,
) -> Result<(), AssessmentError> {
    let sql = if c.revision == 1 {
        "INSERT INTO assessment_consequences (county_code, year, village_code, kind, subject, secretary_id, \
         secretary_name, rule, because, withdrawn, revision) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    } else {
        "UPDATE assessment_consequences SET subject = $5, secretary_id = $6, secretary_name = $7, rule = $8, \
         because = $9, withdrawn = $10, revision = $11 WHERE county_code = $1 AND year = $2 AND village_code = $3 \
         AND kind = $4"
    };
    sqlx::query(sql)
        .bind(county.to_string())
        .bind(y(year))
        .bind(c.village_code.clone())
        .bind(c.kind.clone())
        .bind(c.subject.clone())
        .bind(c.secretary_id.clone())
        .bind(c.secretary_name.clone())
        .bind(c.rule.clone())
        .bind(c.because.clone())
        .bind(i64::from(c.withdrawn))
        .bind(c.revision)
        .execute(conn)
        .await?;
    Ok(())
}
