//! SheetService: a scoring unit's sheet for a year — submitted whole (gRPC, REST, or a
//! CSV/XLSX file), revised until scoring closes, read back; its form (what it scores);
//! the county's progress. A unit acts through a `scoring_unit` token whose subject is
//! bound to it; an administrator over the unit's region may enter a paper sheet for it.

use std::collections::HashMap;

use cadre_kit::call::{Call, Changed, Mutation};
use cadre_kit::db::to_micros;
use cadre_kit::{ApiError, Principal, RegionCode, Role, fields};
use cadre_proto::assessment::v1 as pb;
use cadre_proto::assessment::v1::sheet_service_server::SheetService;
use sqlx::AnyConnection;
use tonic::{Request, Response, Status};

use super::file::{self, Format};
use super::units::kind_to_proto;
use super::years::phase_to_proto;
use super::{AssessmentApi, county, timestamp, year_of};
use crate::domain::phase;
use crate::domain::points;
use crate::domain::sheet::{self, ScoreInput, YearVillage};
use crate::domain::units::Scorer;
use crate::domain::{RowProblem, RuleError};
use crate::error::AssessmentError;
use crate::store::schemes::{self as scheme_store, SchemeRow};
use crate::store::sheets::{self as st, SheetHead};
use crate::store::units::{self as unit_store, UnitRow};

use crate::store::years::{self as years, YearRow};

/// The largest file an upload takes.
const MAX_UPLOAD: usize = 4 << 20;

fn scorer(unit: &UnitRow) -> Scorer {
    Scorer { unit_id: unit.id.clone(), kind: unit.kind, region: unit.region_code.clone() }
}

fn sheet_key(county: &str, year: i32, unit: &str) -> String {
    format!("{county}/{year}/{unit}")
}

fn score_to_proto(s: ScoreInput) -> pb::Score {
    pb::Score { village_code: s.village_code, indicator_code: s.indicator_code, points: s.points }
}

fn sheet_to_proto(county: &str, year: i32, head: &SheetHead, scores: Vec<ScoreInput>) -> pb::Sheet {
    pb::Sheet {
        county_code: county.to_string(),
        year,
        unit_id: head.unit_id.clone(),
        scores: scores.into_iter().map(score_to_proto).collect(),
        revision: head.revision,
        submitted_at: timestamp(Some(head.submitted_at)),
        submitted_by: head.submitted_by.clone(),
    }
}

/// The unit `unit_id` of `county`, if the caller may act for it: a `scoring_unit` token
/// bound to it (within its region), or an administrator over its region (`write`: one who
/// may change data there; else one who may read it).
async fn unit_for(
    conn: &mut AnyConnection,
    p: &Principal,
    county: &RegionCode,
    unit_id: &str,
    write: bool,
) -> Result<UnitRow, ApiError> {
    let unit = unit_store::get(conn, unit_id)
        .await?
        .filter(|u| u.county_code == county.as_str())
        .ok_or_else(|| AssessmentError::NotFound(format!("scoring unit {unit_id} of {county}")))?;
    if p.has(Role::ScoringUnit) {
        let bound = unit_store::unit_of_subject(conn, &p.subject).await?;
        if bound.as_deref() == Some(unit.id.as_str()) && p.jurisdiction.covers_str(&unit.region_code) {
            return Ok(unit);
        }
    }
    let admin = p.roles.iter().any(|r| {
        matches!(r, Role::ProvinceAdmin | Role::CityAdmin | Role::CountyAdmin | Role::TownshipAdmin)
    });
    if admin {
        let region = RegionCode::parse(&unit.region_code).map_err(ApiError::internal)?;
        if write {
            p.ensure_can_write(&region)?
        } else {
            p.ensure_can_read(&region)?
        }
        return Ok(unit);
    }
    Err(AssessmentError::NotAllowed(format!(
        "{} does not act for scoring unit {} ({}): a unit's sheet is its own",
        p.subject, unit.name, unit.id
    ))
    .into())
}

