//! The demo county's assessment as `cadre up` seeds it, over the stand-in roster: the
//! county's units (its townships from assessment's copy of the roster), last year final
//! with its consequences, this year computed from a copied scheme and in public notice
//! with one objection pending — and nothing seeded twice.

mod common;

use cadre_assessment::demo;
use cadre_kit::identity::ServiceIdentity;
use cadre_proto::assessment::v1 as pb;
use cadre_proto::assessment::v1::result_service_client::ResultServiceClient;
use chrono::Datelike;
use common::*;

#[tokio::test]
async fn the_demo_county_is_seeded_once_through_the_api() {
    for db in backends().await {
        let s = start(&db).await;
        let api = cadre_assessment::AssessmentApi::new(s.node.db("assessment").clone());
        let identity = ServiceIdentity::from_settings(&s.node.settings.auth, "assessment").unwrap();
        let said = demo::seed(&api, &identity, &|_, _| {}).await.unwrap().expect("seeded");
        assert!(
            said.contains("6 scoring units, 3 villages") && said.contains("1 objection pending"),
            "{said}"
        );
        assert_eq!(demo::seed(&api, &identity, &|_, _| {}).await.unwrap(), None, "seeded once");

        let year = cadre_kit::dates::today().year();
        let results = || ResultServiceClient::new(s.channel.clone());
        // Last year final, with its consequences; this year in notice with one objection.
        let get = |y: i32| pb::GetYearRequest { county_code: COUNTY.into(), year: y };
        let last = s.years().get_year(req(&s.county, get(year - 1))).await.unwrap().into_inner();
        let this = s.years().get_year(req(&s.county, get(year))).await.unwrap().into_inner();
        assert_eq!((last.phase, this.phase), (pb::Phase::Final as i32, pb::Phase::Notice as i32));
        let request =
            pb::ListConsequencesRequest { county_code: COUNTY.into(), year: year - 1, ..Default::default() };
        let c = results().list_consequences(req(&s.county, request)).await.unwrap().into_inner().consequences;
        assert!(c.iter().any(|c| c.kind == "rectification"), "{c:?}");
        let request = pb::ListObjectionsRequest { county_code: COUNTY.into(), year, ..Default::default() };
        let o = results().list_objections(req(&s.county, request)).await.unwrap().into_inner().objections;
        assert_eq!(o.iter().map(|o| o.state).collect::<Vec<_>>(), [pb::ObjectionState::Open as i32]);
        // Every sheet is complete, every score within its maximum (the service checked it).
        let progress = pb::GetProgressRequest { county_code: COUNTY.into(), year };
        let p = s.sheets().get_progress(req(&s.county, progress)).await.unwrap().into_inner();
        assert_eq!((p.units.len(), p.units_submitted), (6, 6));
        assert!(p.units.iter().all(|u| u.score_count == u.expected_count), "{p:?}");
        // The results explain themselves; the list events count.
        let request = pb::ListResultsRequest { county_code: COUNTY.into(), year, ..Default::default() };
        let r = results().list_results(req(&s.county, request)).await.unwrap().into_inner().results;
        assert_eq!(r.len(), 3);
        assert!(r.iter().all(|r| !r.tier_rule.is_empty() && r.parts[0].name == "indicators"), "{r:?}");
        assert!(r.iter().any(|r| r.parts.iter().any(|p| p.name == "list:DONT" && p.points == -20)), "{r:?}");
        s.stop().await;
    }
}
