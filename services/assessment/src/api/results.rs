//! ResultService: the year's rules (lists, result rules, consequence rules) as one JSON
//! document; list events; computing the results (scoring closed → computed); public
//! notice with objections (an upheld one changes scores and recomputes the county);
//! final, with the consequences published; corrections as new revisions.

use std::collections::{BTreeMap, HashMap};

use cadre_kit::call::{Call, Changed, Mutation};
use cadre_kit::changes::{ChangeRecord, Operation};
use cadre_kit::db::{WriteTx, to_micros};
use cadre_kit::{ApiError, RegionCode, dates, fields};
use cadre_proto::assessment::v1 as pb;
use cadre_proto::assessment::v1::result_service_server::ResultService;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use tonic::{Request, Response, Status};

use super::years::year_to_proto;
use super::{AssessmentApi, county, ensure_sees_county, timestamp, year_of};
use crate::domain::RuleError;
use crate::domain::consequences::{self, ConsequenceRule};
use crate::domain::lists::{self, Lists};
use crate::domain::phase::{self, Phase};
use crate::domain::points::show;
use crate::domain::results::{self, ResultRules, VillageInput, VillageResult};
use crate::error::AssessmentError;
use crate::store::results::{self as st, ConsequenceRow, EventRow, ObjectionRow, StoredResult};
use crate::store::schemes as scheme_store;
use crate::store::years::{self as years, FrozenVillage, YearRow};

const MAX_RULES_JSON: usize = 64 * 1024;
const MAX_TEXT: usize = 2000;
const MAX_CHANGES: usize = 100;

/// The year's rules document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YearDoc {
    #[serde(default)]
    pub lists: Vec<lists::List>,
    #[serde(default)]
    pub results: Option<ResultRules>,
    #[serde(default)]
    pub consequences: Vec<ConsequenceRule>,
}

impl YearDoc {
    pub fn parse(field: &str, s: &str) -> Result<Self, RuleError> {
        if s.len() > MAX_RULES_JSON {
            return Err(RuleError::invalid(field, format!("at most {MAX_RULES_JSON} bytes")));
        }
        let doc: YearDoc = serde_json::from_str(s).map_err(|e| RuleError::invalid(field, e))?;
        doc.lists().validate()?;
        if let Some(r) = &doc.results {
            r.validate()?;
        }
        consequences::validate(&doc.consequences)?;
        Ok(doc)
    }

    pub fn lists(&self) -> Lists {
        Lists { lists: self.lists.clone() }
    }
}

fn year_key(county: &str, year: i32) -> String {
    years::key(county, year)
}

fn result_key(county: &str, year: i32, village: &str) -> String {
    format!("{county}/{year}/{village}")
}

async fn doc_of(conn: &mut AnyConnection, county: &str, year: i32) -> Result<(YearDoc, i64), ApiError> {
    match st::rules(conn, county, year).await? {
        None => Ok((YearDoc::default(), 0)),
        Some((body, rev)) => {
            let doc: YearDoc = serde_json::from_str(&body)
                .map_err(|e| ApiError::internal(format!("stored rules of {county}/{year}: {e}")))?;
            Ok((doc, rev))
        }
    }
}

async fn frozen(conn: &mut AnyConnection, county: &str, year: i32) -> Result<Vec<FrozenVillage>, ApiError> {
    let prefix = RegionCode::parse(county).map(|c| c.prefix().to_string()).unwrap_or_default();
    Ok(years::villages(conn, county, year, &prefix, "", i64::MAX).await?)
}

async fn frozen_village(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
    field: &str,
    code: &str,
) -> Result<FrozenVillage, ApiError> {
    let c = fields::region(field, code)?;
    let v = years::villages(conn, county, year, c.as_str(), "", 1).await?;
    v.into_iter().find(|v| v.code == c.as_str()).ok_or_else(|| {
        ApiError::invalid(field, format!("{c} is not a village of the assessment {county}/{year}"))
    })
}

/// Every village's result under the year's rules, from the stored scores and events.
/// Reads one GROUP BY over the county's scores, its events and its frozen villages.
async fn compute_county(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
    doc: &YearDoc,
) -> Result<Vec<VillageResult>, ApiError> {
    let rules = doc.results.as_ref().ok_or_else(|| {
        AssessmentError::Conflict(format!(
            "{county}/{year} has no result rules (\"results\" in PutYearRules): nothing says how tiers are drawn"
        ))
    })?;
    let villages = frozen(conn, county, year).await?;
    let sums = st::score_sums(conn, county, year).await?;
    let events: Vec<lists::Event> = st::events(conn, county, year, "", "", i64::MAX)
        .await?
        .into_iter()
        .map(|e| lists::Event {
            village_code: e.village_code,
            list_code: e.list_code,
            item_code: e.item_code,
        })
        .collect();
    let mut adjustments = lists::adjustments(&doc.lists(), &events);
    let inputs: Vec<VillageInput> = villages
        .into_iter()
        .map(|v| {
            let (sum, n) = sums.get(&v.code).copied().unwrap_or((0, 0));
            VillageInput {
                adjustments: adjustments.remove(&v.code).unwrap_or_default(),
                code: v.code,
                township_code: v.township_code,
                village_type: v.village_type,
                indicator_sum: sum,
                score_count: n,
            }
        })
        .collect();
    Ok(results::compute(rules, &inputs))
}