/// The year's villages as the rules read them, by code.
async fn villages(
    conn: &mut AnyConnection,
    county: &RegionCode,
    year: i32,
) -> Result<Vec<YearVillage>, ApiError> {
    Ok(years::villages(conn, county.as_str(), year, county.prefix(), "", i64::MAX)
        .await?
        .into_iter()
        .map(|v| YearVillage { code: v.code, name: v.name, village_type: v.village_type })
        .collect())
}

async fn scheme_of(conn: &mut AnyConnection, y: &YearRow) -> Result<SchemeRow, ApiError> {
    scheme_store::get(conn, &y.scheme_id)
        .await?
        .ok_or_else(|| ApiError::internal(format!("year {} names no stored scheme", y.key())))
}

/// Replaces the unit's sheet with `scores` if every row is good (else the rows' problems,
/// and nothing changes); with `apply` false, only checks (`None`). Scores equal to the
/// stored sheet change nothing either: a repeated submission is not a new revision.
async fn apply_sheet(
    tx: &mut Mutation<'_>,
    county: &RegionCode,
    year: i32,
    unit_id: &str,
    mut scores: Vec<ScoreInput>,
    apply: bool,
) -> Result<Result<Option<pb::Sheet>, Vec<RowProblem>>, ApiError> {
    let principal = tx.principal().clone();
    let unit = unit_for(tx.conn(), &principal, county, unit_id, true).await?;
    let y = year_of(tx.conn(), county.as_str(), year).await?;
    phase::accepts_sheets(&y.key(), y.phase).map_err(AssessmentError::from)?;
    let scheme = scheme_of(tx.conn(), &y).await?;
    let villages: HashMap<String, YearVillage> =
        villages(tx.conn(), county, year).await?.into_iter().map(|v| (v.code.clone(), v)).collect();
    let scope = scorer(&unit);
    match sheet::check(&scheme.body, &scope, &villages, &scores) {
        Ok(()) => {}
        Err(RuleError::Rows(problems)) => return Ok(Err(problems)),
        Err(e) => return Err(AssessmentError::from(e).into()),
    }
    if !apply {
        return Ok(Ok(None));
    }
    scores.sort_by(|a, b| (&a.village_code, &a.indicator_code).cmp(&(&b.village_code, &b.indicator_code)));
    let stored = st::head(tx.conn(), county.as_str(), year, &unit.id).await?;
    if let Some(head) = &stored {
        let before = st::scores(tx.conn(), county.as_str(), year, &unit.id).await?;
        if before == scores {
            return Ok(Ok(Some(sheet_to_proto(county.as_str(), year, head, before))));
        }
    }
    let head = SheetHead {
        unit_id: unit.id.clone(),
        revision: stored.map_or(1, |h| h.revision + 1),
        score_count: scores.len() as i64,
        submitted_by: principal.subject.clone(),
        submitted_at: to_micros(tx.now()),
    };
    st::replace(tx, county.as_str(), year, &head, &scores).await?;
    let key = sheet_key(county.as_str(), year, &unit.id);
    let detail = serde_json::json!({
        "unit": unit.name, "scores": scores.len(), "scheme_id": scheme.id, "scheme_version": scheme.version,
    });
    let entity = pb::Entity::Sheet.as_str_name();
    tx.changed(Changed::written(entity, &key, &unit.region_code, head.revision, detail)).await?;
    Ok(Ok(Some(sheet_to_proto(county.as_str(), year, &head, scores))))
}

fn scores_of(given: &[pb::Score]) -> Vec<ScoreInput> {
    given
        .iter()
        .map(|s| ScoreInput {
            village_code: s.village_code.trim().to_string(),
            indicator_code: s.indicator_code.trim().to_string(),
            points: s.points,
        })
        .collect()
}

