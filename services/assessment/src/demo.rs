//! The demo county's assessment, loaded through assessment's own API (the same checks,
//! audit and feed as any caller) once the roster's demo is there and copied: the county's
//! scoring units (four agencies and every township); last year's scheme with a variant per
//! village type, every sheet, the year's rules (lists, tiers by quota, consequences),
//! computed, noticed and final — its consequences published; this year's scheme copied
//! from it, every sheet, two list events, computed and in public notice with one
//! objection pending (a township's, against its first village's result).

use cadre_kit::call::local_request;
use cadre_kit::identity::ServiceIdentity;
use cadre_kit::{ApiError, Principal, RegionCode, Role, dates};
use cadre_proto::assessment::v1 as pb;
use cadre_proto::assessment::v1::result_service_server::{ResultService, ResultServiceServer};
use cadre_proto::assessment::v1::scheme_service_server::{SchemeService, SchemeServiceServer};
use cadre_proto::assessment::v1::scoring_unit_service_server::{
    ScoringUnitService, ScoringUnitServiceServer,
};
use cadre_proto::assessment::v1::sheet_service_server::{SheetService, SheetServiceServer};
use cadre_proto::assessment::v1::year_service_server::{YearService, YearServiceServer};
use chrono::Datelike;
use tonic::server::NamedService;
use tonic::{Request, Status};

use crate::AssessmentApi;
use crate::store;

/// The county the roster's demo seeds (奈曼旗).
pub const DEMO_COUNTY: &str = "150525000000";

/// The agencies of the demo: (name, the subject of its scoring-unit token).
pub const AGENCIES: [(&str, &str); 4] =
    [("旗委组织部", "zzb"), ("旗农牧局", "nmj"), ("旗财政局", "czj"), ("旗民政局", "mzj")];

/// The subject of a township unit's token in the demo: `township-150525100000`.
pub fn township_subject(code: &str) -> String {
    format!("township-{code}")
}

fn local<S: NamedService, T>(who: &Principal, method: &str, message: T) -> Result<Request<T>, Status> {
    Ok(local_request(who, &format!("/{}/{method}", S::NAME), message)?)
}

/// Which unit scores an indicator: an agency by its index in [`AGENCIES`], or the townships.
#[derive(Clone, Copy)]
enum By {
    Agency(usize),
    Township,
}

struct Spec {
    code: &'static str,
    name: &'static str,
    max: i32,
    by: By,
    evidence: &'static str,
    /// (village type, excluded, another maximum)
    variants: &'static [(&'static str, bool, i32)],
}

/// Ten indicators in five items; every variant adds up to 100.0 points: demonstration
/// villages score the collective economy out of 25.0 and are not scored on office hours;
/// key-assistance villages score income out of 5.0 and industry out of 20.0.
const ITEMS: [(&str, &[Spec]); 5] = [
    (
        "基层党建",
        &[
            Spec {
                code: "A01",
                name: "落实“三会一课”、主题党日制度",
                max: 100,
                by: By::Agency(0),
                evidence: "会议记录、照片",
                variants: &[],
            },
            Spec {
                code: "A02",
                name: "党员发展与教育管理",
                max: 80,
                by: By::Agency(0),
                evidence: "发展党员档案",
                variants: &[],
            },
            Spec {
                code: "A03",
                name: "党群服务中心阵地建设",
                max: 70,
                by: By::Township,
                evidence: "现场查看",
                variants: &[],
            },
        ],
    ),
    (
        "发展壮大村集体经济",
        &[
            Spec {
                code: "B01",
                name: "村集体经济经营性收入",
                max: 150,
                by: By::Agency(2),
                evidence: "财务报表、银行流水",
                variants: &[("demonstration", false, 250), ("key-assistance", false, 50)],
            },
            Spec {
                code: "B02",
                name: "特色产业发展",
                max: 100,
                by: By::Agency(1),
                evidence: "产业项目台账",
                variants: &[("key-assistance", false, 200)],
            },
        ],
    ),
    (
        "乡村治理",
        &[
            Spec {
                code: "C01",
                name: "矛盾纠纷排查化解",
                max: 100,
                by: By::Township,
                evidence: "调解台账",
                variants: &[],
            },
            Spec {
                code: "C02",
                name: "村务公开与民主管理",
                max: 80,
                by: By::Agency(3),
                evidence: "公开栏照片",
                variants: &[],
            },
        ],
    ),
    (
        "民生服务",
        &[
            Spec {
                code: "D01",
                name: "为民办实事",
                max: 120,
                by: By::Township,
                evidence: "办事清单",
                variants: &[],
            },
            Spec {
                code: "D02",
                name: "人居环境整治",
                max: 100,
                by: By::Agency(1),
                evidence: "检查记录",
                variants: &[],
            },
        ],
    ),
    (
        "履职尽责",
        &[Spec {
            code: "E01",
            name: "坐班值守与驻村工作",
            max: 100,
            by: By::Township,
            evidence: "考勤记录",
            variants: &[("demonstration", true, 0)],
        }],
    ),
];

