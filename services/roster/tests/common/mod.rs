//! What every roster service test starts from: the service on port 0 over a test
//! database, tokens for a county administrator (with and without PII), the next
//! county's administrator and a province administrator, and a small region tree.
#![allow(dead_code)]

use cadre_kit::Role;
use cadre_kit::resident_id::build;
use cadre_kit::testing::{TestDb, TestNode};
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::cadre_service_client::CadreServiceClient;
use cadre_proto::roster::v1::region_service_client::RegionServiceClient;
use chrono::NaiveDate;
use tonic::Request;
use tonic::transport::Channel;

pub const COUNTY: &str = "150525000000";
pub const NEXT_COUNTY: &str = "150526000000";
pub const VILLAGE: &str = "150525100201";

/// A running roster service; `stop` drains it.
pub struct Service {
    pub channel: Channel,
    pub node: TestNode,
    pub admin: String,
    pub admin_pii: String,
    pub neighbour: String,
    pub province: String,
}

/// The roster alone on port 0 over `db`, as `cadre serve roster` runs it.
pub async fn start(db: &TestDb) -> Service {
    let node = TestNode::start(&[(&cadre_roster::Roster, db)]).await;
    Service {
        channel: node.channel.clone(),
        admin: node.token(&[Role::CountyAdmin], COUNTY),
        admin_pii: node.token(&[Role::CountyAdmin, Role::Pii], COUNTY),
        neighbour: node.token(&[Role::CountyAdmin], NEXT_COUNTY),
        province: node.token(&[Role::ProvinceAdmin], "150000000000"),
        node,
    }
}

pub fn req<T>(token: &str, message: T) -> Request<T> {
    let mut r = Request::new(message);
    r.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

pub fn keyed<T>(token: &str, key: &str, message: T) -> Request<T> {
    let mut r = req(token, message);
    r.metadata_mut().insert("idempotency-key", key.parse().unwrap());
    r
}

pub fn region(code: &str, name: &str) -> pb::Region {
    pb::Region { code: code.into(), name: name.into(), ..Default::default() }
}

pub fn id_number(seq: u16) -> String {
    build("150525", NaiveDate::from_ymd_opt(1985, 3, 14).unwrap(), seq).as_str().to_string()
}

pub fn cadre(name: &str, seq: u16) -> pb::Cadre {
    pb::Cadre {
        region_code: VILLAGE.into(),
        name: name.into(),
        id_number: id_number(seq),
        ethnicity: "蒙古族".into(),
        phone: "13912345678".into(),
        political_status: pb::PoliticalStatus::PartyMember as i32,
        education: pb::Education::College as i32,
        ..Default::default()
    }
}

/// The county administrator enters `c` into the roster; returns it as stored.
pub async fn create_cadre(s: &Service, c: pb::Cadre) -> pb::Cadre {
    let mut cadres = CadreServiceClient::new(s.channel.clone());
    cadres.create_cadre(req(&s.admin, pb::CreateCadreRequest { cadre: Some(c) })).await.unwrap().into_inner()
}

pub async fn seed_regions(s: &Service) {
    let mut regions = RegionServiceClient::new(s.channel.clone());
    let all = vec![
        region("150000000000", "内蒙古自治区"),
        region("150500000000", "通辽市"),
        region(COUNTY, "奈曼旗"),
        region("150525100000", "大沁他拉镇"),
        pb::Region { village_type: "demonstration".into(), ..region(VILLAGE, "白音他拉嘎查") },
        region("150525100202", "东村"),
        region(NEXT_COUNTY, "扎鲁特旗"),
    ];
    let out =
        regions.upsert_regions(req(&s.province, pb::UpsertRegionsRequest { regions: all })).await.unwrap();
    assert_eq!(out.into_inner().created, 7);
}

impl Service {
    pub async fn stop(self) {
        self.node.stop().await;
    }
}
