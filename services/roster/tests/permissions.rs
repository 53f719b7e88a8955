//! Deny by default, over every RPC the roster serves (the kit's probes): a token with
//! an unknown role, no role, a role at the wrong level or `pii` alone is refused before
//! any handler runs, and each role gets exactly what its declared permission grants.

mod common;

use cadre_kit::Role;
use cadre_kit::testing::{TestDb, permissions};
use common::{COUNTY, start};

#[tokio::test]
async fn every_rpc_refuses_tokens_whose_roles_grant_nothing() {
    let db = TestDb::sqlite(cadre_roster::MIGRATIONS).await;
    let s = start(&db).await;
    permissions::refuse_tokens_that_grant_nothing(&s.channel, "cadre.roster.", COUNTY).await;
    s.stop().await;
}

#[tokio::test]
async fn each_role_gets_what_its_declared_permission_grants() {
    let db = TestDb::sqlite(cadre_roster::MIGRATIONS).await;
    let s = start(&db).await;
    let callers: Vec<(Role, String)> = [
        (Role::CountyAdmin, COUNTY),
        (Role::TownshipAdmin, "150525100000"),
        (Role::ScoringUnit, COUNTY),
        (Role::Auditor, COUNTY),
        (Role::Integration, "150000000000"),
    ]
    .into_iter()
    .map(|(role, region)| (role, s.node.token(&[role], region)))
    .collect();
    permissions::grant_what_the_table_says(&s.channel, "cadre.roster.", &callers).await;
    s.stop().await;
}
