//! A deterministic province-scale roster for `cadre demo`, the import bench and load
//! tests: ≈ 150 villages per county, 10 counties per city, the demo county's
//! generators for people and posts (≈ 6.7 cadres per village: 15,000 villages give
//! ≈ 100,000 cadres, and ≈ 3.3 reserves per village), written in the import template
//! (reserves as JSON lines).

use std::collections::HashSet;

use cadre_proto::roster::v1 as pb;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{
    DemoCounty, DemoReserve, DemoStep, Gen, HAN_PLACE_A, HAN_PLACE_B, MONG_PLACE_A, MONG_PLACE_B, region,
};
use crate::api::transfer::file::{self, Table};
use crate::domain::dates;
use crate::domain::import::{self, Column};

/// 内蒙古自治区.
pub const PROVINCE: &str = "150000000000";
const CITIES: [&str; 12] = [
    "呼和浩特市",
    "包头市",
    "乌海市",
    "赤峰市",
    "通辽市",
    "鄂尔多斯市",
    "呼伦贝尔市",
    "巴彦淖尔市",
    "乌兰察布市",
    "兴安盟",
    "锡林郭勒盟",
    "阿拉善盟",
];
const VILLAGES_PER_COUNTY: usize = 150;
const VILLAGES_PER_TOWNSHIP: usize = 15;
const COUNTIES_PER_CITY: usize = 10;

/// `villages` villages (at least one) with their cadres; the same seed gives the same data.
pub fn demo_province(villages: usize, seed: u64) -> DemoCounty {
    let villages = villages.max(1);
    let mut g = Gen {
        rng: StdRng::seed_from_u64(seed),
        ids: HashSet::new(),
        phones: HashSet::new(),
        names: HashSet::new(),
        mongol_share: 0.3,
    };
    let mut regions = vec![region(PROVINCE.into(), "内蒙古自治区", "")];
    let mut cadres = Vec::new();
    let counties = villages.div_ceil(VILLAGES_PER_COUNTY);
    let mut county_names = HashSet::new();
    let mut left = villages;
    for county in 0..counties {
        let city = county / COUNTIES_PER_CITY;
        if county % COUNTIES_PER_CITY == 0 {
            let code = format!("15{:02}00000000", city + 1);
            regions.push(region(code, CITIES.get(city).copied().unwrap_or("盟市"), ""));
        }
        let county6 = format!("15{:02}{:02}", city + 1, county % COUNTIES_PER_CITY + 1);
        let mongol = g.rng.random_bool(0.4);
        let name = loop {
            let n = if mongol {
                format!("{}{}旗", g.pick(MONG_PLACE_A), g.pick(MONG_PLACE_B))
            } else {
                format!("{}{}县", g.pick(HAN_PLACE_A), g.pick(HAN_PLACE_B))
            };
            if county_names.insert(n.clone()) {
                break n;
            }
        };
        regions.push(region(format!("{county6}000000"), name, ""));
        // Names are unique within a county.
        g.names.clear();
        let here = left.min(VILLAGES_PER_COUNTY);
        left -= here;
        for (t, start) in (0..here).step_by(VILLAGES_PER_TOWNSHIP).enumerate() {
            let township = format!("{county6}{:03}", 100 + t);
            let sumu = mongol && g.rng.random_bool(0.5);
            let tname = g.unique_name(|g| {
                if sumu {
                    format!("{}{}苏木", g.pick(MONG_PLACE_A), g.pick(MONG_PLACE_B))
                } else {
                    format!("{}{}镇", g.pick(HAN_PLACE_A), g.pick(HAN_PLACE_B))
                }
            });
            regions.push(region(format!("{township}000"), tname, ""));
            g.mongol_share = if sumu { 0.6 } else { 0.2 };
            for v in 0..(here - start).min(VILLAGES_PER_TOWNSHIP) {
                let code = format!("{township}{:03}", 201 + v);
                let mongol_village = sumu && g.rng.random_bool(0.9);
                let vname = g.village_name(mongol_village);
                let vtype = g.village_type();
                let one_shoulder = g.rng.random_bool(0.85);
                g.village_cadres(&code, one_shoulder, &mut cadres);
                regions.push(region(code, vname, vtype));
            }
        }
    }
    // ≈ 3.3 a village (50,000 for 15,000 villages).
    let reserves = super::reserves_for(&mut g, seed, &regions, &cadres, false, |rng, _| {
        rng.random_range(1..=5) + usize::from(rng.random_bool(0.3))
    });
    DemoCounty { regions, cadres, reserves }
}

