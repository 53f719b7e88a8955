//! CompletionService: training rules per region and year; each trainee of a finished
//! session evaluated (the hours credited, the certificate issued) and reversed by the
//! organiser when it was wrong; a cadre's hours of a year; the coverage report and the
//! catch-all list (兜底), also as XLSX. Finishing a session calls [`evaluate_session`].

use std::collections::{HashMap, HashSet};

use cadre_kit::audit::prost_types_timestamp;
use cadre_kit::call::{Call, Changed, Mutation};
use cadre_kit::changes::{ChangeRecord, Operation};
use cadre_kit::db::{from_micros, to_micros};
use cadre_kit::{ApiError, RegionCode, RegionLevel, dates, fields};
use cadre_proto::roster::v1::PostKind;
use cadre_proto::training::v1 as pb;
use cadre_proto::training::v1::completion_service_server::CompletionService;
use cadre_proto::training::v1::{CertificateState, CompletionState, HoursEntryKind};
use tonic::{Request, Response, Status};

use super::TrainingApi;
use super::catalogue::ancestors;
use super::sessions::{ensure_organiser, visible};
use crate::domain::completion::{self, Rule};
use crate::domain::rules::{self, Rules};
use crate::domain::{certificates, coverage, labels, levels, sign_in};
use crate::error::TrainingError;
use crate::store::completions::{self as stc, CertificateRow, CompletionRow, HoursRow};
use crate::store::rules::{self as sr, RulesRow};
use crate::store::sessions::{self as ss, SessionRow};
use crate::store::{courses as sc, roster_copy};

/// The most rows an export holds (a province's catch-all list fits many times over in
/// a county's; the province reads the report).
const MAX_EXPORT_ROWS: usize = 50_000;

/// The rules of `year` in force for `region` (its own, its nearest configured
/// ancestor's, or the defaults), with where they come from and its revision.
pub(crate) async fn rules_for(
    conn: &mut sqlx::AnyConnection,
    region: &RegionCode,
    year: i64,
) -> Result<(Rules, Option<RegionCode>, i64), ApiError> {
    let lineage: Vec<String> = region.lineage().map(|r| r.to_string()).collect();
    let stored = sr::of(conn, &lineage, year).await?;
    let configured: HashMap<String, Rules> =
        stored.iter().map(|r| (r.region_code.clone(), r.rules.clone())).collect();
    let (rules, from) = rules::effective(region, &configured);
    let revision = from
        .as_ref()
        .and_then(|f| stored.iter().find(|r| r.region_code == f.as_str()))
        .map_or(0, |r| r.revision);
    Ok((rules.into_owned(), from, revision))
}

