//! Deny by default, over every RPC the roster serves: a token with an unknown role, no
//! role, a role at the wrong level or `pii` alone is refused before any handler runs,
//! and each role gets exactly what its declared permission grants.

mod common;

use cadre_kit::permission::{self, Rpcs};
use cadre_kit::testing::{TestDb, dev_token_with_claims, now_secs};
use cadre_kit::{Role, permission::RpcInfo};
use cadre_proto::api::v1::Permission;
use common::{COUNTY, start};
use serde_json::json;
use tonic::Code;
use tonic::transport::Channel;

/// No fields: every request decodes as its type's defaults, every reply is skipped.
#[derive(Clone, PartialEq, prost::Message)]
struct Empty {}

/// Calls `rpc` with an empty message (a stream of one for streaming RPCs) and returns
/// the status it ended with (OK when it answered).
async fn call(channel: &Channel, rpc: &RpcInfo, token: &str) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.expect("the node accepts calls");
    let mut request = tonic::Request::new(futures::stream::iter([Empty {}]));
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    let path = rpc.path().parse().unwrap();
    let codec = tonic_prost::ProstCodec::<Empty, Empty>::default();
    match grpc.streaming(request, path, codec).await {
        Err(status) => status,
        Ok(response) => {
            // A server stream (the change feed) is open: that was admitted.
            drop(response);
            tonic::Status::ok("")
        }
    }
}

fn token(roles: serde_json::Value, region: &str) -> String {
    dev_token_with_claims(&json!({"sub": "probe", "roles": roles, "region": region, "exp": now_secs() + 600}))
}

#[tokio::test]
async fn every_rpc_refuses_tokens_whose_roles_grant_nothing() {
    let db = TestDb::sqlite(cadre_roster::MIGRATIONS).await;
    let s = start(&db).await;
    let rpcs = Rpcs::suite().under("cadre.roster.");
    assert!(rpcs.len() >= 50, "{} roster RPCs", rpcs.len());
    let refused = [
        ("an unknown role", token(json!(["root"]), COUNTY), "unknown role"),
        ("no role", token(json!([]), COUNTY), "no role"),
        ("a county role over a province", token(json!(["county_admin"]), "150000000000"), "county_admin"),
        ("a township role over a county", token(json!(["township_admin"]), COUNTY), "township_admin"),
        ("pii alone", token(json!(["pii"]), COUNTY), "pii"),
    ];
    for rpc in &rpcs {
        assert_ne!(rpc.permission, Permission::Unspecified, "{} declares no permission", rpc.name);
        for (what, token, why) in &refused {
            let status = call(&s.channel, rpc, token).await;
            assert_eq!(status.code(), Code::PermissionDenied, "{} with {what}: {status:?}", rpc.name);
            assert!(status.message().contains(why), "{} with {what}: {}", rpc.name, status.message());
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn each_role_gets_what_its_declared_permission_grants() {
    let db = TestDb::sqlite(cadre_roster::MIGRATIONS).await;
    let s = start(&db).await;
    let callers = [
        (Role::CountyAdmin, COUNTY),
        (Role::TownshipAdmin, "150525100000"),
        (Role::ScoringUnit, COUNTY),
        (Role::Auditor, COUNTY),
        (Role::Integration, "150000000000"),
    ];
    for rpc in Rpcs::suite().under("cadre.roster.") {
        for (role, region) in callers {
            let token = s.node.token(&[role], region);
            let status = call(&s.channel, &rpc, &token).await;
            // Refused by the kit's layer (its message names the permission) or admitted:
            // what the handler then says of an empty request is its own business.
            let refused_by_layer =
                status.code() == Code::PermissionDenied && status.message().contains("needs permission");
            assert_eq!(
                refused_by_layer,
                !permission::grants(role, rpc.permission),
                "{} as {role}: {status:?}",
                rpc.name
            );
        }
    }
    // A scoring unit reads region names but no cadre; an auditor reads but never writes.
    assert!(permission::grants(Role::ScoringUnit, Permission::ReferenceRead));
    assert!(!permission::grants(Role::ScoringUnit, Permission::Read));
    assert!(!permission::grants(Role::Auditor, Permission::Write));
    s.stop().await;
}