/// The cadres as an import file (template columns, in template order).
pub fn template(demo: &DemoCounty) -> Table {
    let mut table = Table { headers: Column::ALL.map(|c| c.header().to_string()).to_vec(), rows: Vec::new() };
    for c in &demo.cadres {
        let p = &c.cadre;
        let join = |v: Vec<String>| {
            if v.windows(2).all(|w| w[0] == w[1]) {
                v.into_iter().next().unwrap_or_default()
            } else {
                v.join(import::LIST_SEPARATOR)
            }
        };
        let row = Column::ALL.map(|col| match col {
            Column::Name => p.name.clone(),
            Column::IdNumber => p.id_number.clone(),
            Column::Ethnicity => p.ethnicity.clone(),
            Column::Phone => p.phone.clone(),
            Column::PoliticalStatus => {
                import::political_name(pb::PoliticalStatus::try_from(p.political_status).unwrap_or_default())
                    .to_string()
            }
            Column::Education => {
                import::education_name(pb::Education::try_from(p.education).unwrap_or_default()).to_string()
            }
            Column::FullTime => if p.full_time_education { "是" } else { "否" }.to_string(),
            Column::Village => p.region_code.clone(),
            Column::Posts => c
                .posts
                .iter()
                .map(|x| import::post_name(x.kind))
                .collect::<Vec<_>>()
                .join(import::LIST_SEPARATOR),
            Column::Term => join(c.posts.iter().map(|x| x.term.to_string()).collect()),
            Column::StartDate => join(c.posts.iter().map(|x| dates::format(x.start_date)).collect()),
            Column::Background => p
                .tags
                .iter()
                .filter_map(|t| pb::BackgroundTag::try_from(*t).ok())
                .map(import::tag_name)
                .collect::<Vec<_>>()
                .join(import::LIST_SEPARATOR),
        });
        table.rows.push(row.to_vec());
    }
    table
}

/// The cadres as a CSV import file.
pub fn template_csv(demo: &DemoCounty) -> Vec<u8> {
    file::write(pb::TransferFormat::Csv, &template(demo)).unwrap_or_default()
}

/// The regions as the JSON body of UpsertRegions (`{"regions": [...]}`), parents first.
pub fn regions_json(demo: &DemoCounty) -> serde_json::Value {
    let regions: Vec<serde_json::Value> = demo
        .regions
        .iter()
        .map(|r| serde_json::json!({ "code": r.code, "name": r.name, "villageType": r.village_type }))
        .collect();
    serde_json::json!({ "regions": regions })
}

/// Regions from the text of a `regions.json` written by [`regions_json`].
pub fn regions_from_json_text(text: &str) -> Result<Vec<pb::Region>, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    regions_from_json(&v)
}

/// Regions back from [`regions_json`]'s form.
pub fn regions_from_json(v: &serde_json::Value) -> Result<Vec<pb::Region>, String> {
    let list = v.get("regions").and_then(|r| r.as_array()).ok_or("expected {\"regions\": [...]}")?;
    list.iter()
        .enumerate()
        .map(|(i, r)| {
            let text = |k: &str| r.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_string();
            let code = text("code");
            if code.is_empty() {
                return Err(format!("regions[{i}].code is required"));
            }
            Ok(pb::Region {
                code,
                name: text("name"),
                village_type: text("villageType"),
                ..Default::default()
            })
        })
        .collect()
}

/// One reserve as a JSON line: `{"reserve": {...}, "steps": [{"stage", "date"}...]}`, the
/// reserve in the REST form of `POST /v1/reserves` (recommended on `stageDate`).
pub fn reserve_json(r: &DemoReserve) -> serde_json::Value {
    let p = &r.reserve;
    let name = |s: Option<&str>| s.unwrap_or_default().to_string();
    let tags: Vec<String> =
        p.tags.iter().map(|t| name(pb::BackgroundTag::try_from(*t).ok().map(|t| t.as_str_name()))).collect();
    let steps: Vec<serde_json::Value> = r
        .steps
        .iter()
        .map(|s| serde_json::json!({ "stage": s.stage.as_str_name(), "date": dates::format(s.date) }))
        .collect();
    serde_json::json!({
        "reserve": {
            "regionCode": p.region_code,
            "name": p.name,
            "idNumber": p.id_number,
            "sex": name(pb::Sex::try_from(p.sex).ok().map(|s| s.as_str_name())),
            "source": name(pb::ReserveSource::try_from(p.source).ok().map(|s| s.as_str_name())),
            "politicalStatus": name(pb::PoliticalStatus::try_from(p.political_status).ok().map(|s| s.as_str_name())),
            "education": name(pb::Education::try_from(p.education).ok().map(|s| s.as_str_name())),
            "fullTimeEducation": p.full_time_education,
            "tags": tags,
            "stageDate": p.stage_date,
        },
        "steps": steps,
    })
}

/// The reserves as JSON lines, one per reserve.
pub fn reserves_jsonl(demo: &DemoCounty) -> String {
    let mut out = String::new();
    for r in &demo.reserves {
        out.push_str(&reserve_json(r).to_string());
        out.push('\n');
    }
    out
}