/// Evaluates every enrolled trainee of `session` (finishing, in its transaction):
/// completions recorded once, hours credited and certificates issued to those who
/// completed; one audit entry for the whole and a feed row per record. Returns
/// (completed, not completed) among those evaluated now.
pub(crate) async fn evaluate_session(
    tx: &mut Mutation<'_>,
    session: &SessionRow,
) -> Result<(i64, i64), ApiError> {
    let sittings = ss::sittings_of(tx.conn(), std::slice::from_ref(&session.id)).await?.len() as i64;
    let rule = Rule::stored(session.completion_percent, session.completion_sittings);
    let hours = sc::get(tx.conn(), &session.course_id).await?.map_or(0, |c| c.credit_tenths);
    let trainees = stc::attendance_of_enrolled(tx.conn(), &session.id).await?;
    let now = tx.now();
    let (at, today) = (to_micros(now), dates::format(sign_in::local(now).date()));
    let actor = tx.principal().subject.clone();
    // (entity, key, region): the feed rows, kept until the bulk record borrows them.
    let mut records: Vec<(&'static str, String, String)> = Vec::new();
    let (mut completed, mut not_completed) = (0, 0);
    for (cadre_id, name, region, attended) in trainees {
        let e = completion::evaluate(rule, attended, sittings);
        let certificate_id = if e.completed { uuid::Uuid::now_v7().to_string() } else { String::new() };
        let row = CompletionRow {
            session_id: session.id.clone(),
            cadre_id: cadre_id.clone(),
            cadre_name: name.clone(),
            region_code: region.clone(),
            year: session.year,
            attended: e.attended,
            sittings: e.sittings,
            required: e.required,
            state: if e.completed { CompletionState::Completed } else { CompletionState::NotCompleted },
            hours_tenths: if e.completed { hours } else { 0 },
            certificate_id: certificate_id.clone(),
            note: e.note,
            evaluated_at: at,
            revision: 1,
        };
        if !stc::insert(tx.conn(), &row).await? {
            continue; // evaluated before: nothing twice
        }
        records.push((
            pb::Entity::Completion.as_str_name(),
            format!("{}:{cadre_id}", session.id),
            region.clone(),
        ));
        if !e.completed {
            not_completed += 1;
            continue;
        }
        completed += 1;
        let entry = HoursRow {
            id: uuid::Uuid::now_v7().to_string(),
            cadre_id: cadre_id.clone(),
            year: session.year,
            session_id: session.id.clone(),
            kind: HoursEntryKind::Credit,
            hours_tenths: hours,
            region_code: region.clone(),
            note: format!("completed: attended {} of {} sittings", e.attended, e.sittings),
            actor: actor.clone(),
            recorded_at: at,
        };
        if stc::add_hours(tx.conn(), &entry).await? {
            records.push((pb::Entity::HoursEntry.as_str_name(), entry.id.clone(), region.clone()));
        }
        let number = certificates::number(session.year as i32, rand::random::<u64>());
        stc::issue(
            tx.conn(),
            &CertificateRow {
                id: certificate_id.clone(),
                number,
                session_id: session.id.clone(),
                cadre_id,
                holder_name: name,
                region_code: region.clone(),
                hours_tenths: hours,
                issued_on: today.clone(),
                state: CertificateState::Valid,
                revoked_on: String::new(),
                revision: 1,
            },
        )
        .await?;
        records.push((pb::Entity::Certificate.as_str_name(), certificate_id, region));
    }
    if !records.is_empty() {
        let rows: Vec<ChangeRecord<'_>> = records
            .iter()
            .map(|(entity, key, region)| ChangeRecord {
                entity,
                key,
                operation: Operation::Created,
                region_code: region,
                previous_region_code: "",
                revision: 1,
            })
            .collect();
        let detail = serde_json::json!({
            "session_id": session.id, "rule": rule.describe(), "sittings": sittings,
            "hours_tenths": hours, "completed": completed, "not_completed": not_completed,
        });
        tx.changed_in_bulk(
            &format!("session/{}/completions", session.id),
            &session.organiser_region_code,
            detail,
            &rows,
        )
        .await?;
    }
    Ok((completed, not_completed))
}

fn present_completion(c: CompletionRow, number: Option<&String>) -> pb::Completion {
    pb::Completion {
        session_id: c.session_id,
        cadre_id: c.cadre_id,
        cadre_name: c.cadre_name,
        region_code: c.region_code,
        attended: c.attended as i32,
        sittings: c.sittings as i32,
        required: c.required as i32,
        state: c.state as i32,
        hours_tenths: c.hours_tenths as i32,
        year: c.year as i32,
        certificate_number: number.cloned().unwrap_or_default(),
        note: c.note,
        evaluated_at: Some(prost_types_timestamp(from_micros(c.evaluated_at))),
        revision: c.revision,
    }
}

async fn present_completions(
    conn: &mut sqlx::AnyConnection,
    rows: Vec<CompletionRow>,
) -> Result<Vec<pb::Completion>, ApiError> {
    let ids: Vec<String> =
        rows.iter().filter(|c| !c.certificate_id.is_empty()).map(|c| c.certificate_id.clone()).collect();
    let numbers: HashMap<String, String> =
        stc::certificates(conn, &ids).await?.into_iter().map(|c| (c.id, c.number)).collect();
    Ok(rows
        .into_iter()
        .map(|c| {
            let number = numbers.get(&c.certificate_id).cloned();
            present_completion(c, number.as_ref())
        })
        .collect())
}

fn present_rules(
    region: &RegionCode,
    year: i64,
    r: &Rules,
    from: Option<RegionCode>,
    revision: i64,
) -> pb::TrainingRules {
    pb::TrainingRules {
        region_code: region.to_string(),
        year: year as i32,
        required_hours: r
            .required
            .iter()
            .map(|(kind, tenths)| pb::PostHours { post_kind: *kind, hours_tenths: *tenths })
            .collect(),
        default_min_percent: r.default_min_percent,
        feedback_days: r.feedback_days,
        feedback_min_answers: r.feedback_min_answers,
        source_region_code: from.map(|f| f.to_string()).unwrap_or_default(),
        revision,
    }
}

/// What a coverage report and its export compute.
struct Coverage {
    total: coverage::Tally,
    children: Vec<(String, coverage::Tally)>,
    catch_all: Vec<coverage::Subject>,
}

impl TrainingApi {
    async fn coverage(&self, scope: &RegionCode, year: i64) -> Result<Coverage, ApiError> {
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let serving = stc::coverage_under(&mut conn, scope.prefix(), year).await?;
        let configured: HashMap<String, Rules> = sr::near(&mut conn, scope.prefix(), &ancestors(scope), year)
            .await?
            .into_iter()
            .map(|r| (r.region_code, r.rules))
            .collect();
        // Cadres of one village share their rules: look each region up once.
        let mut rules_of: HashMap<String, Rules> = HashMap::new();
        let mut subjects = Vec::with_capacity(serving.len());
        for t in serving {
            let required = match rules_of.get(&t.region_code) {
                Some(r) => r.required_of(&t.post_kinds),
                None => {
                    let Ok(region) = RegionCode::parse(&t.region_code) else { continue };
                    let r = rules::effective(&region, &configured).0.into_owned();
                    let required = r.required_of(&t.post_kinds);
                    rules_of.insert(t.region_code.clone(), r);
                    required
                }
            };
            subjects.push(coverage::Subject {
                hours_tenths: t.hours_tenths,
                required_tenths: i64::from(required),
                cadre_id: t.id,
                name: t.name,
                region_code: t.region_code,
                post_kinds: t.post_kinds,
            });
        }
        let child_level = match scope.level() {
            RegionLevel::Province => Some(RegionLevel::City),
            RegionLevel::City => Some(RegionLevel::County),
            RegionLevel::County => Some(RegionLevel::Township),
            RegionLevel::Township => Some(RegionLevel::Village),
            RegionLevel::Village => None,
        };
        // A cadre's child region is the first digits of their code: cut, not parsed.
        let cut = child_level.map(|l| l.prefix_len());
        let (total, children, catch_all) = coverage::report(&subjects, |code| {
            let len = cut?;
            (code.len() == 12).then(|| format!("{:0<12}", &code[..len]))
        });
        Ok(Coverage { total, children: children.into_iter().collect(), catch_all })
    }

    /// Names of these regions, as training's copy of the roster has them.
    async fn names(
        &self,
        codes: impl IntoIterator<Item = String>,
    ) -> Result<HashMap<String, String>, ApiError> {
        let codes: Vec<String> = codes.into_iter().collect::<HashSet<_>>().into_iter().collect();
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        Ok(roster_copy::region_names(&mut conn, &codes).await?)
    }
}

fn region_coverage(code: &str, t: &coverage::Tally, names: &HashMap<String, String>) -> pb::RegionCoverage {
    pb::RegionCoverage {
        region_code: code.to_string(),
        region_name: names.get(code).cloned().unwrap_or_default(),
        cadres: t.cadres as i32,
        covered: t.covered as i32,
        short: t.short as i32,
        untrained: t.untrained as i32,
        short_tenths: t.short_tenths,
    }
}

/// The catch-all list's order as a string that sorts the same way (for page tokens).
fn catch_all_key(s: &coverage::Subject) -> String {
    format!("{:012}|{}|{}", 999_999_999_999i64 - s.short_tenths(), s.name, s.cadre_id)
}

fn catch_all_xlsx(c: &Coverage, names: &HashMap<String, String>, title: &str) -> Result<Vec<u8>, String> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("兜底轮训名单").map_err(|e| e.to_string())?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    sheet.write_string_with_format(0, 0, title, &bold).map_err(|e| e.to_string())?;
    let headers = ["姓名", "村（社区）", "区划代码", "职务", "本年学时", "应达学时", "差额学时"];
    for (i, h) in headers.iter().enumerate() {
        sheet.write_string_with_format(1, i as u16, *h, &bold).map_err(|e| e.to_string())?;
    }
    for (r, s) in c.catch_all.iter().take(MAX_EXPORT_ROWS).enumerate() {
        let row = r as u32 + 2;
        let posts: Vec<&str> = s.post_kinds.iter().map(|k| labels::post_kind(*k)).collect();
        let cells = [
            s.name.clone(),
            names.get(&s.region_code).cloned().unwrap_or_default(),
            s.region_code.clone(),
            posts.join("、"),
        ];
        for (i, v) in cells.iter().enumerate() {
            sheet.write_string(row, i as u16, v).map_err(|e| e.to_string())?;
        }
        for (i, tenths) in [s.hours_tenths, s.required_tenths, s.short_tenths()].into_iter().enumerate() {
            sheet.write_number(row, 4 + i as u16, tenths as f64 / 10.0).map_err(|e| e.to_string())?;
        }
    }
    book.save_to_buffer().map_err(|e| e.to_string())
}

