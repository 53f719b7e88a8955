//! What assessment's tests start from: assessment on port 0 beside the kit's stand-in
//! roster (villages of three types in two townships of the county, their secretaries, and
//! a county next door), tokens for the callers of a scenario, the county's scoring units
//! and a scheme with a variant per village type.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use cadre_kit::Role;
use cadre_kit::testing::roster::StandInRoster;
use cadre_kit::testing::{TestDb, TestNode, authorized};
use cadre_proto::assessment::v1 as pb;
use cadre_proto::assessment::v1::scheme_service_client::SchemeServiceClient;
use cadre_proto::assessment::v1::scoring_unit_service_client::ScoringUnitServiceClient;
use cadre_proto::assessment::v1::sheet_service_client::SheetServiceClient;
use cadre_proto::assessment::v1::year_service_client::YearServiceClient;
use cadre_proto::roster::v1::PostKind;
use tonic::Request;
use tonic::transport::Channel;

pub const COUNTY: &str = "150525000000";
pub const TOWNSHIP: &str = "150525100000";
pub const TOWNSHIP_2: &str = "150525101000";
/// 白音他拉嘎查, an ordinary village of the first township.
pub const ORDINARY: &str = "150525100201";
/// 平安村, a demonstration village of the first township.
pub const DEMONSTRATION: &str = "150525100202";
/// 新丰村, a key-assistance village of the second township.
pub const KEY_ASSISTANCE: &str = "150525101201";
pub const NEXT_COUNTY: &str = "150526000000";
pub const NEXT_VILLAGE: &str = "150526100201";

/// The roster as assessment sees it: three villages of the county, one next door, and a
/// secretary in each.
pub fn roster() -> StandInRoster {
    let r = StandInRoster::new();
    r.region(COUNTY, "奈曼旗", "")
        .region(TOWNSHIP, "大沁他拉镇", "")
        .region(TOWNSHIP_2, "八仙筒镇", "")
        .region(ORDINARY, "白音他拉嘎查", "ordinary")
        .region(DEMONSTRATION, "平安村", "demonstration")
        .region(KEY_ASSISTANCE, "新丰村", "key-assistance")
        .region(NEXT_COUNTY, "扎鲁特旗", "")
        .region(NEXT_VILLAGE, "查干哈达嘎查", "ordinary")
        .add("cadre-bateer", "巴特尔", ORDINARY, PostKind::PartySecretary)
        .add("cadre-wangfang", "王芳", DEMONSTRATION, PostKind::PartySecretary)
        .add("cadre-liqiang", "李强", KEY_ASSISTANCE, PostKind::PartySecretary)
        .add("cadre-next", "乌兰", NEXT_VILLAGE, PostKind::PartySecretary);
    r
}

pub struct Suite {
    pub node: TestNode,
    pub channel: Channel,
    pub roster: StandInRoster,
    pub county: String,
    pub neighbour: String,
    pub auditor: String,
    pub township_admin: String,
    _roster_db: TestDb,
}

pub async fn backends() -> Vec<TestDb> {
    TestDb::all(cadre_assessment::MIGRATIONS).await
}

pub async fn start(db: &TestDb) -> Suite {
    let roster_db = TestDb::sqlite(&[]).await;
    let roster = roster();
    let node = TestNode::start(&[(&roster, &roster_db), (&cadre_assessment::Assessment, db)]).await;
    let s = Suite {
        roster,
        channel: node.channel.clone(),
        county: node.token(&[Role::CountyAdmin], COUNTY),
        neighbour: node.token(&[Role::CountyAdmin], NEXT_COUNTY),
        auditor: node.token(&[Role::Auditor], COUNTY),
        township_admin: node.token(&[Role::TownshipAdmin], TOWNSHIP),
        node,
        _roster_db: roster_db,
    };
    s.copied(3, 3).await;
    s
}

impl Suite {
    pub async fn stop(self) {
        self.node.stop().await;
    }

    /// A `scoring_unit` token for `subject` over the county.
    pub fn unit_token(&self, subject: &str) -> String {
        self.node.token_for(subject, &[Role::ScoringUnit], COUNTY)
    }