/// A reserve back from one line of [`reserves_jsonl`]; the error names the field.
pub fn reserve_from_json_line(line: &str) -> Result<DemoReserve, String> {
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let r = v.get("reserve").ok_or("reserve is required")?;
    let text = |k: &str| r.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_string();
    fn named<T>(field: &str, value: &str, from: impl Fn(&str) -> Option<T>) -> Result<T, String> {
        from(value).ok_or_else(|| format!("{field}: unknown value {value:?}"))
    }
    let tags = match r.get("tags") {
        None => Vec::new(),
        Some(t) => t
            .as_array()
            .ok_or("reserve.tags: expected a list")?
            .iter()
            .map(|t| {
                named("reserve.tags", t.as_str().unwrap_or_default(), pb::BackgroundTag::from_str_name)
                    .map(|t| t as i32)
            })
            .collect::<Result<_, _>>()?,
    };
    let reserve = pb::Reserve {
        region_code: text("regionCode"),
        name: text("name"),
        id_number: text("idNumber"),
        sex: match text("sex").as_str() {
            "" => 0,
            s => named("reserve.sex", s, pb::Sex::from_str_name)? as i32,
        },
        source: named("reserve.source", &text("source"), pb::ReserveSource::from_str_name)? as i32,
        political_status: named(
            "reserve.politicalStatus",
            &text("politicalStatus"),
            pb::PoliticalStatus::from_str_name,
        )? as i32,
        education: named("reserve.education", &text("education"), pb::Education::from_str_name)? as i32,
        full_time_education: r.get("fullTimeEducation").and_then(|x| x.as_bool()).unwrap_or(false),
        tags,
        stage_date: text("stageDate"),
        ..Default::default()
    };
    let mut steps = Vec::new();
    for (i, s) in
        v.get("steps").and_then(|s| s.as_array()).map(Vec::as_slice).unwrap_or_default().iter().enumerate()
    {
        let field = format!("steps[{i}]");
        let stage = s.get("stage").and_then(|x| x.as_str()).unwrap_or_default();
        let stage = named(&format!("{field}.stage"), stage, pb::ReserveStage::from_str_name)?;
        let date = dates::parse(
            &format!("{field}.date"),
            s.get("date").and_then(|x| x.as_str()).unwrap_or_default(),
        )
        .map_err(|e| e.to_string())?;
        steps.push(DemoStep { stage, date });
    }
    Ok(DemoReserve { reserve, steps, cadre: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_province_is_deterministic_and_imports_cleanly() {
        let demo = demo_province(40, 1);
        assert_eq!(demo, demo_province(40, 1));
        let villages = demo.regions.iter().filter(|r| !r.village_type.is_empty()).count();
        assert_eq!(villages, 40);
        let table = template(&demo);
        let layout = import::layout(&table.headers).unwrap();
        let province = cadre_kit::RegionCode::parse(PROVINCE).unwrap();
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let (good, errors) = import::check_rows(
            &layout,
            &table.rows,
            &province,
            today,
            &crate::domain::term_calendar::TermCalendar::default(),
            &|_| {},
        );
        assert!(errors.is_empty(), "{:?}", &errors[..errors.len().min(5)]);
        assert_eq!(good.len(), demo.cadres.len());
        let back = regions_from_json(&regions_json(&demo)).unwrap();
        assert_eq!(back, demo.regions);
    }

    #[test]
    fn province_reserves_are_valid_unique_and_about_three_a_village() {
        use crate::domain::reserves::{self, Level};
        let demo = demo_province(300, 5);
        assert_eq!(demo.reserves, demo_province(300, 5).reserves);
        let per_village = demo.reserves.len() as f64 / 300.0;
        assert!((3.0..=3.6).contains(&per_village), "{per_village}");
        let villages: HashSet<&str> =
            demo.regions.iter().filter(|r| !r.village_type.is_empty()).map(|r| r.code.as_str()).collect();
        let mut ids: HashSet<&str> = demo.cadres.iter().map(|c| c.cadre.id_number.as_str()).collect();
        for r in &demo.reserves {
            reserves::validate_new("reserve", &r.reserve).unwrap();
            assert!(villages.contains(r.reserve.region_code.as_str()));
            assert!(ids.insert(&r.reserve.id_number), "{} twice", r.reserve.id_number);
            assert_eq!(r.cadre, None);
            let mut at = (pb::ReserveStage::Recommended, dates::parse("d", &r.reserve.stage_date).unwrap());
            for s in &r.steps {
                reserves::check_move(at.0, at.1, s.stage, s.date, Some(Level::Province)).unwrap();
                at = (s.stage, s.date);
            }
            assert_ne!(at.0, pb::ReserveStage::Appointed, "appointed without a cadre record");
        }
        let text = reserves_jsonl(&demo);
        let back: Vec<DemoReserve> = text.lines().map(|l| reserve_from_json_line(l).unwrap()).collect();
        assert!(back == demo.reserves, "the JSON lines do not read back the same");
        let err = reserve_from_json_line(r#"{"reserve": {"source": "EXAM"}}"#).unwrap_err();
        assert!(err.starts_with("reserve.source"), "{err}");
    }
}