fn same(a: &VillageResult, b: &VillageResult) -> bool {
    (a.total, a.indicator_total, a.rank_township, a.rank_county, a.rank_type, a.tier, &a.explanation)
        == (b.total, b.indicator_total, b.rank_township, b.rank_county, b.rank_type, b.tier, &b.explanation)
}

/// Recomputes the whole county (ranks and tiers are county-wide: one village's scores move
/// others' places) and writes a new revision of every result that changed, with `reason`,
/// each in the feed. Returns how many changed.
async fn recompute(
    tx: &mut Mutation<'_>,
    county: &str,
    year: i32,
    doc: &YearDoc,
    reason: &str,
) -> Result<usize, ApiError> {
    let new = compute_county(tx.conn(), county, year, doc).await?;
    let old: HashMap<String, StoredResult> = st::all_results(tx.conn(), county, year)
        .await?
        .into_iter()
        .map(|r| (r.result.code.clone(), r))
        .collect();
    let (by, now) = (tx.principal().subject.clone(), to_micros(tx.now()));
    let mut changed = 0;
    for r in new {
        let Some(prev) = old.get(&r.code) else { continue };
        if same(&prev.result, &r) {
            continue;
        }
        let s = StoredResult { revision: prev.revision + 1, reason: reason.to_string(), result: r };
        st::revise_result(tx.conn(), county, year, &s, &by, now).await?;
        let key = result_key(county, year, &s.result.code);
        let detail = serde_json::json!({
            "reason": reason, "total": [prev.result.total, s.result.total], "tier": [prev.result.tier, s.result.tier]
        });
        tx.changed(Changed::updated(
            pb::Entity::Result.as_str_name(),
            &key,
            &s.result.township_code,
            s.revision,
            detail,
        ))
        .await?;
        changed += 1;
    }
    Ok(changed)
}

/// Checks and applies score changes to one village (existing scores only, within the
/// maximum for its type); returns them as `[indicator, old, new]`.
async fn apply_changes(
    tx: &mut WriteTx,
    y: &YearRow,
    village: &FrozenVillage,
    changes: &[pb::ScoreChange],
) -> Result<Vec<(String, i64, i64)>, ApiError> {
    if changes.len() > MAX_CHANGES {
        return Err(ApiError::invalid("score_changes", format!("at most {MAX_CHANGES}")));
    }
    let scheme = scheme_store::get(tx.conn(), &y.scheme_id)
        .await?
        .ok_or_else(|| ApiError::internal(format!("year {} names no stored scheme", y.key())))?;
    let mut applied = Vec::new();
    for (i, c) in changes.iter().enumerate() {
        let field = format!("score_changes[{i}]");
        let ind = scheme.body.indicator(&c.indicator_code).ok_or_else(|| {
            ApiError::invalid(
                &format!("{field}.indicator_code"),
                format!(
                    "{:?} is not an indicator of the scheme",
                    cadre_kit::text::bounded(&c.indicator_code, 20)
                ),
            )
        })?;
        let max = scheme.body.max_for(ind, &village.village_type).ok_or_else(|| {
            ApiError::invalid(
                &format!("{field}.indicator_code"),
                format!("{} does not apply to {} villages", ind.code, village.village_type),
            )
        })?;
        if c.points < 0 || c.points > max {
            return Err(ApiError::invalid(
                &format!("{field}.points"),
                format!("must be 0 to the maximum {} of {}", show(max), ind.code),
            ));
        }
        let old = st::score(tx.conn(), &y.county_code, y.year, &village.code, &ind.code).await?.ok_or_else(
            || {
                ApiError::invalid(
                    &format!("{field}.indicator_code"),
                    format!("{} has no score for {}", village.code, ind.code),
                )
            },
        )?;
        st::set_score(tx.conn(), &y.county_code, y.year, &village.code, &ind.code, i64::from(c.points))
            .await?;
        applied.push((ind.code.clone(), old, i64::from(c.points)));
    }
    Ok(applied)
}

