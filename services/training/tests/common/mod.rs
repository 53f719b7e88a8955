//! What training's tests start from: training on port 0 beside a stand-in roster (a
//! part named "roster" serving the few roster calls training makes, behind the kit's
//! same token and permission layer), so these tests build without the roster's crate;
//! the suite's own tests run training against the real roster.
#![allow(dead_code)]

use cadre_kit::Role;
use cadre_kit::call::Call;
use cadre_kit::db::Migration;
use cadre_kit::part::{BoxFuture, OpenPart, Part, PartContext, PartError};
use cadre_kit::server::GrpcHost;
use cadre_kit::testing::{TestDb, TestNode, authorized};
use cadre_proto::roster::v1 as rpb;
use cadre_proto::roster::v1::cadre_service_server::{CadreService, CadreServiceServer};
use cadre_proto::roster::v1::region_service_server::{RegionService, RegionServiceServer};
use cadre_proto::training::v1 as pb;
use cadre_proto::training::v1::catalogue_service_client::CatalogueServiceClient;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

pub const COUNTY: &str = "150525000000";
pub const TOWNSHIP: &str = "150525100000";
pub const VILLAGE: &str = "150525100201";
pub const NEXT_COUNTY: &str = "150526000000";
pub const NEXT_VILLAGE: &str = "150526100201";
pub const CADRE: &str = "cadre-bateer";
pub const NEXT_CADRE: &str = "cadre-next-door";

/// The roster as training sees it: two villages, two cadres, answered only within the
/// caller's jurisdiction (as the real roster does).
#[derive(Clone)]
pub struct StandInRoster;

const REGIONS: [(&str, &str); 5] = [
    (COUNTY, "奈曼旗"),
    (TOWNSHIP, "大沁他拉镇"),
    (VILLAGE, "白音他拉嘎查"),
    (NEXT_COUNTY, "扎鲁特旗"),
    (NEXT_VILLAGE, "新村"),
];
const CADRES: [(&str, &str, &str); 2] = [(CADRE, "巴特尔", VILLAGE), (NEXT_CADRE, "王芳", NEXT_VILLAGE)];

impl Part for StandInRoster {
    fn name(&self) -> &'static str {
        "roster"
    }
    fn about(&self) -> &'static str {
        "a stand-in for the roster in training's tests"
    }
    fn package(&self) -> &'static str {
        "cadre.roster.v1"
    }
    fn migrations(&self) -> &'static [Migration] {
        &[]
    }
    fn open(&self, _: PartContext) -> BoxFuture<'_, Result<Box<dyn OpenPart>, PartError>> {
        Box::pin(async { Ok(Box::new(StandInRoster) as Box<dyn OpenPart>) })
    }
}

impl OpenPart for StandInRoster {
    fn register(&self, host: &mut GrpcHost) {
        host.add(CadreServiceServer::new(self.clone())).add(RegionServiceServer::new(self.clone()));
    }
}

fn unused() -> Status {
    Status::unimplemented("not in the stand-in roster")
}

#[tonic::async_trait]
impl CadreService for StandInRoster {
    async fn batch_get_cadres(
        &self,
        request: Request<rpb::BatchGetCadresRequest>,
    ) -> Result<Response<rpb::BatchGetCadresResponse>, Status> {
        let call = Call::of(&request)?;
        let mut out = rpb::BatchGetCadresResponse::default();
        for id in &request.get_ref().ids {
            match CADRES.iter().find(|(c, _, v)| c == id && call.principal().jurisdiction.covers_str(v)) {
                Some((id, name, village)) => out.cadres.push(rpb::Cadre {
                    id: id.to_string(),
                    name: name.to_string(),
                    region_code: village.to_string(),
                    ..Default::default()
                }),
                None => out.missing.push(id.clone()),
            }
        }
        Ok(Response::new(out))
    }
    async fn create_cadre(
        &self,
        _: Request<rpb::CreateCadreRequest>,
    ) -> Result<Response<rpb::Cadre>, Status> {
        Err(unused())
    }
    async fn update_cadre(
        &self,
        _: Request<rpb::UpdateCadreRequest>,
    ) -> Result<Response<rpb::Cadre>, Status> {
        Err(unused())
    }
    async fn get_cadre(&self, _: Request<rpb::GetCadreRequest>) -> Result<Response<rpb::Cadre>, Status> {
        Err(unused())
    }
    async fn list_cadres(
        &self,
        _: Request<rpb::ListCadresRequest>,
    ) -> Result<Response<rpb::ListCadresResponse>, Status> {
        Err(unused())
    }
    async fn lookup_cadre(
        &self,
        _: Request<rpb::LookupCadreRequest>,
    ) -> Result<Response<rpb::Cadre>, Status> {
        Err(unused())
    }
}