    /// Waits (at most 15 s) until assessment's copy of the roster holds `villages` of the
    /// county and `secretaries` secretaries there.
    pub async fn copied(&self, villages: i64, secretaries: i64) {
        let started = Instant::now();
        loop {
            let count = |sql: &'static str| async move {
                let row = sqlx::query(sql).fetch_one(self.node.db("assessment").pool()).await.unwrap();
                sqlx::Row::get::<i64, _>(&row, 0)
            };
            let v = count("SELECT COUNT(*) FROM assessment_roster_villages WHERE code LIKE '150525%' AND code NOT LIKE '%000'").await;
            let s =
                count("SELECT COUNT(*) FROM assessment_roster_secretaries WHERE village_code LIKE '150525%'")
                    .await;
            if (v, s) == (villages, secretaries) {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(15), "copy has {v} villages, {s} secretaries");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn schemes(&self) -> SchemeServiceClient<Channel> {
        SchemeServiceClient::new(self.channel.clone())
    }
    pub fn units(&self) -> ScoringUnitServiceClient<Channel> {
        ScoringUnitServiceClient::new(self.channel.clone())
    }
    pub fn years(&self) -> YearServiceClient<Channel> {
        YearServiceClient::new(self.channel.clone())
    }
    pub fn sheets(&self) -> SheetServiceClient<Channel> {
        SheetServiceClient::new(self.channel.clone())
    }

    /// The county's units: an agency (subject `nmj`) and the two townships (`dqtl`, `bxt`).
    pub async fn units_of_county(&self) -> Units {
        let mut units = self.units();
        let mut create = async |name: &str, kind: pb::UnitKind, township: &str, subject: &str| {
            let unit = pb::ScoringUnit {
                county_code: COUNTY.into(),
                name: name.into(),
                kind: kind as i32,
                township_code: township.into(),
                subjects: vec![subject.into()],
                ..Default::default()
            };
            units
                .create_scoring_unit(req(&self.county, pb::CreateScoringUnitRequest { unit: Some(unit) }))
                .await
                .unwrap()
                .into_inner()
                .id
        };
        Units {
            agency: create("旗农牧局", pb::UnitKind::Agency, "", "nmj").await,
            township: create("大沁他拉镇", pb::UnitKind::Township, TOWNSHIP, "dqtl").await,
            township_2: create("八仙筒镇", pb::UnitKind::Township, TOWNSHIP_2, "bxt").await,
        }
    }

    /// The county's scheme for `year`: ordinary and key-assistance villages score A01
    /// (the agency, 6.0) and A02 (each village's township, 4.0); demonstration villages
    /// leave A02 out and score A01 out of 10.0.
    pub async fn scheme(&self, units: &Units, year: i32) -> pb::Scheme {
        self.schemes()
            .create_scheme(req(&self.county, pb::CreateSchemeRequest { scheme: Some(scheme(units, year)) }))
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn open(&self, year: i32) -> pb::AssessmentYear {
        let request = pb::MoveYearRequest { county_code: COUNTY.into(), year };
        self.years().open_scoring(req(&self.county, request)).await.unwrap().into_inner()
    }

    pub async fn submit(
        &self,
        token: &str,
        unit: &str,
        year: i32,
        scores: &[(&str, &str, i32)],
    ) -> Result<pb::Sheet, tonic::Status> {
        let request = pb::SubmitSheetRequest {
            county_code: COUNTY.into(),
            year,
            unit_id: unit.into(),
            scores: scores
                .iter()
                .map(|(v, i, p)| pb::Score {
                    village_code: v.to_string(),
                    indicator_code: i.to_string(),
                    points: *p,
                })
                .collect(),
        };
        self.sheets().submit_sheet(req(token, request)).await.map(|r| r.into_inner())
    }
}

pub struct Units {
    pub agency: String,
    pub township: String,
    pub township_2: String,
}

pub fn scheme(units: &Units, year: i32) -> pb::Scheme {
    let variants = ["ordinary", "demonstration", "key-assistance"]
        .into_iter()
        .map(|t| pb::Variant { village_type: t.into(), total_points: 100 })
        .collect();
    let a01 = pb::Indicator {
        code: "A01".into(),
        name: "落实“三会一课”制度".into(),
        max_points: 60,
        unit_id: units.agency.clone(),
        evidence: "会议记录".into(),
        variants: vec![pb::VariantRule {
            village_type: "demonstration".into(),
            excluded: false,
            max_points: 100,
        }],
        ..Default::default()
    };
    let a02 = pb::Indicator {
        code: "A02".into(),
        name: "村集体经济收入".into(),
        max_points: 40,
        by_township: true,
        evidence: "财务报表".into(),
        variants: vec![pb::VariantRule {
            village_type: "demonstration".into(),
            excluded: true,
            max_points: 0,
        }],
        ..Default::default()
    };
    pb::Scheme {
        county_code: COUNTY.into(),
        year,
        name: format!("{year} 年度村党组织书记考核"),
        variants,
        items: vec![pb::Item { name: "基层党建".into(), indicators: vec![a01, a02] }],
        ..Default::default()
    }
}

pub fn req<T>(token: &str, message: T) -> Request<T> {
    authorized(token, message)
}

pub fn keyed<T>(token: &str, key: &str, message: T) -> Request<T> {
    let mut r = authorized(token, message);
    r.metadata_mut().insert("idempotency-key", key.parse().unwrap());
    r
}