#[tonic::async_trait]
impl CompletionService for TrainingApi {
    async fn set_training_rules(
        &self,
        request: Request<pb::SetTrainingRulesRequest>,
    ) -> Result<Response<pb::TrainingRules>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let input = req.rules.as_ref().ok_or_else(|| ApiError::invalid("rules", "is required"))?;
        let region = fields::region("rules.region_code", &input.region_code)?;
        levels::keeper("rules.region_code", &region).map_err(ApiError::from)?;
        let year = i64::from(fields::year("rules.year", input.year)?);
        let mut required = Vec::with_capacity(input.required_hours.len());
        for (i, h) in input.required_hours.iter().enumerate() {
            let kind = fields::required_enum::<PostKind>(
                &format!("rules.required_hours[{i}].post_kind"),
                h.post_kind,
                "post kind",
            )?;
            required.push((kind as i32, h.hours_tenths));
        }
        let rules = rules::validate(
            "rules",
            &required,
            input.default_min_percent,
            input.feedback_days,
            input.feedback_min_answers,
        )
        .map_err(ApiError::from)?;
        if input.revision < 0 {
            return Err(
                ApiError::invalid("rules.revision", "must be 0 (none yet) or the revision read").into()
            );
        }
        let expected = input.revision;
        call.principal().ensure_can_write(&region)?;
        levels::ensure_county_or_above(call.principal(), "setting training rules").map_err(ApiError::from)?;
        let out = call
            .mutate(&self.db, &req, async |tx| {
                let stored = sr::of(tx.conn(), &[region.to_string()], year).await?;
                let current = stored.first().map_or(0, |r| r.revision);
                if current != expected {
                    return Err(TrainingError::stale("training rules", &format!("{region}:{year}"), expected, current)
                        .into());
                }
                let row = RulesRow { region_code: region.to_string(), year, rules: rules.clone(), revision: current + 1 };
                let now = to_micros(tx.now());
                if !sr::put(tx.conn(), &row, expected, now).await? {
                    return Err(TrainingError::stale("training rules", &format!("{region}:{year}"), expected, current + 1)
                        .into());
                }
                let key = format!("{region}:{year}");
                let detail = serde_json::json!({
                    "required_hours": rules.encode_required(), "default_min_percent": rules.default_min_percent,
                    "feedback_days": rules.feedback_days, "feedback_min_answers": rules.feedback_min_answers,
                });
                tx.changed(Changed::written(
                    pb::Entity::TrainingRules.as_str_name(),
                    &key,
                    region.as_str(),
                    row.revision,
                    detail,
                ))
                .await?;
                Ok(present_rules(&region, year, &rules, Some(region.clone()), row.revision))
            })
            .await?;
        Ok(Response::new(out))
    }

    async fn get_training_rules(
        &self,
        request: Request<pb::GetTrainingRulesRequest>,
    ) -> Result<Response<pb::TrainingRules>, Status> {
        let call = Call::of(&request)?;
        let region = fields::region("region_code", &request.get_ref().region_code)?;
        let year = i64::from(fields::year("year", request.get_ref().year)?);
        if !levels::sees_kept_by(call.principal(), region.as_str()) {
            return Err(ApiError::permission_denied(format!(
                "region {region} is outside your jurisdiction {}",
                call.principal().jurisdiction
            ))
            .into());
        }
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let (rules, from, revision) = rules_for(&mut conn, &region, year).await?;
        Ok(Response::new(present_rules(&region, year, &rules, from, revision)))
    }

    async fn list_completions(
        &self,
        request: Request<pb::ListCompletionsRequest>,
    ) -> Result<Response<pb::ListCompletionsResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let session_id = fields::required_id("session_id", &req.session_id)?.to_string();
        let state = fields::optional_enum::<CompletionState>("state", req.state, "completion state")?;
        let page = call.page(req.page_size, &req.page_token, &format!("{session_id}|{state:?}"))?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        visible(&mut conn, &call, &session_id).await?;
        let prefix = call.principal().jurisdiction.prefix().to_string();
        let after = page.after.clone().unwrap_or_default();
        let mut rows = stc::list(&mut conn, &session_id, &prefix, state, &after, page.fetch_limit()).await?;
        let next_page_token = page.finish(&mut rows, |c| c.cadre_id.clone());
        Ok(Response::new(pb::ListCompletionsResponse {
            completions: present_completions(&mut conn, rows).await?,
            next_page_token,
        }))
    }

    async fn reverse_completion(
        &self,
        request: Request<pb::ReverseCompletionRequest>,
    ) -> Result<Response<pb::Completion>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let session_id = fields::required_id("session_id", &req.session_id)?.to_string();
        let cadre_id = fields::required_id("cadre_id", &req.cadre_id)?.to_string();
        let reason = fields::text("reason", &req.reason, true, 500)?;
        let out = call
            .mutate(&self.db, &req, async |tx| {
                let session = visible(tx.conn(), &call, &session_id).await?;
                ensure_organiser(&call, &session, "reversing a completion")?;
                let mut c = stc::get(tx.conn(), &session_id, &cadre_id)
                    .await?
                    .filter(|c| call.principal().jurisdiction.covers_str(&c.region_code))
                    .ok_or_else(|| ApiError::not_found(format!("completion of {cadre_id} in session {session_id}")))?;
                match c.state {
                    CompletionState::Reversed => {
                        return Ok(present_completions(tx.conn(), vec![c]).await?.remove(0));
                    }
                    CompletionState::Completed => {}
                    _ => {
                        return Err(TrainingError::Conflict(format!(
                            "{cadre_id} did not complete session {session_id}: there is nothing to reverse"
                        ))
                        .into());
                    }
                }
                let expected = c.revision;
                c.state = CompletionState::Reversed;
                c.note = reason.clone();
                c.revision += 1;
                if !stc::reverse(tx.conn(), &c, expected).await? {
                    return Err(TrainingError::stale("completion", &cadre_id, expected, expected + 1).into());
                }
                let now = tx.now();
                let entry = HoursRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    cadre_id: cadre_id.clone(),
                    year: c.year,
                    session_id: session_id.clone(),
                    kind: HoursEntryKind::Reversal,
                    hours_tenths: -c.hours_tenths,
                    region_code: c.region_code.clone(),
                    note: reason.clone(),
                    actor: call.principal().subject.clone(),
                    recorded_at: to_micros(now),
                };
                let key = format!("{session_id}:{cadre_id}");
                let detail = serde_json::json!({ "session_id": session_id, "reason": reason, "hours_tenths": -c.hours_tenths });
                tx.changed(Changed::updated(
                    pb::Entity::Completion.as_str_name(),
                    &key,
                    &c.region_code,
                    c.revision,
                    detail.clone(),
                ))
                .await?;
                if stc::add_hours(tx.conn(), &entry).await? {
                    tx.changed(Changed::created(
                        pb::Entity::HoursEntry.as_str_name(),
                        &entry.id,
                        &c.region_code,
                        detail.clone(),
                    ))
                    .await?;
                }
                if !c.certificate_id.is_empty()
                    && stc::revoke(tx.conn(), &c.certificate_id, &dates::format(sign_in::local(now).date())).await?
                {
                    tx.changed(Changed::updated(
                        pb::Entity::Certificate.as_str_name(),
                        &c.certificate_id,
                        &c.region_code,
                        2,
                        detail,
                    ))
                    .await?;
                }
                Ok(present_completions(tx.conn(), vec![c]).await?.remove(0))
            })
            .await?;
        Ok(Response::new(out))
    }

    async fn get_cadre_hours(
        &self,
        request: Request<pb::GetCadreHoursRequest>,
    ) -> Result<Response<pb::CadreHours>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let cadre_id = fields::required_id("cadre_id", &req.cadre_id)?.to_string();
        let year = i64::from(fields::year("year", req.year)?);
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let entries = stc::hours_of(&mut conn, &cadre_id, year).await?;
        let copy = roster_copy::trainees(&mut conn, std::slice::from_ref(&cadre_id)).await?.pop();
        // Where the cadre is: the roster's copy, else where the last entry put them.
        let (region, name, post_kinds) = match &copy {
            Some(t) => (t.region_code.clone(), t.name.clone(), t.post_kinds.clone()),
            None => match entries.last() {
                Some(e) => (e.region_code.clone(), String::new(), Vec::new()),
                None => return Err(ApiError::not_found(format!("cadre {cadre_id}")).into()),
            },
        };
        if !call.principal().jurisdiction.covers_str(&region) {
            return Err(ApiError::not_found(format!("cadre {cadre_id}")).into());
        }
        let required = match RegionCode::parse(&region) {
            Ok(r) => rules_for(&mut conn, &r, year).await?.0.required_of(&post_kinds),
            Err(_) => 0,
        };
        let session_ids: Vec<String> =
            entries.iter().map(|e| e.session_id.clone()).collect::<HashSet<_>>().into_iter().collect();
        let mut titles = HashMap::new();
        for id in session_ids {
            if let Some(s) = ss::get(&mut conn, &id).await? {
                titles.insert(id, s.title);
            }
        }
        let name = match (name.is_empty(), entries.first()) {
            (true, Some(e)) => {
                stc::get(&mut conn, &e.session_id, &cadre_id).await?.map(|c| c.cadre_name).unwrap_or_default()
            }
            _ => name,
        };
        Ok(Response::new(pb::CadreHours {
            cadre_id: cadre_id.clone(),
            cadre_name: name,
            region_code: region,
            year: year as i32,
            total_tenths: entries.iter().map(|e| e.hours_tenths).sum::<i64>() as i32,
            required_tenths: required,
            post_kinds,
            entries: entries
                .into_iter()
                .map(|e| pb::HoursEntry {
                    session_title: titles.get(&e.session_id).cloned().unwrap_or_default(),
                    id: e.id,
                    cadre_id: e.cadre_id,
                    year: e.year as i32,
                    session_id: e.session_id,
                    kind: e.kind as i32,
                    hours_tenths: e.hours_tenths as i32,
                    note: e.note,
                    recorded_at: Some(prost_types_timestamp(from_micros(e.recorded_at))),
                    actor: e.actor,
                })
                .collect(),
        }))
    }

    async fn get_coverage(
        &self,
        request: Request<pb::GetCoverageRequest>,
    ) -> Result<Response<pb::CoverageReport>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let scope = call.principal().scope("region_code", &req.region_code)?;
        let year = i64::from(fields::year("year", req.year)?);
        let page = call.page(req.page_size, &req.page_token, &format!("{scope}|{year}"))?;
        let c = self.coverage(&scope, year).await?;
        let after = page.after.clone().unwrap_or_default();
        let mut list: Vec<&coverage::Subject> = c
            .catch_all
            .iter()
            .filter(|s| after.is_empty() || catch_all_key(s) > after)
            .take(page.fetch_limit() as usize)
            .collect();
        let next_page_token = page.finish(&mut list, |s| catch_all_key(s));
        let names = self
            .names(
                std::iter::once(scope.to_string())
                    .chain(c.children.iter().map(|(code, _)| code.clone()))
                    .chain(list.iter().map(|s| s.region_code.clone())),
            )
            .await?;
        Ok(Response::new(pb::CoverageReport {
            region_code: scope.to_string(),
            year: year as i32,
            total: Some(region_coverage(scope.as_str(), &c.total, &names)),
            children: c.children.iter().map(|(code, t)| region_coverage(code, t, &names)).collect(),
            catch_all: list
                .into_iter()
                .map(|s| pb::CadreShortfall {
                    cadre_id: s.cadre_id.clone(),
                    cadre_name: s.name.clone(),
                    region_code: s.region_code.clone(),
                    region_name: names.get(&s.region_code).cloned().unwrap_or_default(),
                    post_kinds: s.post_kinds.clone(),
                    hours_tenths: s.hours_tenths as i32,
                    required_tenths: s.required_tenths as i32,
                    short_tenths: s.short_tenths() as i32,
                })
                .collect(),
            next_page_token,
        }))
    }

    async fn export_catch_all(
        &self,
        request: Request<pb::ExportCatchAllRequest>,
    ) -> Result<Response<pb::ExportCatchAllResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let scope = call.principal().scope("region_code", &req.region_code)?;
        let year = i64::from(fields::year("year", req.year)?);
        let c = self.coverage(&scope, year).await?;
        let names = self
            .names(
                std::iter::once(scope.to_string())
                    .chain(c.catch_all.iter().take(MAX_EXPORT_ROWS).map(|s| s.region_code.clone())),
            )
            .await?;
        let place = names.get(scope.as_str()).cloned().unwrap_or_else(|| scope.to_string());
        let title = format!(
            "{place} {year}年度兜底轮训名单（未达应训学时）：{} 人",
            c.catch_all.len().min(MAX_EXPORT_ROWS)
        );
        let content = catch_all_xlsx(&c, &names, &title).map_err(ApiError::internal)?;
        Ok(Response::new(pb::ExportCatchAllResponse {
            content,
            filename: format!("catch-all-{scope}-{year}.xlsx"),
            rows: c.catch_all.len().min(MAX_EXPORT_ROWS) as i32,
        }))
    }
}