/// Derives the consequences of the year's current results and publishes what changed:
/// new ones, changed ones and withdrawn ones, each a revision in the feed.
async fn publish_consequences(
    tx: &mut Mutation<'_>,
    county: &str,
    year: i32,
    doc: &YearDoc,
) -> Result<usize, ApiError> {
    let results: Vec<VillageResult> =
        st::all_results(tx.conn(), county, year).await?.into_iter().map(|r| r.result).collect();
    let last = st::final_tiers(tx.conn(), county, year - 1).await?;
    let derived = consequences::derive(&doc.consequences, county, year, &results, &last);
    let villages: HashMap<String, FrozenVillage> =
        frozen(tx.conn(), county, year).await?.into_iter().map(|v| (v.code.clone(), v)).collect();
    let townships: HashMap<&str, &str> =
        results.iter().map(|r| (r.code.as_str(), r.township_code.as_str())).collect();
    let mut existing: BTreeMap<(String, String), ConsequenceRow> =
        st::consequences(tx.conn(), county, year, "", "", i64::MAX)
            .await?
            .into_iter()
            .map(|c| ((c.village_code.clone(), c.kind.clone()), c))
            .collect();
    let mut writes = Vec::new();
    for d in derived {
        let v = villages.get(&d.village_code);
        let secretary = d.subject == "secretary";
        let mut row = ConsequenceRow {
            village_code: d.village_code.clone(),
            kind: d.kind.clone(),
            subject: d.subject.clone(),
            secretary_id: if secretary {
                v.map(|v| v.secretary_id.clone()).unwrap_or_default()
            } else {
                String::new()
            },
            secretary_name: if secretary {
                v.map(|v| v.secretary_name.clone()).unwrap_or_default()
            } else {
                String::new()
            },
            rule: d.rule,
            because: serde_json::to_string(&d.because).unwrap_or_default(),
            withdrawn: false,
            revision: 1,
        };
        if let Some(old) = existing.remove(&(d.village_code, d.kind)) {
            row.revision = old.revision;
            if old == row {
                continue;
            }
            row.revision = old.revision + 1;
        }
        writes.push(row);
    }
    for (_, mut old) in existing {
        if !old.withdrawn {
            old.withdrawn = true;
            old.revision += 1;
            writes.push(old);
        }
    }
    for c in &writes {
        st::write_consequence(tx.conn(), county, year, c).await?;
        let key = format!("{county}/{year}/{}/{}", c.village_code, c.kind);
        let region = townships.get(c.village_code.as_str()).copied().unwrap_or(county);
        let detail = serde_json::json!({ "kind": c.kind, "rule": c.rule, "withdrawn": c.withdrawn });
        tx.changed(Changed::written(pb::Entity::Consequence.as_str_name(), &key, region, c.revision, detail))
            .await?;
    }
    Ok(writes.len())
}

fn result_to_proto(county: &str, year: i32, s: StoredResult, v: Option<&FrozenVillage>) -> pb::VillageResult {
    let r = s.result;
    pb::VillageResult {
        county_code: county.to_string(),
        year,
        village_name: v.map(|v| v.name.clone()).unwrap_or_default(),
        secretary_cadre_id: v.map(|v| v.secretary_id.clone()).unwrap_or_default(),
        secretary_name: v.map(|v| v.secretary_name.clone()).unwrap_or_default(),
        village_code: r.code,
        township_code: r.township_code,
        village_type: r.village_type,
        total: r.total,
        indicator_total: r.indicator_total,
        rank_township: r.rank_township as i32,
        rank_county: r.rank_county as i32,
        rank_type: r.rank_type as i32,
        tier: i32::from(r.tier),
        parts: r
            .explanation
            .parts
            .into_iter()
            .map(|p| pb::ResultPart { name: p.name, points: p.tenths, note: p.note })
            .collect(),
        tier_rule: r.explanation.tier_rule,
        revision: s.revision,
        reason: s.reason,
    }
}

fn event_to_proto(e: EventRow) -> pb::ListEvent {
    pb::ListEvent {
        id: e.id,
        county_code: e.county_code,
        year: e.year,
        village_code: e.village_code,
        cadre_id: e.cadre_id,
        list_code: e.list_code,
        item_code: e.item_code,
        evidence: e.evidence,
        points: e.points as i32,
        recorded_by: e.recorded_by,
        recorded_at: timestamp(Some(e.recorded_at)),
    }
}

fn state_to_proto(s: i64) -> pb::ObjectionState {
    match s {
        1 => pb::ObjectionState::Open,
        2 => pb::ObjectionState::Upheld,
        _ => pb::ObjectionState::Dismissed,
    }
}

fn objection_to_proto(o: ObjectionRow) -> pb::Objection {
    let changes: Vec<(String, i64)> = serde_json::from_str(&o.score_changes).unwrap_or_default();
    pb::Objection {
        id: o.id,
        county_code: o.county_code,
        year: o.year,
        village_code: o.village_code,
        reason: o.reason,
        state: state_to_proto(o.state) as i32,
        answer: o.answer,
        score_changes: changes
            .into_iter()
            .map(|(indicator_code, points)| pb::ScoreChange { indicator_code, points: points as i32 })
            .collect(),
        raised_by: o.raised_by,
        raised_at: timestamp(Some(o.raised_at)),
        resolved_by: o.resolved_by,
        resolved_at: timestamp(o.resolved_at),
        revision: o.revision,
    }
}

