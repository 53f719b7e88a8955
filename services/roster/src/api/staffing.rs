//! StaffingService: staffing rules and vacancy priority as data per region, the
//! ranking of candidates for a vacant seat, the compliance report per village and
//! the alerts (over age, vacant seats, terms ending, villages out of compliance).

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use chrono::NaiveDate;

use cadre_kit::db::{Db, to_micros};
use cadre_kit::{ApiError, Principal, RegionCode, RegionLevel};
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::staffing_service_server::StaffingService;
use cadre_proto::roster::v1::{PostKind, ReserveStage, StaffingAlertKind, VacancyCriterion};
use tonic::{Request, Response, Status};

use super::RosterApi;
use super::regions::is_village;
use crate::domain::alerts;
use crate::domain::posts::{self, DEFAULT_VACANCY_SEATS};
use crate::domain::reserves::{self, Level};
use crate::domain::staffing::{self, Candidate, CandidateKind, Holder, Rollup, Rules, VillageFacts};
use crate::domain::term_calendar::TermCalendar;
use crate::domain::{dates, fields};
use crate::error::RosterError;
use crate::store::staffing::{Area, PriorityRow, Profile, RulesRow};
use crate::store::{self, RegionRow};
use cadre_kit::call::{Call, Changed};

fn parse_region(field: &str, code: &str) -> Result<RegionCode, RosterError> {
    fields::required_id(field, code)?;
    Ok(fields::region(field, code)?)
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

/// The effective vacancy priority of `region`, as sent and as the ranking reads it.
async fn priority_for(
    db: &Db,
    region: &RegionCode,
) -> Result<(pb::VacancyPriority, Vec<VacancyCriterion>), ApiError> {
    let rows = store::staffing::priorities_at(db, &region.lineage().collect::<Vec<_>>()).await?;
    let map: BTreeMap<String, PriorityRow> = rows.into_iter().map(|r| (r.region_code.clone(), r)).collect();
    let (source, criteria, revision) = match staffing::effective(region, &map) {
        Some((code, row)) => {
            (code.to_string(), row.criteria()?, if code == region.as_str() { row.revision } else { 0 })
        }
        None => (String::new(), staffing::DEFAULT_PRIORITY.to_vec(), 0),
    };
    let sent = pb::VacancyPriority {
        region_code: region.to_string(),
        criteria: criteria.iter().map(|c| *c as i32).collect(),
        source_region_code: source,
        revision,
    };
    Ok((sent, criteria))
}

/// Each reserve's stage on `day` in `area`: reserve id → (village, stage).
async fn reserve_stages_on(
    db: &Db,
    area: Area<'_>,
    day: NaiveDate,
) -> Result<BTreeMap<String, (String, ReserveStage)>, ApiError> {
    let steps = store::reserves::stages_in(db, area, &dates::format(day)).await?;
    let mut out = BTreeMap::new();
    // Steps come oldest first per reserve and only up to `day`: the last one wins.
    for s in steps {
        let stage = s.to_stage()?;
        out.insert(s.reserve_id, (s.region_code, stage));
    }
    Ok(out)
}

/// What the staffing rules read of some villages on a day: who holds a post in each
/// and how many reserve seeds each has.
struct Survey {
    /// (code, name), in code order.
    villages: Vec<(String, String)>,
    facts: HashMap<String, VillageFacts>,
}

/// The facts of a village with no posts and no reserves.
static NOTHING: VillageFacts = VillageFacts { holders: Vec::new(), seeds: 0 };

impl Survey {
    /// `villages`, all lying in `area`, as they stand on `day`.
    async fn take(
        db: &Db,
        villages: Vec<(String, String)>,
        area: Area<'_>,
        day: NaiveDate,
    ) -> Result<Self, ApiError> {
        let mut facts: HashMap<String, VillageFacts> = HashMap::new();
        for (village, holder) in store::staffing::holders_in(db, area, &dates::format(day)).await? {
            facts.entry(village).or_default().holders.push(holder);
        }
        for (village, stage) in reserve_stages_on(db, area, day).await?.into_values() {
            if reserves::is_seed(stage) {
                facts.entry(village).or_default().seeds += 1;
            }
        }
        Ok(Self { villages, facts })
    }

    fn facts(&self, village: &str) -> &VillageFacts {
        self.facts.get(village).unwrap_or(&NOTHING)
    }
}

/// The staffing rules configured around a scope, and the defaults for villages
/// under none of them.
struct RuleBook {
    configured: BTreeMap<String, RulesRow>,
    defaults: Rules,
}

impl RuleBook {
    async fn load(db: &Db, scope: &RegionCode, calendar: &TermCalendar) -> Result<Self, ApiError> {
        Ok(Self { configured: rules_map(db, scope).await?, defaults: Rules::defaults(calendar) })
    }

    /// The rules applying to a village, with the region they came from.
    fn for_village(&self, village: &str) -> (Option<&str>, &Rules) {
        match RegionCode::parse(village) {
            Ok(code) => rules_for(&code, &self.configured, &self.defaults),
            Err(_) => (None, &self.defaults),
        }
    }
}

/// The most villages a page of alerts reads at once. It reads as many villages as
/// the page has rows at first, then twice as many each time they raise too few
/// alerts to fill it, up to this.
const MAX_ALERT_WINDOW: i64 = 2000;

/// Every alert of `kinds` that `villages` (code, name; in code order) raise on `day`,
/// sorted: their facts read once, the rules decided once.
async fn alerts_of(
    db: &Db,
    book: &RuleBook,
    villages: Vec<(String, String)>,
    kinds: &[StaffingAlertKind],
    day: NaiveDate,
) -> Result<Vec<alerts::Alert>, ApiError> {
    let (Some((first, _)), Some((last, _))) = (villages.first(), villages.last()) else {
        return Ok(Vec::new());
    };
    let (first, last) = (first.clone(), last.clone());
    let area = Area::Villages { first: &first, last: &last };
    let seat_posts = if kinds.contains(&StaffingAlertKind::VacantPost) {
        store::staffing::seat_posts_in(db, area, &DEFAULT_VACANCY_SEATS, &dates::format(day)).await?
    } else {
        Vec::new()
    };
    let survey = Survey::take(db, villages, area, day).await?;
    let surveyed: Vec<alerts::Village> = survey
        .villages
        .iter()
        .map(|(code, name)| alerts::Village {
            code,
            name,
            rules: book.for_village(code).1,
            facts: survey.facts(code),
        })
        .collect();
    Ok(alerts::raised(&surveyed, &seat_posts, kinds, day))
}

fn alert_to_proto(a: alerts::Alert) -> pb::StaffingAlert {
    pb::StaffingAlert {
        kind: a.kind as i32,
        region_code: a.region_code,
        subject_id: a.subject_id,
        message: a.message,
        post_kind: a.post_kind.map_or(0, |k| k as i32),
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
        let (priority, criteria) = priority_for(&self.db, &village).await?;

        let mut candidates = Vec::new();
        let specialists: Vec<Holder> =
            store::staffing::holders_in(&self.db, Area::Under(village.as_str()), &dates::format(day))
                .await
                .map_err(ApiError::from)?
                .into_iter()
                .map(|(_, h)| h)
                .filter(|h| h.kind == PostKind::RevitalisationSpecialist)
                .collect();
        let ids: Vec<String> = specialists.iter().map(|h| h.cadre_id.clone()).collect();
        let profiles: HashMap<String, Profile> = store::staffing::cadre_profiles(&self.db, &ids)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .collect();
        for h in specialists {
            // Only a cadre deleted since the holders were read has no profile.
            let (political_status, tags) = profiles.get(&h.cadre_id).cloned().unwrap_or_default();
            candidates.push(Candidate {
                kind: CandidateKind::Specialist,
                id: h.cadre_id,
                name: h.name,
                birth_date: h.birth_date,
                education: h.education,
                full_time_education: h.full_time_education,
                political_status,
                tags,
            });
        }
        let stages = reserve_stages_on(&self.db, Area::Under(village.as_str()), day).await?;
        for r in store::reserves::reserves_under(&self.db, village.as_str()).await.map_err(ApiError::from)? {
            if !stages.get(&r.id).is_some_and(|(_, s)| reserves::is_seed(*s)) {
                continue;
            }
            let (birth_date, enums) = (r.birth()?, r.enums()?);
            candidates.push(Candidate {
                kind: CandidateKind::Reserve,
                id: r.id,
                name: r.name,
                birth_date,
                education: enums.education,
                full_time_education: r.full_time_education,
                political_status: enums.political_status,
                tags: enums.tags,
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
                let detail = serde_json::json!({ "criteria": names });
                let entity = pb::Entity::VacancyPriority.as_str_name();
                tx.changed(Changed::written(entity, region.as_str(), region.as_str(), row.revision, detail))
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
        Ok(Response::new(priority_for(&self.db, &region).await?.0))
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
                let detail = serde_json::json!({
                            "min_full_time_bachelor": out.min_full_time_bachelor,
                            "youth_league_secretary_max_age": out.youth_league_secretary_max_age,
                            "womens_federation_chair_max_age": out.womens_federation_chair_max_age,
                            "min_reserve_seeds": out.min_reserve_seeds,
                            "age_limit": out.age_limit,
                            "term_end_warning_days": out.term_end_warning_days,
                            "term_end_date": out.term_end_date,});
                let entity = pb::Entity::StaffingRules.as_str_name();
                tx.changed(Changed::written(entity, region.as_str(), region.as_str(), row.revision, detail))
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
        let book = RuleBook::load(&self.db, &scope, &self.calendar).await?;
        let villages = store::villages_under(&self.db, scope.prefix()).await.map_err(ApiError::from)?;
        let survey = Survey::take(&self.db, villages, Area::Under(scope.prefix()), day).await?;
        let townships: Vec<(String, String)> =
            store::staffing::townships_under(&self.db, scope.prefix()).await.map_err(ApiError::from)?;
        let mut total = Rollup::default();
        let mut by_township: BTreeMap<String, Rollup> = BTreeMap::new();
        let after = page.after.clone().unwrap_or_default();
        let mut villages = Vec::new();
        for (code, name) in &survey.villages {
            let (source, rules) = book.for_village(code);
            let checks = staffing::evaluate(rules, survey.facts(code), day);
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
            kinds = alerts::ALL_KINDS.to_vec();
        }
        kinds.sort();
        let page = call.page(req.page_size, &req.page_token, &format!("{scope}|{day}|{kinds:?}"))?;
        let book = RuleBook::load(&self.db, &scope, &self.calendar).await?;
        let after = page.after.clone().unwrap_or_default();
        let want = page.fetch_limit() as usize;
        // Keys start with the village: a page reads villages from the one it stopped
        // in (it may have more alerts), window by window, until the page is full.
        let mut from: Bound<String> = match after.split_once('|') {
            Some((village, _)) => Bound::Included(village.to_string()),
            None => Bound::Unbounded,
        };
        let mut window = page.fetch_limit();
        let mut found: Vec<alerts::Alert> = Vec::new();
        loop {
            let villages = store::staffing::villages_from(
                &self.db,
                scope.prefix(),
                from.as_ref().map(String::as_str),
                window,
            )
            .await
            .map_err(ApiError::from)?;
            let Some((last, _)) = villages.last() else { break };
            let last = last.clone();
            let read_all = (villages.len() as i64) < window;
            let raised = alerts_of(&self.db, &book, villages, &kinds, day).await?;
            // Each window's alerts come sorted and windows follow each other: the
            // list stays in key order.
            found.extend(raised.into_iter().filter(|a| a.key() > after));
            if found.len() >= want || read_all {
                break;
            }
            from = Bound::Excluded(last);
            window = (window * 2).min(MAX_ALERT_WINDOW);
        }
        found.truncate(want);
        let next_page_token = page.finish(&mut found, alerts::Alert::key);
        let alerts = found.into_iter().map(alert_to_proto).collect();
        Ok(Response::new(pb::ListAlertsResponse { alerts, next_page_token }))
    }
}