const TYPES: [&str; 4] = ["ordinary", "lifted-out-of-poverty", "key-assistance", "demonstration"];

fn scheme(year: i32, agencies: &[String]) -> pb::Scheme {
    let items = ITEMS
        .iter()
        .map(|(name, specs)| pb::Item {
            name: name.to_string(),
            indicators: specs
                .iter()
                .map(|s| pb::Indicator {
                    code: s.code.into(),
                    name: s.name.into(),
                    max_points: s.max,
                    unit_id: match s.by {
                        By::Agency(i) => agencies[i].clone(),
                        By::Township => String::new(),
                    },
                    by_township: matches!(s.by, By::Township),
                    evidence: s.evidence.into(),
                    variants: s
                        .variants
                        .iter()
                        .map(|(t, excluded, max)| pb::VariantRule {
                            village_type: t.to_string(),
                            excluded: *excluded,
                            max_points: *max,
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    pb::Scheme {
        county_code: DEMO_COUNTY.into(),
        year,
        name: format!("奈曼旗 {year} 年度村党组织书记抓基层党建述职评议考核"),
        variants: TYPES
            .iter()
            .map(|t| pb::Variant { village_type: t.to_string(), total_points: 1000 })
            .collect(),
        items,
        ..Default::default()
    }
}

/// A score between 60% and 100% of `max`, the same for the same village and indicator.
fn points(village: &str, indicator: &str, max: i32) -> i32 {
    let h = village
        .bytes()
        .chain(indicator.bytes())
        .fold(17u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    max * 6 / 10 + (h % (max as u32 * 4 / 10 + 1)) as i32
}

/// Seeds the demo county if assessment holds no scheme yet; says what it loaded.
pub async fn seed(
    api: &AssessmentApi,
    _identity: &ServiceIdentity,
    progress: &(dyn Fn(usize, usize) + Send + Sync),
) -> Result<Option<String>, Status> {
    let mut conn = api.db().pool().acquire().await.map_err(ApiError::from)?;
    if !store::schemes::list(&mut conn, "", 0, "", 1).await?.is_empty() {
        return Ok(None);
    }
    let townships = store::roster_copy::townships_under(&mut conn, &DEMO_COUNTY[..6]).await?;
    drop(conn);
    // No demo county in the roster (it held data of its own): nothing to assess.
    if townships.is_empty() {
        return Ok(None);
    }
    let county = RegionCode::parse(DEMO_COUNTY).map_err(ApiError::internal)?;
    let who = Principal {
        subject: "system:demo-seed".into(),
        roles: [Role::CountyAdmin].into(),
        jurisdiction: county,
    };
    let year = dates::today().year();
    let total = AGENCIES.len() + townships.len() + 4;
    let mut done = 0;
    let mut step = || {
        done += 1;
        progress(done, total);
    };

    // The units: four agencies and every township, each with its token's subject.
    let mut agencies = Vec::new();
    let mut township_units = Vec::new();
    let units = AGENCIES
        .iter()
        .map(|(name, subject)| (name.to_string(), pb::UnitKind::Agency, String::new(), subject.to_string()))
        .chain(townships.iter().map(|(code, name)| {
            (format!("{name}党委"), pb::UnitKind::Township, code.clone(), township_subject(code))
        }));
    for (name, kind, township, subject) in units {
        let unit = pb::ScoringUnit {
            county_code: DEMO_COUNTY.into(),
            name,
            kind: kind as i32,
            township_code: township.clone(),
            subjects: vec![subject.clone()],
            ..Default::default()
        };
        let request = pb::CreateScoringUnitRequest { unit: Some(unit) };
        let created = api
            .create_scoring_unit(local::<ScoringUnitServiceServer<AssessmentApi>, _>(
                &who,
                "CreateScoringUnit",
                request,
            )?)
            .await?
            .into_inner();
        match kind {
            pb::UnitKind::Agency => agencies.push((created.id, subject)),
            _ => township_units.push((created.id, subject)),
        }
        step();
    }
    let agency_ids: Vec<String> = agencies.iter().map(|(id, _)| id.clone()).collect();
    let mut units_all: Vec<(String, String)> = agencies.clone();
    units_all.extend(township_units.iter().cloned());

    // Last year: its scheme, every sheet, computed, noticed and final (its consequences
    // published). This year: copied scheme, every sheet, list events, computed, in public
    // notice until a week from now, one objection pending.
    let request = pb::CreateSchemeRequest { scheme: Some(scheme(year - 1, &agency_ids)) };
    let last = api
        .create_scheme(local::<SchemeServiceServer<AssessmentApi>, _>(&who, "CreateScheme", request)?)
        .await?
        .into_inner();
    step();
    let (villages, scores_last) = score_year(api, &who, year - 1, &units_all).await?;
    compute_year(api, &who, year - 1).await?;
    let (start, end) = (format!("{year}-01-10"), format!("{year}-01-16"));
    notice_year(api, &who, year - 1, start, end).await?;
    let request = pb::MoveYearRequest { county_code: DEMO_COUNTY.into(), year: year - 1 };
    api.finalize_results(local::<ResultServiceServer<AssessmentApi>, _>(&who, "FinalizeResults", request)?)
        .await?;
    step();

    let request = pb::CopySchemeRequest { from_id: last.id, year };
    api.copy_scheme(local::<SchemeServiceServer<AssessmentApi>, _>(&who, "CopyScheme", request)?).await?;
    step();
    let (_, scores) = score_year(api, &who, year, &units_all).await?;
    // A good deed recorded for the first village, a breach for the last.
    let mut conn = api.db().pool().acquire().await.map_err(ApiError::from)?;
    let frozen =
        store::years::villages(&mut conn, DEMO_COUNTY, year, &DEMO_COUNTY[..6], "", i64::MAX).await?;
    drop(conn);
    let mut events = 0;
    for (v, list, item, evidence) in [
        (frozen.first(), "GOOD", "G1", "旗委组织部先进基层党组织表彰文件"),
        (frozen.last(), "DONT", "N2", "旗纪委监委通报：村级财务公开不及时"),
    ] {
        let Some(v) = v else { continue };
        let event = pb::ListEvent {
            county_code: DEMO_COUNTY.into(),
            year,
            village_code: v.code.clone(),
            cadre_id: v.secretary_id.clone(),
            list_code: list.into(),
            item_code: item.into(),
            evidence: evidence.into(),
            ..Default::default()
        };
        let request = pb::RecordListEventRequest { event: Some(event) };
        api.record_list_event(local::<ResultServiceServer<AssessmentApi>, _>(
            &who,
            "RecordListEvent",
            request,
        )?)
        .await?;
        events += 1;
    }
    compute_year(api, &who, year).await?;
    let today = dates::today();
    notice_year(
        api,
        &who,
        year,
        dates::format(today - chrono::Days::new(1)),
        dates::format(today + chrono::Days::new(6)),
    )
    .await?;
    // The first township objects to its first village's result.
    let mut objections = 0;
    if let Some(v) = frozen.first() {
        let township = Principal {
            subject: "system:demo-seed-township".into(),
            roles: [Role::TownshipAdmin].into(),
            jurisdiction: RegionCode::parse(&v.township_code).map_err(ApiError::internal)?,
        };
        let objection = pb::Objection {
            county_code: DEMO_COUNTY.into(),
            year,
            village_code: v.code.clone(),
            reason: "D01“为民办实事”漏计了该村第四季度的三件实事，请复核".into(),
            ..Default::default()
        };
        let request = pb::RaiseObjectionRequest { objection: Some(objection) };
        api.raise_objection(local::<ResultServiceServer<AssessmentApi>, _>(
            &township,
            "RaiseObjection",
            request,
        )?)
        .await?;
        objections += 1;
    }
    step();
    Ok(Some(format!(
        "{} scoring units, {villages} villages; {} final ({scores_last} scores, consequences published); \
         {year} from its copied scheme: {scores} scores, {events} list events, computed, in public notice with \
         {objections} objection pending",
        agencies.len() + township_units.len(),
        year - 1,
    )))
}

/// The demo's rules for a year: two lists, tiers by quota over the county, the five
/// consequences.
pub const DEMO_RULES: &str = r#"{
  "lists": [
    {"code": "GOOD", "name": "“八个好”正面清单", "kind": "positive", "cap": 30, "items": [
      {"code": "G1", "name": "获旗级以上表彰", "points": 20},
      {"code": "G2", "name": "创新做法被推广", "points": 10}]},
    {"code": "DONT", "name": "“十不准”负面清单", "kind": "negative", "cap": 100, "items": [
      {"code": "N1", "name": "违规占用耕地", "points": 50},
      {"code": "N2", "name": "村级财务公开不及时", "points": 20}]}
  ],
  "results": {
    "tiers": {"by": "quota", "scope": "county", "percent": [20, 30, 30], "rounding": "floor"},
    "tie_breakers": ["higher_indicator_total", "fewer_negative_events"],
    "at_quota_boundary": "lower_tier"
  },
  "consequences": [
    {"kind": "reward", "when": "tier", "tier": 1},
    {"kind": "rectification", "when": "tier", "tier": 4},
    {"kind": "dismissal_recommended", "subject": "secretary", "when": "tier_two_years", "tier": 4},
    {"kind": "honours_priority", "when": "top_in_township", "n": 3},
    {"kind": "reminder_talk", "subject": "secretary", "when": "bottom_in_township", "n": 3}
  ]
}"#;

/// Opens scoring for `year`, has every unit submit its whole form, closes scoring and
/// sets the year's rules; returns the villages frozen and the scores submitted.
async fn score_year(
    api: &AssessmentApi,
    who: &Principal,
    year: i32,
    units: &[(String, String)],
) -> Result<(i32, usize), Status> {
    let request = pb::MoveYearRequest { county_code: DEMO_COUNTY.into(), year };
    let opened =
        api.open_scoring(local::<YearServiceServer<AssessmentApi>, _>(who, "OpenScoring", request)?).await?;
    let mut scores = 0;
    for (unit, subject) in units {
        let unit_principal = Principal {
            subject: subject.clone(),
            roles: [Role::ScoringUnit].into(),
            jurisdiction: RegionCode::parse(DEMO_COUNTY).map_err(ApiError::internal)?,
        };
        let request =
            pb::GetScoringFormRequest { county_code: DEMO_COUNTY.into(), year, unit_id: unit.clone() };
        let form = api
            .get_scoring_form(local::<SheetServiceServer<AssessmentApi>, _>(
                &unit_principal,
                "GetScoringForm",
                request,
            )?)
            .await?
            .into_inner();
        let request = pb::SubmitSheetRequest {
            county_code: DEMO_COUNTY.into(),
            year,
            unit_id: unit.clone(),
            scores: form
                .rows
                .iter()
                .map(|r| pb::Score {
                    village_code: r.village_code.clone(),
                    indicator_code: r.indicator_code.clone(),
                    points: points(&r.village_code, &r.indicator_code, r.max_points),
                })
                .collect(),
        };
        scores += request.scores.len();
        api.submit_sheet(local::<SheetServiceServer<AssessmentApi>, _>(
            &unit_principal,
            "SubmitSheet",
            request,
        )?)
        .await?;
    }
    let rules =
        pb::YearRules { county_code: DEMO_COUNTY.into(), year, rules_json: DEMO_RULES.into(), revision: 0 };
    let request = pb::PutYearRulesRequest { rules: Some(rules) };
    api.put_year_rules(local::<ResultServiceServer<AssessmentApi>, _>(who, "PutYearRules", request)?).await?;
    Ok((opened.into_inner().village_count, scores))
}

async fn compute_year(api: &AssessmentApi, who: &Principal, year: i32) -> Result<(), Status> {
    let request = pb::MoveYearRequest { county_code: DEMO_COUNTY.into(), year };
    api.close_scoring(local::<YearServiceServer<AssessmentApi>, _>(who, "CloseScoring", request.clone())?)
        .await?;
    api.compute_results(local::<ResultServiceServer<AssessmentApi>, _>(who, "ComputeResults", request)?)
        .await?;
    Ok(())
}

async fn notice_year(
    api: &AssessmentApi,
    who: &Principal,
    year: i32,
    starts_on: String,
    ends_on: String,
) -> Result<(), Status> {
    let request = pb::OpenNoticeRequest { county_code: DEMO_COUNTY.into(), year, starts_on, ends_on };
    api.open_notice(local::<ResultServiceServer<AssessmentApi>, _>(who, "OpenNotice", request)?).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scheme::validate;

    #[test]
    fn the_demo_scheme_adds_up_for_every_village_type() {
        let agencies: Vec<String> = (0..AGENCIES.len()).map(|i| format!("agency-{i}")).collect();
        let s = scheme(2026, &agencies);
        let body = crate::api::body_of_for_tests(&s);
        validate(&body).expect("every variant adds up to 100.0");
        for (v, i, max) in [("150525100201", "A01", 100), ("150525100202", "B01", 250)] {
            let p = points(v, i, max);
            assert!((max * 6 / 10..=max).contains(&p), "{p}");
        }
    }
}
