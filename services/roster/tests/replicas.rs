//! Roster replicas behind one kit client, as another part (or the gateway) reaches them
//! on Kubernetes through a headless Service: one replica stops mid-stream and no call
//! fails; a replica added to the name gets calls within the refresh interval.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cadre_kit::Role;
use cadre_kit::client::{ClientSettings, Idempotent, PartClient, Resolve};
use cadre_kit::testing::{TestDb, TestNode, authorized};
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::region_service_client::RegionServiceClient;
use common::{COUNTY, VILLAGE, seed_regions, start};
use tonic::metadata::MetadataMap;

/// A DNS name whose records the test changes, as Kubernetes does when pods come and go.
#[derive(Clone, Default)]
struct Records(Arc<Mutex<Vec<SocketAddr>>>);

impl Records {
    fn set(&self, addrs: &[SocketAddr]) {
        *self.0.lock().unwrap() = addrs.to_vec();
    }
}

impl Resolve for Records {
    async fn resolve(&self) -> std::io::Result<Vec<SocketAddr>> {
        Ok(self.0.lock().unwrap().clone())
    }
}

/// How many GetRegion calls a node served, from its own metrics.
fn served(node: &TestNode) -> u64 {
    let text = node.metrics.render();
    text.lines()
        .find(|l| {
            l.starts_with("cadre_rpc_requests_total{")
                && l.contains("method=\"GetRegion\"")
                && l.contains("code=\"Ok\"")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

async fn get_region(client: &PartClient, token: &str) -> Result<pb::Region, tonic::Status> {
    let request = pb::GetRegionRequest { code: VILLAGE.into() };
    client
        .call(Idempotent::Yes, None, &MetadataMap::new(), |channel| {
            let request = authorized(token, request.clone());
            async move { RegionServiceClient::new(channel).get_region(request).await.map(|r| r.into_inner()) }
        })
        .await
}

#[tokio::test]
async fn calls_survive_a_replica_stopping_and_reach_one_added() {
    let db = TestDb::sqlite(cadre_roster::MIGRATIONS).await;
    let first = start(&db).await;
    seed_regions(&first).await;
    let second = TestNode::start(&[(&cadre_roster::Roster, &db)]).await;
    let token = first.node.token(&[Role::CountyAdmin], COUNTY);

    let records = Records::default();
    records.set(&[first.node.addr, second.addr]);
    let refresh = Duration::from_millis(100);
    let settings = ClientSettings { refresh, ..ClientSettings::default() };
    let client = PartClient::with_resolver("roster", records.clone(), &settings).unwrap();

    // Both replicas take calls.
    for _ in 0..40 {
        assert_eq!(get_region(&client, &token).await.unwrap().code, VILLAGE);
    }
    assert!(served(&first.node) > 0 && served(&second) > 0, "{} / {}", served(&first.node), served(&second));

    // The first replica stops (draining, then closing) while calls go on: none fails.
    let stopping = tokio::spawn(first.stop());
    for i in 0..200 {
        let got = get_region(&client, &token).await;
        assert!(got.is_ok(), "call {i} failed while a replica stopped: {got:?}");
    }
    stopping.await.unwrap();
    // Its pod goes from the name; a third replica comes up and is added.
    let third = TestNode::start(&[(&cadre_roster::Roster, &db)]).await;
    records.set(&[second.addr, third.addr]);
    let added = Instant::now();
    while served(&third) == 0 {
        assert!(get_region(&client, &token).await.is_ok());
        assert!(added.elapsed() < refresh * 20, "the added replica got no call within {:?}", added.elapsed());
    }
    assert!(added.elapsed() < refresh * 10, "took {:?} for a refresh of {refresh:?}", added.elapsed());
    assert_eq!(client.endpoints(), 2);
    second.stop().await;
    third.stop().await;
}