fn consequence_to_proto(county: &str, year: i32, c: ConsequenceRow) -> pb::Consequence {
    pb::Consequence {
        county_code: county.to_string(),
        year,
        because: serde_json::from_str(&c.because).unwrap_or_default(),
        village_code: c.village_code,
        kind: c.kind,
        subject: c.subject,
        secretary_cadre_id: c.secretary_id,
        secretary_name: c.secretary_name,
        rule: c.rule,
        withdrawn: c.withdrawn,
        revision: c.revision,
    }
}

/// Moves the year (the domain decides whether it may), audited and in the feed.
async fn move_to(
    tx: &mut Mutation<'_>,
    y: &mut YearRow,
    to: Phase,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    phase::check_move(&y.key(), y.phase, to).map_err(AssessmentError::from)?;
    let mut detail = detail;
    detail["from"] = serde_json::json!(y.phase.as_str());
    detail["to"] = serde_json::json!(to.as_str());
    y.phase = to;
    y.revision += 1;
    let now = to_micros(tx.now());
    years::update(tx.conn(), y, now).await?;
    let key = y.key();
    tx.changed(Changed::updated(pb::Entity::Year.as_str_name(), &key, &y.county_code, y.revision, detail))
        .await?;
    Ok(())
}

async fn year_proto(conn: &mut AnyConnection, y: YearRow) -> Result<pb::AssessmentYear, ApiError> {
    let version = scheme_store::get(conn, &y.scheme_id).await?.map_or(0, |s| s.version);
    Ok(year_to_proto(y, version))
}

