//! `cadre up`'s demo data for incentive: loaded once through the API, on both backends,
//! with awards in every state and books that balance.

mod common;

use std::collections::BTreeSet;

use cadre_incentive::IncentiveApi;
use cadre_kit::config::Settings;
use cadre_kit::pii::PiiCipher;
use cadre_proto::incentive::v1 as pb;
use common::*;

#[tokio::test]
async fn the_demo_county_has_a_scale_rules_a_funded_pool_and_awards_in_every_state() {
    for db in backends().await {
        let pii = PiiCipher::from_settings(&Settings::default().pii).unwrap();
        let api = IncentiveApi::new(db.db().clone(), pii);
        let said = cadre_incentive::demo::seed(&api, &|_, _| {}).await.unwrap().expect("seeded");
        assert!(said.contains("balanced: true"), "{said}");
        assert!(cadre_incentive::demo::seed(&api, &|_, _| {}).await.unwrap().is_none(), "once");

        let s = start(&db).await;
        let listed = s
            .awards()
            .list_awards(req(&s.county, pb::ListAwardsRequest { page_size: 100, ..Default::default() }))
            .await
            .unwrap()
            .into_inner();
        let states: BTreeSet<i32> = listed.awards.iter().map(|a| a.state).collect();
        assert_eq!(states.len(), 6, "every state: {states:?}");
        let pools = s
            .pools()
            .list_bonus_pools(req(&s.county, pb::ListBonusPoolsRequest::default()))
            .await
            .unwrap()
            .into_inner();
        let books = s.reconciliation(&pools.pools[0]).await;
        assert!(books.balanced, "{:?}", books.discrepancies);
        s.stop().await;
    }
}
