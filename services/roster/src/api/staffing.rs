//! StaffingService: staffing rules and vacancy priority as data per region, the
//! ranking of candidates for a vacant seat, the compliance report per village and
//! the alerts (over age, vacant seats, terms ending, villages out of compliance).

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

use cadre_kit::changes::Operation;
use cadre_kit::db::{Db, to_micros};
use cadre_kit::{ApiError, Principal, RegionCode, RegionLevel};
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::staffing_service_server::StaffingService;
use cadre_proto::roster::v1::{PostKind, ReserveStage, StaffingAlertKind, VacancyCriterion};
use tonic::{Request, Response, Status};

use super::RosterApi;
use super::regions::is_village;
use crate::domain::posts::{self, DEFAULT_VACANCY_SEATS};
use crate::domain::reserves::{self, Level};
use crate::domain::staffing::{self, Candidate, CandidateKind, Check, Holder, Rollup, Rules, VillageFacts};
use crate::domain::term_calendar::TermCalendar;
use crate::domain::{dates, fields};
use crate::error::RosterError;
use crate::store::staffing::{PriorityRow, RulesRow};
use crate::store::{self, RegionRow};
use cadre_kit::call::{Call, Changed};

fn parse_region(field: &str, code: &str) -> Result<RegionCode, RosterError> {
    fields::required_id(field, code)?;
    fields::region(field, code)
}

/// Configuration is the county's (or a higher office's) decision.
fn ensure_configures(principal: &Principal, region: &RegionCode, what: &str) -> Result<(), ApiError> {
    principal.ensure_can_write(region)?;
    if reserves::level_of(principal.roles.iter().copied()) < Some(Level::County) {
        return Err(ApiError::permission_denied(format!(
            "setting {what} needs the county_admin role or above"
        )));
    }
    Ok(())
}

/// The stored region named by a request path, or NOT_FOUND.
async fn stored_region(db: &Db, region: &RegionCode) -> Result<RegionRow, ApiError> {
    let mut conn = db.pool().acquire().await?;
    store::get_region(&mut conn, region.as_str())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("region {region}")))
}

fn rules_to_proto(
    region: &RegionCode,
    source: Option<&str>,
    rules: &Rules,
    revision: i64,
) -> pb::StaffingRules {
    pb::StaffingRules {
        region_code: region.to_string(),
        min_full_time_bachelor: rules.min_full_time_bachelor,
        youth_league_secretary_max_age: rules.youth_league_secretary_max_age,
        womens_federation_chair_max_age: rules.womens_federation_chair_max_age,
        min_reserve_seeds: rules.min_reserve_seeds,
        age_limit: rules.age_limit,
        term_end_warning_days: rules.term_end_warning_days,
        term_end_date: dates::format(rules.term_end_date),
        source_region_code: source.unwrap_or_default().to_string(),
        revision,
    }
}

fn criteria_of(values: &[i32]) -> Vec<VacancyCriterion> {
    values.iter().filter_map(|v| VacancyCriterion::try_from(*v).ok()).collect()
}

/// Rules configured above or under `scope`, by region code.
async fn rules_map(db: &Db, scope: &RegionCode) -> Result<BTreeMap<String, RulesRow>, ApiError> {
    let rows =
        store::staffing::rules_around(db, &scope.lineage().collect::<Vec<_>>(), scope.prefix()).await?;
    Ok(rows.into_iter().map(|r| (r.region_code.clone(), r)).collect())
}

/// The rules that apply to `village`, with the region they came from.
fn rules_for<'a>(
    village: &RegionCode,
    map: &'a BTreeMap<String, RulesRow>,
    default: &'a Rules,
) -> (Option<&'a str>, &'a Rules) {
    match staffing::effective(village, map) {
        Some((code, row)) => (Some(code), &row.rules),
        None => (None, default),
    }
}

