//! The demo county's assessment as `cadre up` seeds it, over the stand-in roster: the
//! county's units (its townships from assessment's copy of the roster), last year's scheme
//! copied into this year, scoring open with the villages frozen, five sheets — and nothing
//! seeded twice.

mod common;

use cadre_assessment::demo;
use cadre_kit::identity::ServiceIdentity;
use cadre_proto::assessment::v1 as pb;
use chrono::Datelike;
use common::*;

#[tokio::test]
async fn the_demo_county_is_seeded_once_through_the_api() {
    for db in backends().await {
        let s = start(&db).await;
        let api = cadre_assessment::AssessmentApi::new(s.node.db("assessment").clone());
        let identity = ServiceIdentity::from_settings(&s.node.settings.auth, "assessment").unwrap();
        let said = demo::seed(&api, &identity, &|_, _| {}).await.unwrap().expect("seeded");
        assert!(said.contains("6 scoring units") && said.contains("3 villages frozen"), "{said}");
        assert_eq!(demo::seed(&api, &identity, &|_, _| {}).await.unwrap(), None, "seeded once");

        let year = cadre_kit::dates::today().year();
        let progress = pb::GetProgressRequest { county_code: COUNTY.into(), year };
        let p = s.sheets().get_progress(req(&s.county, progress)).await.unwrap().into_inner();
        assert_eq!((p.phase, p.units.len(), p.units_submitted), (pb::Phase::ScoringOpen as i32, 6, 4));
        // Every sheet is complete, every score within its maximum (the service checked it).
        assert!(p.units.iter().filter(|u| u.submitted).all(|u| u.score_count == u.expected_count), "{p:?}");
        // A township of the demo acts with its bound subject.
        let township = p.units.iter().find(|u| u.unit_name == "大沁他拉镇党委").unwrap();
        let token = s.unit_token(&demo::township_subject(TOWNSHIP));
        let read =
            pb::GetSheetRequest { county_code: COUNTY.into(), year, unit_id: township.unit_id.clone() };
        let sheet = s.sheets().get_sheet(req(&token, read)).await.unwrap().into_inner();
        assert_eq!((sheet.revision, sheet.scores.len() as i32), (1, township.expected_count));
        s.stop().await;
    }
}
