//! The demo county's assessment, loaded through assessment's own API (the same checks,
//! audit and feed as any caller) once the roster's demo is there and copied: the county's
//! scoring units (four agencies and every township), last year's scheme with a variant per
//! village type, this year's copied from it and scoring open (villages frozen), and the
//! sheets of two agencies and three townships submitted.

use cadre_kit::call::local_request;
use cadre_kit::identity::ServiceIdentity;
use cadre_kit::{ApiError, Principal, RegionCode, Role, dates};
use cadre_proto::assessment::v1 as pb;
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
    let total = AGENCIES.len() + townships.len() + 3 + 5;
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

    // Last year's scheme, this year's copied from it, and scoring open.
    let request = pb::CreateSchemeRequest { scheme: Some(scheme(year - 1, &agency_ids)) };
    let last = api
        .create_scheme(local::<SchemeServiceServer<AssessmentApi>, _>(&who, "CreateScheme", request)?)
        .await?
        .into_inner();
    step();
    let request = pb::CopySchemeRequest { from_id: last.id, year };
    api.copy_scheme(local::<SchemeServiceServer<AssessmentApi>, _>(&who, "CopyScheme", request)?).await?;
    step();
    let request = pb::MoveYearRequest { county_code: DEMO_COUNTY.into(), year };
    let opened =
        api.open_scoring(local::<YearServiceServer<AssessmentApi>, _>(&who, "OpenScoring", request)?).await?;
    step();

    // Two agencies and three townships have submitted their sheets, from their forms.
    let mut sheets = 0;
    let mut scores = 0;
    for (unit, subject) in agencies.iter().take(2).chain(township_units.iter().take(3)) {
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
        sheets += 1;
        step();
    }
    Ok(Some(format!(
        "{} scoring units, the {} scheme copied into {year} (scoring open, {} villages frozen), {sheets} sheets with {scores} scores",
        agencies.len() + township_units.len(),
        year - 1,
        opened.into_inner().village_count
    )))
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