/// The effective vacancy priority of `region`.
async fn priority_for(db: &Db, region: &RegionCode) -> Result<pb::VacancyPriority, ApiError> {
    let rows = store::staffing::priorities_at(db, &region.lineage().collect::<Vec<_>>()).await?;
    let map: BTreeMap<String, PriorityRow> = rows.into_iter().map(|r| (r.region_code.clone(), r)).collect();
    Ok(match staffing::effective(region, &map) {
        Some((code, row)) => pb::VacancyPriority {
            region_code: region.to_string(),
            criteria: row.criteria.clone(),
            source_region_code: code.to_string(),
            revision: if code == region.as_str() { row.revision } else { 0 },
        },
        None => pb::VacancyPriority {
            region_code: region.to_string(),
            criteria: staffing::DEFAULT_PRIORITY.iter().map(|c| *c as i32).collect(),
            source_region_code: String::new(),
            revision: 0,
        },
    })
}

/// Each reserve's stage on `day` under a prefix: reserve id → (village, stage).
async fn reserve_stages_on(
    db: &Db,
    prefix: &str,
    day: NaiveDate,
) -> Result<BTreeMap<String, (String, ReserveStage)>, ApiError> {
    let steps = store::reserves::stages_under(db, prefix, &dates::format(day)).await?;
    let mut out = BTreeMap::new();
    // Steps come oldest first per reserve and only up to `day`: the last one wins.
    for s in steps {
        if let Ok(stage) = ReserveStage::try_from(s.stage as i32) {
            out.insert(s.reserve_id, (s.region_code, stage));
        }
    }
    Ok(out)
}

/// Everything the rules and alerts read under a region on a day.
struct Survey {
    villages: Vec<(String, String)>,
    facts: HashMap<String, VillageFacts>,
    rules: BTreeMap<String, RulesRow>,
    defaults: Rules,
}

impl Survey {
    async fn take(
        db: &Db,
        scope: &RegionCode,
        day: NaiveDate,
        calendar: &TermCalendar,
    ) -> Result<Self, ApiError> {
        let villages = store::villages_under(db, scope.prefix()).await?;
        let mut facts: HashMap<String, VillageFacts> = HashMap::new();
        for (village, holder) in
            store::staffing::holders_under(db, scope.prefix(), &dates::format(day)).await?
        {
            facts.entry(village).or_default().holders.push(holder);
        }
        for (village, stage) in reserve_stages_on(db, scope.prefix(), day).await?.into_values() {
            if reserves::is_seed(stage) {
                facts.entry(village).or_default().seeds += 1;
            }
        }
        Ok(Self { villages, facts, rules: rules_map(db, scope).await?, defaults: Rules::defaults(calendar) })
    }

    fn facts(&self, village: &str) -> VillageFacts {
        self.facts.get(village).cloned().unwrap_or_default()
    }

    /// Rules applying to a village, with their source, and the village's checks.
    fn check(&self, village: &str, day: NaiveDate) -> (Option<&str>, &Rules, Vec<Check>) {
        let code = RegionCode::parse(village).ok();
        let (source, rules) = match &code {
            Some(c) => rules_for(c, &self.rules, &self.defaults),
            None => (None, &self.defaults),
        };
        (source, rules, staffing::evaluate(rules, &self.facts(village), day))
    }
}

fn rollup_to_proto(code: &str, name: &str, r: &Rollup) -> pb::ComplianceRollup {
    pb::ComplianceRollup {
        region_code: code.to_string(),
        region_name: name.to_string(),
        villages_checked: r.checked,
        compliant: r.compliant,
        failures: r
            .failures
            .iter()
            .map(|(rule, n)| pb::RuleFailureCount { rule: *rule, villages: *n })
            .collect(),
    }
}

fn township_of(village: &str) -> String {
    let township = RegionCode::parse(village).ok().and_then(|v| v.ancestor_at(RegionLevel::Township));
    township.map_or_else(|| village.to_string(), |t| t.to_string())
}

fn alert_key(a: &pb::StaffingAlert) -> String {
    format!("{}|{:02}|{}|{:02}", a.region_code, a.kind, a.subject_id, a.post_kind)
}