#[tonic::async_trait]
impl ResultService for AssessmentApi {
    async fn get_year_rules(
        &self,
        request: Request<pb::GetYearRulesRequest>,
    ) -> Result<Response<pb::YearRules>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let county = county("county_code", &req.county_code)?;
        let year = fields::year("year", req.year)?;
        ensure_sees_county(call.principal(), &county)?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        year_of(&mut conn, county.as_str(), year).await?;
        let (rules_json, revision) =
            st::rules(&mut conn, county.as_str(), year).await?.unwrap_or_else(|| ("{}".to_string(), 0));
        Ok(Response::new(pb::YearRules { county_code: county.to_string(), year, rules_json, revision }))
    }

    async fn put_year_rules(
        &self,
        request: Request<pb::PutYearRulesRequest>,
    ) -> Result<Response<pb::YearRules>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let r = req.rules.ok_or_else(|| ApiError::invalid("rules", "is required"))?;
        let county = county("rules.county_code", &r.county_code)?;
        let year = fields::year("rules.year", r.year)?;
        call.principal().ensure_can_write(&county)?;
        let doc = YearDoc::parse("rules.rules_json", &r.rules_json).map_err(AssessmentError::from)?;
        let body = serde_json::to_string(&doc).map_err(ApiError::internal)?;
        let out = call
            .mutate(&self.db, &r, async |tx| {
                let y = year_of(tx.conn(), county.as_str(), year).await?;
                phase::accepts_rules(&y.key(), y.phase).map_err(AssessmentError::from)?;
                let current = st::rules(tx.conn(), county.as_str(), year).await?.map_or(0, |(_, rev)| rev);
                if r.revision != current {
                    return Err(AssessmentError::Stale {
                        what: "rules of",
                        id: y.key(),
                        expected: r.revision,
                        current,
                    }
                    .into());
                }
                let revision = current + 1;
                let now = to_micros(tx.now());
                st::put_rules(tx.conn(), county.as_str(), year, &body, revision, now).await?;
                let key = year_key(county.as_str(), year);
                let detail = serde_json::json!({
                    "lists": doc.lists.len(), "consequence_rules": doc.consequences.len(),
                    "results": doc.results.is_some()
                });
                tx.changed(Changed::written(
                    pb::Entity::Rules.as_str_name(),
                    &key,
                    county.as_str(),
                    revision,
                    detail,
                ))
                .await?;
                Ok(pb::YearRules {
                    county_code: county.to_string(),
                    year,
                    rules_json: body.clone(),
                    revision,
                })
            })
            .await?;
        Ok(Response::new(out))
    }

    async fn record_list_event(
        &self,
        request: Request<pb::RecordListEventRequest>,
    ) -> Result<Response<pb::ListEvent>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let e = req.event.ok_or_else(|| ApiError::invalid("event", "is required"))?;
        let county = county("event.county_code", &e.county_code)?;
        let year = fields::year("event.year", e.year)?;
        let village = fields::region("event.village_code", &e.village_code)?;
        if !county.covers(&village) {
            return Err(
                ApiError::invalid("event.village_code", format!("{village} is not within {county}")).into()
            );
        }
        call.principal().ensure_can_write(&village)?;
        let evidence = fields::text("event.evidence", &e.evidence, true, lists::MAX_EVIDENCE_NOTE)?;
        let cadre_id = fields::text("event.cadre_id", &e.cadre_id, false, 64)?;
        let out = call
            .mutate(&self.db, &e, async |tx| {
                let y = year_of(tx.conn(), county.as_str(), year).await?;
                phase::accepts_rules(&y.key(), y.phase).map_err(AssessmentError::from)?;
                if y.phase == Phase::Draft {
                    return Err(AssessmentError::Rule(RuleError::invalid_phase(
                        &y.key(),
                        y.phase,
                        "list events are recorded once scoring has opened (the villages are frozen then)",
                    ))
                    .into());
                }
                frozen_village(tx.conn(), county.as_str(), year, "event.village_code", village.as_str()).await?;
                let (doc, _) = doc_of(tx.conn(), county.as_str(), year).await?;
                let lists = doc.lists();
                let (list, item) = lists.item(&e.list_code, &e.item_code).map_err(|err| match err {
                    RuleError::Invalid(f) => RuleError::invalid(format!("event.{}", f.field), f.reason),
                    other => other,
                })
                .map_err(AssessmentError::from)?;
                let row = EventRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    county_code: county.to_string(),
                    year,
                    village_code: village.to_string(),
                    cadre_id: cadre_id.clone(),
                    list_code: list.code.clone(),
                    item_code: item.code.clone(),
                    evidence: evidence.clone(),
                    points: list.kind.sign() * i64::from(item.points),
                    recorded_by: tx.principal().subject.clone(),
                    recorded_at: to_micros(tx.now()),
                };
                st::insert_event(tx.conn(), &row).await?;
                let township = village.parent().map(|t| t.to_string()).unwrap_or_else(|| county.to_string());
                let detail = serde_json::json!({
                    "village": row.village_code, "list": row.list_code, "item": row.item_code, "points": row.points
                });
                tx.changed(Changed::created(pb::Entity::ListEvent.as_str_name(), &row.id, &township, detail)).await?;
                Ok(event_to_proto(row))
            })
            .await?;
        Ok(Response::new(out))
    }

    async fn list_list_events(
        &self,
        request: Request<pb::ListListEventsRequest>,
    ) -> Result<Response<pb::ListListEventsResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let county = county("county_code", &req.county_code)?;
        let year = fields::year("year", req.year)?;
        let village = if req.village_code.trim().is_empty() {
            call.principal().ensure_can_read(&county)?;
            String::new()
        } else {
            let v = fields::region("village_code", &req.village_code)?;
            call.principal().ensure_can_read(&v)?;
            v.to_string()
        };
        let page = call.page(req.page_size, &req.page_token, &format!("{county}|{year}|{village}"))?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let mut rows = st::events(
            &mut conn,
            county.as_str(),
            year,
            &village,
            page.after.as_deref().unwrap_or_default(),
            page.fetch_limit(),
        )
        .await?;
        let next_page_token = page.finish(&mut rows, |e| e.id.clone());
        Ok(Response::new(pb::ListListEventsResponse {
            events: rows.into_iter().map(event_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn compute_results(
        &self,
        request: Request<pb::MoveYearRequest>,
    ) -> Result<Response<pb::AssessmentYear>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let county = county("county_code", &req.county_code)?;
        let year = fields::year("year", req.year)?;
        call.principal().ensure_can_write(&county)?;
        let out = call
            .mutate(&self.db, &req, async |tx| {
                let mut y = year_of(tx.conn(), county.as_str(), year).await?;
                phase::check_move(&y.key(), y.phase, Phase::Computed).map_err(AssessmentError::from)?;
                let (doc, _) = doc_of(tx.conn(), county.as_str(), year).await?;
                let computed = compute_county(tx.conn(), county.as_str(), year, &doc).await?;
                let (by, now) = (tx.principal().subject.clone(), to_micros(tx.now()));
                st::insert_results(tx, county.as_str(), year, &computed, &by, now).await?;
                let keys: Vec<String> =
                    computed.iter().map(|r| result_key(county.as_str(), year, &r.code)).collect();
                let records: Vec<ChangeRecord> = computed
                    .iter()
                    .zip(&keys)
                    .map(|(r, key)| ChangeRecord {
                        entity: pb::Entity::Result.as_str_name(),
                        key,
                        operation: Operation::Created,
                        region_code: &r.township_code,
                        previous_region_code: "",
                        revision: 1,
                    })
                    .collect();
                let mut per_tier = [0usize; 4];
                for r in &computed {
                    per_tier[usize::from(r.tier) - 1] += 1;
                }
                let detail = serde_json::json!({ "results": computed.len(), "per_tier": per_tier });
                let target = format!("year/{}/results", y.key());
                tx.changed_in_bulk(&target, county.as_str(), detail.clone(), &records).await?;
                move_to(tx, &mut y, Phase::Computed, detail).await?;
                year_proto(tx.conn(), y).await
            })
            .await?;
        Ok(Response::new(out))
    }

    async fn list_results(
        &self,
        request: Request<pb::ListResultsRequest>,
    ) -> Result<Response<pb::ListResultsResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let county = county("county_code", &req.county_code)?;
        let year = fields::year("year", req.year)?;
        let within = if req.region_code.trim().is_empty() {
            if county.covers(&call.principal().jurisdiction) {
                call.principal().jurisdiction.clone()
            } else {
                county.clone()
            }
        } else {
            fields::region("region_code", &req.region_code)?
        };
        if !county.covers(&within) {
            return Err(ApiError::invalid("region_code", format!("{within} is not within {county}")).into());
        }
        call.principal().ensure_can_read(&within)?;
        let page = call.page(req.page_size, &req.page_token, &format!("{county}|{year}|{within}"))?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        year_of(&mut conn, county.as_str(), year).await?;
        let mut rows = st::results_page(
            &mut conn,
            county.as_str(),
            year,
            within.prefix(),
            page.after.as_deref().unwrap_or_default(),
            page.fetch_limit(),
        )
        .await?;
        let next_page_token = page.finish(&mut rows, |r| r.result.code.clone());
        let villages: HashMap<String, FrozenVillage> = if rows.is_empty() {
            HashMap::new()
        } else {
            let first = rows[0].result.code.clone();
            let mut vs =
                years::villages(&mut conn, county.as_str(), year, within.prefix(), "", i64::MAX).await?;
            vs.retain(|v| v.code >= first);
            vs.into_iter().map(|v| (v.code.clone(), v)).collect()
        };
        Ok(Response::new(pb::ListResultsResponse {
            results: rows
                .into_iter()
                .map(|r| {
                    let v = villages.get(&r.result.code);
                    result_to_proto(county.as_str(), year, r, v)
                })
                .collect(),
            next_page_token,
        }))
    }

    async fn get_result(
        &self,
        request: Request<pb::GetResultRequest>,
    ) -> Result<Response<pb::VillageResult>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let county = county("county_code", &req.county_code)?;
        let year = fields::year("year", req.year)?;
        let village = fields::region("village_code", &req.village_code)?;
        call.principal().ensure_can_read(&village)?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let r =
            st::result_of(&mut conn, county.as_str(), year, village.as_str()).await?.ok_or_else(|| {
                AssessmentError::NotFound(format!(
                    "the result of {village} in {county}/{year} (computed yet?)"
                ))
            })?;
        let v = frozen_village(&mut conn, county.as_str(), year, "village_code", village.as_str()).await?;
        Ok(Response::new(result_to_proto(county.as_str(), year, r, Some(&v))))
    }

    async fn open_notice(
        &self,
        request: Request<pb::OpenNoticeRequest>,
    ) -> Result<Response<pb::AssessmentYear>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let county = county("county_code", &req.county_code)?;
        let year = fields::year("year", req.year)?;
        call.principal().ensure_can_write(&county)?;
        let starts = dates::parse("starts_on", &req.starts_on)?;
        let ends = dates::parse("ends_on", &req.ends_on)?;
        if ends < starts {
            return Err(ApiError::invalid("ends_on", "is before starts_on").into());
        }
        if (ends - starts).num_days() > 60 {
            return Err(ApiError::invalid("ends_on", "a notice lasts at most 60 days").into());
        }
        let out = call
            .mutate(&self.db, &req, async |tx| {
                let mut y = year_of(tx.conn(), county.as_str(), year).await?;
                phase::check_move(&y.key(), y.phase, Phase::Notice).map_err(AssessmentError::from)?;
                let (s, e) = (dates::format(starts), dates::format(ends));
                st::put_notice(tx.conn(), county.as_str(), year, &s, &e).await?;
                move_to(tx, &mut y, Phase::Notice, serde_json::json!({ "starts_on": s, "ends_on": e }))
                    .await?;
                year_proto(tx.conn(), y).await
            })
            .await?;
        Ok(Response::new(out))
    }

    async fn raise_objection(
        &self,
        request: Request<pb::RaiseObjectionRequest>,
    ) -> Result<Response<pb::Objection>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let o = req.objection.ok_or_else(|| ApiError::invalid("objection", "is required"))?;
        let county = county("objection.county_code", &o.county_code)?;
        let year = fields::year("objection.year", o.year)?;
        let village = fields::region("objection.village_code", &o.village_code)?;
        if !county.covers(&village) {
            return Err(ApiError::invalid(
                "objection.village_code",
                format!("{village} is not within {county}"),
            )
            .into());
        }
        // A township (or county, or above) administrator over the village.
        call.principal().ensure_can_write(&village)?;
        let reason = fields::text("objection.reason", &o.reason, true, MAX_TEXT)?;
        let out = call
            .mutate(&self.db, &o, async |tx| {
                let y = year_of(tx.conn(), county.as_str(), year).await?;
                if y.phase != Phase::Notice {
                    return Err(AssessmentError::Rule(RuleError::invalid_phase(
                        &y.key(),
                        y.phase,
                        "objections are raised only during the public notice (NOTICE)",
                    ))
                    .into());
                }
                let (s, e) = st::notice(tx.conn(), county.as_str(), year)
                    .await?
                    .ok_or_else(|| ApiError::internal(format!("{} is in NOTICE without a window", y.key())))?;
                let today = dates::format(tx.now().date_naive());
                if today < s || today > e {
                    return Err(AssessmentError::Conflict(format!(
                        "the notice of {} runs {s} to {e}; today is {today}: objections are taken only within it",
                        y.key()
                    ))
                    .into());
                }
                frozen_village(tx.conn(), county.as_str(), year, "objection.village_code", village.as_str()).await?;
                let row = ObjectionRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    county_code: county.to_string(),
                    year,
                    village_code: village.to_string(),
                    reason: reason.clone(),
                    state: 1,
                    answer: String::new(),
                    score_changes: "[]".into(),
                    raised_by: tx.principal().subject.clone(),
                    raised_at: to_micros(tx.now()),
                    resolved_by: String::new(),
                    resolved_at: None,
                    revision: 1,
                };
                st::insert_objection(tx.conn(), &row).await?;
                let township = village.parent().map(|t| t.to_string()).unwrap_or_else(|| county.to_string());
                let detail = serde_json::json!({ "village": row.village_code });
                tx.changed(Changed::created(pb::Entity::Objection.as_str_name(), &row.id, &township, detail)).await?;
                Ok(objection_to_proto(row))
            })
            .await?;
        Ok(Response::new(out))
    }

    async fn resolve_objection(
        &self,
        request: Request<pb::ResolveObjectionRequest>,
    ) -> Result<Response<pb::Objection>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let id = fields::required_id("id", &req.id)?.to_string();
        let answer = fields::text("answer", &req.answer, true, MAX_TEXT)?;
        let upheld = match pb::ObjectionState::try_from(req.state) {
            Ok(pb::ObjectionState::Upheld) => true,
            Ok(pb::ObjectionState::Dismissed) => false,
            _ => {
                return Err(ApiError::invalid(
                    "state",
                    "must be OBJECTION_STATE_UPHELD or OBJECTION_STATE_DISMISSED",
                )
                .into());
            }
        };
        if !upheld && !req.score_changes.is_empty() {
            return Err(ApiError::invalid("score_changes", "a dismissed objection changes no score").into());
        }
        if upheld && req.score_changes.is_empty() {
            return Err(
                ApiError::invalid("score_changes", "an upheld objection carries the score changes").into()
            );
        }
        let out = call
            .mutate(&self.db, &req, async |tx| {
                let mut o = st::objection_by_id(tx.conn(), &id)
                    .await?
                    .ok_or_else(|| AssessmentError::NotFound(format!("objection {id}")))?;
                let county = RegionCode::parse(&o.county_code).map_err(ApiError::internal)?;
                // Resolved by the county (or above), not by the township that raised it.
                tx.principal().ensure_can_write(&county)?;
                let mut y = year_of(tx.conn(), county.as_str(), o.year).await?;
                if o.state != 1 {
                    return Err(
                        AssessmentError::Conflict(format!("objection {id} is already resolved")).into()
                    );
                }
                if y.phase != Phase::Notice {
                    return Err(AssessmentError::Rule(RuleError::invalid_phase(
                        &y.key(),
                        y.phase,
                        "objections are resolved during the public notice",
                    ))
                    .into());
                }
                let mut detail = serde_json::json!({ "upheld": upheld, "village": o.village_code });
                if upheld {
                    let v =
                        frozen_village(tx.conn(), county.as_str(), o.year, "village_code", &o.village_code)
                            .await?;
                    let applied = apply_changes(tx, &y, &v, &req.score_changes).await?;
                    o.score_changes = serde_json::to_string(
                        &applied.iter().map(|(c, _, new)| (c.clone(), *new)).collect::<Vec<_>>(),
                    )
                    .unwrap_or_default();
                    let (doc, _) = doc_of(tx.conn(), county.as_str(), o.year).await?;
                    let changed =
                        recompute(tx, county.as_str(), o.year, &doc, &format!("objection {id} upheld"))
                            .await?;
                    detail["score_changes"] = serde_json::json!(applied);
                    detail["results_changed"] = serde_json::json!(changed);
                    // The year's revision moves with its results.
                    y.revision += 1;
                    let now = to_micros(tx.now());
                    years::update(tx.conn(), &y, now).await?;
                }
                o.state = if upheld { 2 } else { 3 };
                o.answer = answer.clone();
                o.resolved_by = tx.principal().subject.clone();
                o.resolved_at = Some(to_micros(tx.now()));
                o.revision += 1;
                st::resolve_objection(tx.conn(), &o).await?;
                let township = RegionCode::parse(&o.village_code)
                    .ok()
                    .and_then(|v| v.parent())
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| county.to_string());
                tx.changed(Changed::updated(
                    pb::Entity::Objection.as_str_name(),
                    &o.id,
                    &township,
                    o.revision,
                    detail,
                ))
                .await?;
                Ok(objection_to_proto(o))
            })
            .await?;
        Ok(Response::new(out))
    }

    async fn list_objections(
        &self,
        request: Request<pb::ListObjectionsRequest>,
    ) -> Result<Response<pb::ListObjectionsResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let county = county("county_code", &req.county_code)?;
        let year = fields::year("year", req.year)?;
        ensure_sees_county(call.principal(), &county)?;
        let page = call.page(req.page_size, &req.page_token, &format!("{county}|{year}"))?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let mut rows = st::objections(
            &mut conn,
            county.as_str(),
            year,
            page.after.as_deref().unwrap_or_default(),
            page.fetch_limit(),
        )
        .await?;
        // A township sees its own villages' objections.
        let p = call.principal();
        rows.retain(|o| p.jurisdiction.covers_str(&o.village_code) || p.covers(&county));
        let next_page_token = page.finish(&mut rows, |o| o.id.clone());
        Ok(Response::new(pb::ListObjectionsResponse {
            objections: rows.into_iter().map(objection_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn finalize_results(
        &self,
        request: Request<pb::MoveYearRequest>,
    ) -> Result<Response<pb::AssessmentYear>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let county = county("county_code", &req.county_code)?;
        let year = fields::year("year", req.year)?;
        call.principal().ensure_can_write(&county)?;
        let out = call
            .mutate(&self.db, &req, async |tx| {
                let mut y = year_of(tx.conn(), county.as_str(), year).await?;
                phase::check_move(&y.key(), y.phase, Phase::Final).map_err(AssessmentError::from)?;
                let open = st::open_objections(tx.conn(), county.as_str(), year).await?;
                if open > 0 {
                    return Err(AssessmentError::Conflict(format!(
                        "{} has {open} open objection(s): resolve each before the result is final",
                        y.key()
                    ))
                    .into());
                }
                move_to(tx, &mut y, Phase::Final, serde_json::json!({})).await?;
                let (doc, _) = doc_of(tx.conn(), county.as_str(), year).await?;
                publish_consequences(tx, county.as_str(), year, &doc).await?;
                year_proto(tx.conn(), y).await
            })
            .await?;
        Ok(Response::new(out))
    }

    async fn correct_result(
        &self,
        request: Request<pb::CorrectResultRequest>,
    ) -> Result<Response<pb::VillageResult>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let county = county("county_code", &req.county_code)?;
        let year = fields::year("year", req.year)?;
        let village = fields::region("village_code", &req.village_code)?;
        if !county.covers(&village) {
            return Err(ApiError::invalid("village_code", format!("{village} is not within {county}")).into());
        }
        call.principal().ensure_can_write(&county)?;
        let reason = fields::text("reason", &req.reason, true, MAX_TEXT)?;
        if req.score_changes.is_empty() {
            return Err(ApiError::invalid("score_changes", "a correction carries the score changes").into());
        }
        let out = call
            .mutate(&self.db, &req, async |tx| {
                let mut y = year_of(tx.conn(), county.as_str(), year).await?;
                if y.phase != Phase::Final {
                    return Err(AssessmentError::Rule(RuleError::invalid_phase(
                        &y.key(),
                        y.phase,
                        "a correction is for a FINAL result (before it, objections change scores)",
                    ))
                    .into());
                }
                let v = frozen_village(tx.conn(), county.as_str(), year, "village_code", village.as_str())
                    .await?;
                apply_changes(tx, &y, &v, &req.score_changes).await?;
                let (doc, _) = doc_of(tx.conn(), county.as_str(), year).await?;
                recompute(tx, county.as_str(), year, &doc, &format!("correction: {reason}")).await?;
                publish_consequences(tx, county.as_str(), year, &doc).await?;
                y.revision += 1;
                let now = to_micros(tx.now());
                years::update(tx.conn(), &y, now).await?;
                let r = st::result_of(tx.conn(), county.as_str(), year, village.as_str())
                    .await?
                    .ok_or_else(|| ApiError::internal(format!("no result of {village} in a final year")))?;
                Ok(result_to_proto(county.as_str(), year, r, Some(&v)))
            })
            .await?;
        Ok(Response::new(out))
    }

    async fn list_consequences(
        &self,
        request: Request<pb::ListConsequencesRequest>,
    ) -> Result<Response<pb::ListConsequencesResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let county = county("county_code", &req.county_code)?;
        let year = fields::year("year", req.year)?;
        ensure_sees_county(call.principal(), &county)?;
        let kind = fields::text("kind", &req.kind, false, 40)?;
        let page = call.page(req.page_size, &req.page_token, &format!("{county}|{year}|{kind}"))?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let mut rows = st::consequences(
            &mut conn,
            county.as_str(),
            year,
            &kind,
            page.after.as_deref().unwrap_or_default(),
            page.fetch_limit(),
        )
        .await?;
        let p = call.principal();
        rows.retain(|c| p.jurisdiction.covers_str(&c.village_code) || p.covers(&county));
        let next_page_token = page.finish(&mut rows, |c| format!("{}|{}", c.village_code, c.kind));
        Ok(Response::new(pb::ListConsequencesResponse {
            consequences: rows.into_iter().map(|c| consequence_to_proto(county.as_str(), year, c)).collect(),
            next_page_token,
        }))
    }
}