/// A file's rows as scores, each row's problem named by its line (the header is line 1);
/// blank rows are skipped. Returns the scores with their lines.
/// A file's scores, the line of each, and the rows that did not parse.
type FileRows = (Vec<ScoreInput>, Vec<usize>, Vec<pb::RowError>);

fn rows_of(table: &file::Table) -> Result<FileRows, String> {
    let [village, indicator, points_col] = file::columns(
        &table.headers,
        [&["village_code", "村代码"], &["indicator_code", "指标代码"], &["points", "得分"]],
    )?;
    let (mut scores, mut lines, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for (i, row) in table.rows.iter().enumerate() {
        let line = i + 2;
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let cell = |c: usize| row.get(c).map(|s| s.trim()).unwrap_or_default();
        match points::parse("points", cell(points_col)) {
            Ok(p) => {
                scores.push(ScoreInput {
                    village_code: cell(village).to_string(),
                    indicator_code: cell(indicator).to_string(),
                    points: p,
                });
                lines.push(line);
            }
            Err(e) => {
                errors.push(pb::RowError { line: line as i32, column: "points".into(), reason: e.reason })
            }
        }
    }
    if scores.len() + errors.len() > sheet::MAX_SCORES {
        return Err(format!("at most {} rows per sheet", sheet::MAX_SCORES));
    }
    Ok((scores, lines, errors))
}

#[tonic::async_trait]
impl SheetService for AssessmentApi {
    async fn submit_sheet(
        &self,
        request: Request<pb::SubmitSheetRequest>,
    ) -> Result<Response<pb::Sheet>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let county = county("county_code", &req.county_code)?;
        let year = fields::year("year", req.year)?;
        let unit_id = fields::required_id("unit_id", &req.unit_id)?.to_string();
        if req.scores.len() > sheet::MAX_SCORES {
            return Err(
                ApiError::invalid("scores", format!("at most {} per sheet", sheet::MAX_SCORES)).into()
            );
        }
        let scores = scores_of(&req.scores);
        let sheet = call
            .mutate(&self.db, &req, async |tx| {
                match apply_sheet(tx, &county, year, &unit_id, scores.clone(), true).await? {
                    Ok(sheet) => Ok(sheet.unwrap_or_default()),
                    Err(problems) => Err(AssessmentError::from(RuleError::Rows(problems)).into()),
                }
            })
            .await?;
        Ok(Response::new(sheet))
    }

    async fn upload_sheet(
        &self,
        request: Request<pb::UploadSheetRequest>,
    ) -> Result<Response<pb::UploadSheetResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let county = county("county_code", &req.county_code)?;
        let year = fields::year("year", req.year)?;
        let unit_id = fields::required_id("unit_id", &req.unit_id)?.to_string();
        let format = match fields::required_enum::<pb::SheetFormat>("format", req.format, "sheet format")? {
            pb::SheetFormat::Xlsx => Format::Xlsx,
            _ => Format::Csv,
        };
        if req.content.len() > MAX_UPLOAD {
            return Err(ApiError::invalid("content", format!("at most {MAX_UPLOAD} bytes")).into());
        }
        let table = file::read(format, &req.content).map_err(|e| ApiError::invalid("content", e))?;
        let (scores, lines, errors) = rows_of(&table).map_err(|e| ApiError::invalid("content", e))?;
        let response = call
            .mutate(&self.db, &req, async |tx| {
                // Rows that did not parse refuse the file: the others are only checked.
                let apply = errors.is_empty();
                let mut errors = errors.clone();
                match apply_sheet(tx, &county, year, &unit_id, scores.clone(), apply).await? {
                    Ok(Some(mut sheet)) => {
                        sheet.scores.clear();
                        return Ok(pb::UploadSheetResponse { applied: true, errors, sheet: Some(sheet) });
                    }
                    Ok(None) => {}
                    Err(problems) => errors.extend(problems.into_iter().map(|p| pb::RowError {
                        line: lines[p.row] as i32,
                        column: p.column.into(),
                        reason: p.reason,
                    })),
                }
                errors.sort_by_key(|e| e.line);
                Ok(pb::UploadSheetResponse { applied: false, errors, sheet: None })
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn get_sheet(&self, request: Request<pb::GetSheetRequest>) -> Result<Response<pb::Sheet>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let county = county("county_code", &req.county_code)?;
        let year = fields::year("year", req.year)?;
        let unit_id = fields::required_id("unit_id", &req.unit_id)?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let unit = unit_for(&mut conn, call.principal(), &county, unit_id, false).await?;
        year_of(&mut conn, county.as_str(), year).await?;
        let sheet = match st::head(&mut conn, county.as_str(), year, &unit.id).await? {
            Some(head) => {
                let scores = st::scores(&mut conn, county.as_str(), year, &unit.id).await?;
                sheet_to_proto(county.as_str(), year, &head, scores)
            }
            None => {
                pb::Sheet { county_code: county.to_string(), year, unit_id: unit.id, ..Default::default() }
            }
        };
        Ok(Response::new(sheet))
    }

    async fn get_scoring_form(
        &self,
        request: Request<pb::GetScoringFormRequest>,
    ) -> Result<Response<pb::ScoringForm>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let county = county("county_code", &req.county_code)?;
        let year = fields::year("year", req.year)?;
        let unit_id = fields::required_id("unit_id", &req.unit_id)?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let unit = unit_for(&mut conn, call.principal(), &county, unit_id, false).await?;
        let y = year_of(&mut conn, county.as_str(), year).await?;
        let scheme = scheme_of(&mut conn, &y).await?;
        let villages = villages(&mut conn, &county, year).await?;
        let scope = scorer(&unit);
        let rows = sheet::form(&scheme.body, &scope, &villages)
            .into_iter()
            .map(|r| pb::FormRow {
                village_code: r.village.code.clone(),
                village_name: r.village.name.clone(),
                village_type: r.village.village_type.clone(),
                indicator_code: r.indicator_code.to_string(),
                indicator_name: r.indicator_name.to_string(),
                max_points: r.max_points,
            })
            .collect();
        Ok(Response::new(pb::ScoringForm {
            county_code: county.to_string(),
            year,
            unit_id: unit.id,
            unit_name: unit.name,
            phase: phase_to_proto(y.phase) as i32,
            rows,
        }))
    }

    async fn get_progress(
        &self,
        request: Request<pb::GetProgressRequest>,
    ) -> Result<Response<pb::Progress>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let county = county("county_code", &req.county_code)?;
        let year = fields::year("year", req.year)?;
        call.principal().ensure_can_read(&county)?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let y = year_of(&mut conn, county.as_str(), year).await?;
        let scheme = scheme_of(&mut conn, &y).await?;
        let villages = villages(&mut conn, &county, year).await?;
        let heads = st::heads(&mut conn, county.as_str(), year).await?;
        let mut units = Vec::new();
        let (mut submitted, mut scores) = (0, 0);
        for unit in unit_store::all(&mut conn, county.as_str()).await? {
            let scope = scorer(&unit);
            let expected = sheet::form(&scheme.body, &scope, &villages).len();
            let head = heads.get(&unit.id);
            submitted += i32::from(head.is_some());
            scores += head.map_or(0, |h| h.score_count) as i32;
            units.push(pb::UnitProgress {
                unit_id: unit.id,
                unit_name: unit.name,
                kind: kind_to_proto(unit.kind) as i32,
                submitted: head.is_some(),
                revision: head.map_or(0, |h| h.revision),
                score_count: head.map_or(0, |h| h.score_count) as i32,
                expected_count: expected as i32,
                submitted_at: timestamp(head.map(|h| h.submitted_at)),
            });
        }
        Ok(Response::new(pb::Progress {
            county_code: county.to_string(),
            year,
            phase: phase_to_proto(y.phase) as i32,
            units,
            units_submitted: submitted,
            scores,
        }))
    }
}