#[tonic::async_trait]
impl StaffingService for RosterApi {
    async fn rank_candidates(
        &self,
        request: Request<pb::RankCandidatesRequest>,
    ) -> Result<Response<pb::RankCandidatesResponse>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let village = parse_region("region_code", &req.region_code)?;
        principal.ensure_can_read(&village)?;
        let kind = posts::kind("post_kind", req.post_kind).map_err(ApiError::from)?;
        let day = dates::parse_or("as_of", &req.as_of, dates::today()).map_err(ApiError::from)?;
        if !is_village(&stored_region(&self.db, &village).await?) {
            return Err(ApiError::invalid("region_code", format!("{village} is not a village")).into());
        }
        let priority = priority_for(&self.db, &village).await?;
        let criteria = criteria_of(&priority.criteria);

        let mut candidates = Vec::new();
        let specialists: Vec<Holder> =
            store::staffing::holders_under(&self.db, village.as_str(), &dates::format(day))
                .await
                .map_err(ApiError::from)?
                .into_iter()
                .map(|(_, h)| h)
                .filter(|h| h.kind == PostKind::RevitalisationSpecialist)
                .collect();
        let ids: Vec<String> = specialists.iter().map(|h| h.cadre_id.clone()).collect();
        let profiles: HashMap<String, (i64, Vec<i32>)> = store::staffing::cadre_profiles(&self.db, &ids)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(|(id, p, t)| (id, (p, t)))
            .collect();
        for h in specialists {
            let (party, tags) = profiles.get(&h.cadre_id).cloned().unwrap_or_default();
            candidates.push(Candidate {
                kind: CandidateKind::Specialist,
                id: h.cadre_id,
                name: h.name,
                birth_date: h.birth_date,
                education: h.education,
                full_time_education: h.full_time_education,
                political_status: pb::PoliticalStatus::try_from(party as i32).unwrap_or_default(),
                tags: tags.into_iter().filter_map(|t| pb::BackgroundTag::try_from(t).ok()).collect(),
            });
        }
        let stages = reserve_stages_on(&self.db, village.as_str(), day).await?;
        for r in store::reserves::reserves_under(&self.db, village.as_str()).await.map_err(ApiError::from)? {
            if !stages.get(&r.id).is_some_and(|(_, s)| reserves::is_seed(*s)) {
                continue;
            }
            let Ok(birth_date) = dates::parse("birth_date", &r.birth_date) else { continue };
            candidates.push(Candidate {
                kind: CandidateKind::Reserve,
                id: r.id,
                name: r.name,
                birth_date,
                education: pb::Education::try_from(r.education as i32).unwrap_or_default(),
                full_time_education: r.full_time_education,
                political_status: pb::PoliticalStatus::try_from(r.political_status as i32)
                    .unwrap_or_default(),
                tags: r.tags.into_iter().filter_map(|t| pb::BackgroundTag::try_from(t).ok()).collect(),
            });
        }
        let ranked = staffing::rank(candidates, &criteria);
        Ok(Response::new(pb::RankCandidatesResponse {
            region_code: village.to_string(),
            post_kind: kind as i32,
            as_of: dates::format(day),
            priority: Some(priority),
            candidates: ranked
                .into_iter()
                .map(|r| pb::VacancyCandidate {
                    rank: r.rank,
                    kind: match r.candidate.kind {
                        CandidateKind::Specialist => pb::CandidateKind::Cadre,
                        CandidateKind::Reserve => pb::CandidateKind::Reserve,
                    } as i32,
                    id: r.candidate.id,
                    name: r.candidate.name,
                    criterion: r.criterion as i32,
                    reason: r.reason,
                    education: r.candidate.education as i32,
                    full_time_education: r.candidate.full_time_education,
                    birth_date: dates::format(r.candidate.birth_date),
                })
                .collect(),
        }))
    }

    async fn set_vacancy_priority(
        &self,
        request: Request<pb::SetVacancyPriorityRequest>,
    ) -> Result<Response<pb::VacancyPriority>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let region = parse_region("region_code", &req.region_code)?;
        let criteria = staffing::validate_criteria("criteria", &req.criteria).map_err(ApiError::from)?;
        ensure_configures(principal, &region, "a vacancy priority")?;
        stored_region(&self.db, &region).await?;
        let stored = call
            .mutate(&self.db, &req, async |tx| {
                let current = store::staffing::get_priority(tx.conn(), region.as_str()).await?;
                let row = PriorityRow {
                    region_code: region.to_string(),
                    criteria: criteria.iter().map(|c| *c as i32).collect(),
                    revision: current.map_or(1, |c| c.revision + 1),
                };
                let now = to_micros(tx.now());
                store::staffing::put_priority(tx.conn(), &row, now).await?;
                let names: Vec<&str> = criteria.iter().map(|c| c.as_str_name()).collect();
                tx.changed(Changed {
                    entity: pb::Entity::VacancyPriority.as_str_name(),
                    key: region.as_str(),
                    operation: if row.revision == 1 { Operation::Created } else { Operation::Updated },
                    region_code: region.as_str(),
                    previous_region_code: "",
                    revision: row.revision,
                    detail: serde_json::json!({ "criteria": names }),
                })
                .await?;
                Ok(pb::VacancyPriority {
                    region_code: row.region_code.clone(),
                    criteria: row.criteria,
                    source_region_code: row.region_code,
                    revision: row.revision,
                })
            })
            .await?;
        Ok(Response::new(stored))
    }

    async fn get_vacancy_priority(
        &self,
        request: Request<pb::GetVacancyPriorityRequest>,
    ) -> Result<Response<pb::VacancyPriority>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let region = parse_region("region_code", &request.get_ref().region_code)?;
        principal.ensure_can_read(&region)?;
        stored_region(&self.db, &region).await?;
        Ok(Response::new(priority_for(&self.db, &region).await?))
    }

    async fn set_staffing_rules(
        &self,
        request: Request<pb::SetStaffingRulesRequest>,
    ) -> Result<Response<pb::StaffingRules>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let region = parse_region("region_code", &req.region_code)?;
        let sent = req.rules.as_ref().ok_or_else(|| ApiError::invalid("rules", "is required"))?;
        let rules = staffing::validate_rules("rules", sent).map_err(ApiError::from)?;
        if sent.revision < 0 {
            return Err(ApiError::invalid("rules.revision", "must not be negative").into());
        }
        ensure_configures(principal, &region, "staffing rules")?;
        stored_region(&self.db, &region).await?;
        let stored = call.mutate(&self.db, &req, async |tx| {
                let current = store::staffing::get_rules(tx.conn(), region.as_str()).await?;
                let current_revision = current.as_ref().map_or(0, |c| c.revision);
                if sent.revision > 0 && sent.revision != current_revision {
                    return Err(ApiError::aborted(format!(
                        "staffing rules of {region} changed since they were read: revision {} expected, {current_revision} stored",
                        sent.revision
                    )));
                }
                let row = RulesRow { region_code: region.to_string(), rules: rules.clone(), revision: current_revision + 1 };
                let now = to_micros(tx.now());
                store::staffing::put_rules(tx.conn(), &row, now).await?;
                let out = rules_to_proto(&region, Some(region.as_str()), &row.rules, row.revision);
                tx.changed(Changed {
                        entity: pb::Entity::StaffingRules.as_str_name(),
                        key: region.as_str(),
                        operation: if row.revision == 1 { Operation::Created } else { Operation::Updated },
                        region_code: region.as_str(),
                        previous_region_code: "",
                        revision: row.revision,
                        detail: serde_json::json!({
                            "min_full_time_bachelor": out.min_full_time_bachelor,
                            "youth_league_secretary_max_age": out.youth_league_secretary_max_age,
                            "womens_federation_chair_max_age": out.womens_federation_chair_max_age,
                            "min_reserve_seeds": out.min_reserve_seeds,
                            "age_limit": out.age_limit,
                            "term_end_warning_days": out.term_end_warning_days,
                            "term_end_date": out.term_end_date,}),
                    },
                )
                .await?;
                Ok(out)
            },
        )
        .await?;
        Ok(Response::new(stored))
    }

    async fn get_staffing_rules(
        &self,
        request: Request<pb::GetStaffingRulesRequest>,
    ) -> Result<Response<pb::StaffingRules>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let region = parse_region("region_code", &request.get_ref().region_code)?;
        principal.ensure_can_read(&region)?;
        stored_region(&self.db, &region).await?;
        let map = rules_map(&self.db, &region).await?;
        let defaults = Rules::defaults(&self.calendar);
        let (source, rules) = rules_for(&region, &map, &defaults);
        let revision = match source {
            Some(s) if s == region.as_str() => map.get(s).map_or(0, |r| r.revision),
            _ => 0,
        };
        Ok(Response::new(rules_to_proto(&region, source, rules, revision)))
    }

    async fn get_compliance_report(
        &self,
        request: Request<pb::GetComplianceReportRequest>,
    ) -> Result<Response<pb::StaffingComplianceReport>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let scope = principal.scope("region_code", &req.region_code)?;
        let day = dates::parse_or("as_of", &req.as_of, dates::today()).map_err(ApiError::from)?;
        let page = call.page(req.page_size, &req.page_token, &format!("{scope}|{day}"))?;
        let survey = Survey::take(&self.db, &scope, day, &self.calendar).await?;
        let townships: Vec<(String, String)> =
            store::staffing::townships_under(&self.db, scope.prefix()).await.map_err(ApiError::from)?;
        let mut total = Rollup::default();
        let mut by_township: BTreeMap<String, Rollup> = BTreeMap::new();
        let after = page.after.clone().unwrap_or_default();
        let mut villages = Vec::new();
        for (code, name) in &survey.villages {
            let (source, _, checks) = survey.check(code, day);
            total.add(&checks);
            by_township.entry(township_of(code)).or_default().add(&checks);
            if *code > after && villages.len() < page.fetch_limit() as usize {
                villages.push(pb::VillageCompliance {
                    region_code: code.clone(),
                    region_name: name.clone(),
                    compliant: checks.iter().all(|c| c.passed),
                    checks: checks
                        .into_iter()
                        .map(|c| pb::RuleCheck { rule: c.rule as i32, passed: c.passed, reason: c.reason })
                        .collect(),
                    rules_region_code: source.unwrap_or_default().to_string(),
                });
            }
        }
        let next_page_token = page.finish(&mut villages, |v| v.region_code.clone());
        let names: HashMap<&str, &str> = townships.iter().map(|(c, n)| (c.as_str(), n.as_str())).collect();
        let region_name = match stored_region(&self.db, &scope).await {
            Ok(r) => r.name,
            // A jurisdiction need not be a stored region (e.g. a province without its row).
            Err(e) if e.code == cadre_kit::ErrorCode::NotFound => String::new(),
            Err(e) => return Err(e.into()),
        };
        Ok(Response::new(pb::StaffingComplianceReport {
            region_code: scope.to_string(),
            as_of: dates::format(day),
            villages,
            townships: by_township
                .iter()
                .map(|(code, r)| {
                    rollup_to_proto(code, names.get(code.as_str()).copied().unwrap_or_default(), r)
                })
                .collect(),
            total: Some(rollup_to_proto(scope.as_str(), &region_name, &total)),
            next_page_token,
        }))
    }

    async fn list_alerts(
        &self,
        request: Request<pb::ListAlertsRequest>,
    ) -> Result<Response<pb::ListAlertsResponse>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let scope = principal.scope("region_code", &req.region_code)?;
        let day = dates::parse_or("as_of", &req.as_of, dates::today()).map_err(ApiError::from)?;
        let mut kinds = Vec::new();
        for (i, k) in req.kinds.iter().enumerate() {
            match StaffingAlertKind::try_from(*k) {
                Ok(StaffingAlertKind::Unspecified) | Err(_) => {
                    return Err(
                        ApiError::invalid(&format!("kinds[{i}]"), format!("unknown alert kind {k}")).into()
                    );
                }
                Ok(kind) if !kinds.contains(&kind) => kinds.push(kind),
                Ok(_) => {}
            }
        }
        if kinds.is_empty() {
            kinds = vec![
                StaffingAlertKind::OverAge,
                StaffingAlertKind::VacantPost,
                StaffingAlertKind::TermEnding,
                StaffingAlertKind::OutOfCompliance,
            ];
        }
        kinds.sort();
        let page = call.page(req.page_size, &req.page_token, &format!("{scope}|{day}|{kinds:?}"))?;
        let survey = Survey::take(&self.db, &scope, day, &self.calendar).await?;
        let codes: Vec<String> = survey.villages.iter().map(|(c, _)| c.clone()).collect();
        let mut vacant_by_village: HashMap<String, Vec<posts::VacantSeat>> = HashMap::new();
        if kinds.contains(&StaffingAlertKind::VacantPost) {
            let held =
                store::posts_under(&self.db, scope.prefix(), &DEFAULT_VACANCY_SEATS, &dates::format(day))
                    .await
                    .map_err(ApiError::from)?;
            for v in posts::vacancies(&codes, &held, &DEFAULT_VACANCY_SEATS, day) {
                vacant_by_village.entry(v.region_code.clone()).or_default().push(v);
            }
        }
        let after = page.after.clone().unwrap_or_default();
        let mut alerts = Vec::new();
        for (village, name) in &survey.villages {
            let (_, rules, checks) = survey.check(village, day);
            let mut here = Vec::new();
            let alert =
                |kind: StaffingAlertKind, subject: &str, post_kind: i32, message: String| pb::StaffingAlert {
                    kind: kind as i32,
                    region_code: village.clone(),
                    subject_id: subject.to_string(),
                    message,
                    post_kind,
                };
            for kind in &kinds {
                match kind {
                    StaffingAlertKind::OverAge => {
                        let facts = survey.facts(village);
                        for (h, age) in staffing::over_age(rules, &facts.holders, day) {
                            let posts: Vec<&str> = facts
                                .holders
                                .iter()
                                .filter(|x| x.cadre_id == h.cadre_id)
                                .map(|x| x.kind.as_str_name().trim_start_matches("POST_KIND_"))
                                .collect();
                            here.push(alert(
                                *kind,
                                &h.cadre_id,
                                0,
                                format!(
                                    "{} ({}) is {age}, at or over the age limit {} in {name}",
                                    h.name,
                                    posts.join(", "),
                                    rules.age_limit
                                ),
                            ));
                        }
                    }
                    StaffingAlertKind::VacantPost => {
                        for v in vacant_by_village.get(village).into_iter().flatten() {
                            let since = match v.vacant_since {
                                Some(d) => format!("since {}", dates::format(d)),
                                None => "and has never been filled".to_string(),
                            };
                            here.push(alert(
                                *kind,
                                village,
                                v.kind as i32,
                                format!(
                                    "{} of {name} is vacant {since}",
                                    v.kind.as_str_name().trim_start_matches("POST_KIND_")
                                ),
                            ));
                        }
                    }
                    StaffingAlertKind::TermEnding => {
                        if let Some(left) = staffing::term_ending(rules, day) {
                            here.push(alert(
                                *kind,
                                village,
                                0,
                                format!(
                                    "the term of {name} ends on {}, in {left} day(s)",
                                    dates::format(rules.term_end_date)
                                ),
                            ));
                        }
                    }
                    StaffingAlertKind::OutOfCompliance => {
                        let failed: Vec<&str> =
                            checks.iter().filter(|c| !c.passed).map(|c| c.reason.as_str()).collect();
                        if !failed.is_empty() {
                            here.push(alert(
                                *kind,
                                village,
                                0,
                                format!("{name} fails: {}", failed.join("; ")),
                            ));
                        }
                    }
                    StaffingAlertKind::Unspecified => {}
                }
            }
            here.sort_by_key(alert_key);
            alerts.extend(here.into_iter().filter(|a| alert_key(a) > after));
            if alerts.len() >= page.fetch_limit() as usize {
                break;
            }
        }
        alerts.truncate(page.fetch_limit() as usize);
        let next_page_token = page.finish(&mut alerts, alert_key);
        Ok(Response::new(pb::ListAlertsResponse { alerts, next_page_token }))
    }
}