#[tonic::async_trait]
impl RegionService for StandInRoster {
    async fn batch_get_regions(
        &self,
        request: Request<rpb::BatchGetRegionsRequest>,
    ) -> Result<Response<rpb::BatchGetRegionsResponse>, Status> {
        let call = Call::of(&request)?;
        let mut out = rpb::BatchGetRegionsResponse::default();
        for code in &request.get_ref().codes {
            match REGIONS.iter().find(|(c, _)| c == code && call.principal().jurisdiction.covers_str(c)) {
                Some((code, name)) => out.regions.push(rpb::Region {
                    code: code.to_string(),
                    name: name.to_string(),
                    ..Default::default()
                }),
                None => out.missing.push(code.clone()),
            }
        }
        Ok(Response::new(out))
    }
    async fn upsert_regions(
        &self,
        _: Request<rpb::UpsertRegionsRequest>,
    ) -> Result<Response<rpb::UpsertRegionsResponse>, Status> {
        Err(unused())
    }
    async fn get_region(&self, _: Request<rpb::GetRegionRequest>) -> Result<Response<rpb::Region>, Status> {
        Err(unused())
    }
    async fn list_child_regions(
        &self,
        _: Request<rpb::ListChildRegionsRequest>,
    ) -> Result<Response<rpb::ListChildRegionsResponse>, Status> {
        Err(unused())
    }
    async fn search_regions(
        &self,
        _: Request<rpb::SearchRegionsRequest>,
    ) -> Result<Response<rpb::SearchRegionsResponse>, Status> {
        Err(unused())
    }
}

/// Training and the stand-in roster on one port; tokens for the callers of a scenario.
pub struct Suite {
    pub node: TestNode,
    pub channel: Channel,
    pub county: String,
    pub township: String,
    pub village: String,
    pub neighbour: String,
    pub city: String,
    _roster_db: TestDb,
}

/// Fresh databases on every backend configured (SQLite always).
pub async fn backends() -> Vec<TestDb> {
    TestDb::all(cadre_training::MIGRATIONS).await
}

pub async fn start(db: &TestDb) -> Suite {
    let roster_db = TestDb::sqlite(&[]).await;
    let node = TestNode::start(&[(&StandInRoster, &roster_db), (&cadre_training::Training, db)]).await;
    Suite {
        channel: node.channel.clone(),
        county: node.token(&[Role::CountyAdmin], COUNTY),
        township: node.token(&[Role::TownshipAdmin], TOWNSHIP),
        village: node.token(&[Role::TownshipAdmin], TOWNSHIP),
        neighbour: node.token(&[Role::CountyAdmin], NEXT_COUNTY),
        city: node.token(&[Role::CityAdmin], "150500000000"),
        node,
        _roster_db: roster_db,
    }
}

impl Suite {
    pub async fn stop(self) {
        self.node.stop().await;
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

pub fn course(title: &str, topic: pb::Topic, hours: f64) -> pb::Course {
    pb::Course {
        title: title.into(),
        topic: topic as i32,
        mode: pb::CourseMode::Offline as i32,
        credit_hours: hours,
        level: pb::OrganiserLevel::County as i32,
        owner_region_code: COUNTY.into(),
        ..Default::default()
    }
}

/// The county's catalogue and its menu for `year`: returns the course ids.
pub async fn menu(s: &Suite, year: i32, courses: &[pb::Course]) -> Vec<String> {
    let mut catalogue = CatalogueServiceClient::new(s.channel.clone());
    let mut ids = Vec::new();
    for c in courses {
        let created = catalogue
            .create_course(req(&s.county, pb::CreateCourseRequest { course: Some(c.clone()) }))
            .await
            .unwrap()
            .into_inner();
        ids.push(created.id);
    }
    let menu = pb::Menu { county_code: COUNTY.into(), year, course_ids: ids.clone(), ..Default::default() };
    catalogue.set_menu(req(&s.county, pb::SetMenuRequest { menu: Some(menu) })).await.unwrap();
    ids
}
