//! What training's tests start from: training on port 0 beside a stand-in roster (a
//! part named "roster" serving the few roster calls training makes and a change feed,
//! behind the kit's same token and permission layer), so these tests build without the
//! roster's crate; the suite's own tests run training against the real roster.
#![allow(dead_code)]

use cadre_kit::Role;
use cadre_kit::call::Call;
use cadre_kit::db::Migration;
use cadre_kit::part::{BoxFuture, OpenPart, Part, PartContext, PartError};
use cadre_kit::server::GrpcHost;
use cadre_kit::testing::{TestDb, TestNode, authorized};
use cadre_proto::roster::v1 as rpb;
use cadre_proto::roster::v1::cadre_service_server::{CadreService, CadreServiceServer};
use cadre_proto::roster::v1::change_service_server::{ChangeService, ChangeServiceServer};
use cadre_proto::roster::v1::post_service_server::{PostService, PostServiceServer};
use cadre_proto::roster::v1::region_service_server::{RegionService, RegionServiceServer};
use cadre_proto::training::v1 as pb;
use cadre_proto::training::v1::catalogue_service_client::CatalogueServiceClient;
use std::sync::{Arc, Mutex};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

pub const COUNTY: &str = "150525000000";
pub const TOWNSHIP: &str = "150525100000";
pub const VILLAGE: &str = "150525100201";
pub const VILLAGE_2: &str = "150525100202";
pub const NEXT_COUNTY: &str = "150526000000";
pub const NEXT_VILLAGE: &str = "150526100201";
pub const CADRE: &str = "cadre-bateer";
pub const NEXT_CADRE: &str = "cadre-next-door";

/// The roster as training sees it: villages and cadres with the posts they hold,
/// answered only within the caller's jurisdiction (as the real roster does), and a
/// change feed a test can add to (a cadre appointed, dismissed) for training's copy.
#[derive(Clone, Default)]
pub struct StandInRoster {
    state: Arc<Mutex<RosterState>>,
}

#[derive(Default)]
struct RosterState {
    cadres: Vec<StandInCadre>,
    /// (entity, key, region) at position index + 1.
    feed: Vec<(rpb::Entity, String, String)>,
}

#[derive(Clone)]
struct StandInCadre {
    id: String,
    name: String,
    village: String,
    /// (post id, kind, ended)
    posts: Vec<(String, rpb::PostKind, bool)>,
}

const REGIONS: [(&str, &str); 6] = [
    (COUNTY, "奈曼旗"),
    (TOWNSHIP, "大沁他拉镇"),
    (VILLAGE, "白音他拉嘎查"),
    (VILLAGE_2, "平安村"),
    (NEXT_COUNTY, "扎鲁特旗"),
    (NEXT_VILLAGE, "新村"),
];

impl StandInRoster {
    /// The two cadres every test knows: 巴特尔 (a secretary here) and 王芳 next door.
    pub fn new() -> Self {
        let roster = Self::default();
        roster.add(CADRE, "巴特尔", VILLAGE, rpb::PostKind::PartySecretary);
        roster.add(NEXT_CADRE, "王芳", NEXT_VILLAGE, rpb::PostKind::PartySecretary);
        roster
    }

    /// A cadre appointed to a post in `village` (two changes in the feed).
    pub fn add(&self, id: &str, name: &str, village: &str, kind: rpb::PostKind) {
        let mut state = self.state.lock().unwrap();
        let post = format!("post-{id}");
        state.cadres.push(StandInCadre {
            id: id.into(),
            name: name.into(),
            village: village.into(),
            posts: vec![(post.clone(), kind, false)],
        });
        state.feed.push((rpb::Entity::Cadre, id.into(), village.into()));
        state.feed.push((rpb::Entity::Post, post, village.into()));
    }

    /// Another post for a cadre already here, made after training copied them: its
    /// change names only the post, as the real roster's does.
    pub fn appoint(&self, id: &str, kind: rpb::PostKind) {
        let mut state = self.state.lock().unwrap();
        let cadre = state.cadres.iter_mut().find(|c| c.id == id).expect("a stand-in cadre");
        let post = format!("post-{id}-{}", cadre.posts.len());
        cadre.posts.push((post.clone(), kind, false));
        let village = cadre.village.clone();
        state.feed.push((rpb::Entity::Post, post, village));
    }

    /// Dismissed (免职): every post ended, each a change of the post in the feed.
    pub fn dismiss(&self, id: &str) {
        let mut state = self.state.lock().unwrap();
        let cadre = state.cadres.iter_mut().find(|c| c.id == id).expect("a stand-in cadre");
        let village = cadre.village.clone();
        let mut ended = Vec::new();
        for (post, _, is_ended) in cadre.posts.iter_mut().filter(|p| !p.2) {
            *is_ended = true;
            ended.push(post.clone());
        }
        for post in ended {
            state.feed.push((rpb::Entity::Post, post, village.clone()));
        }
    }

    fn cadre_proto(c: &StandInCadre) -> rpb::Cadre {
        rpb::Cadre {
            id: c.id.clone(),
            name: c.name.clone(),
            region_code: c.village.clone(),
            birth_date: "1978-03-09".into(),
            education: rpb::Education::College as i32,
            current_posts: c
                .posts
                .iter()
                .filter(|p| !p.2)
                .map(|(id, kind, _)| rpb::Post {
                    id: id.clone(),
                    cadre_id: c.id.clone(),
                    region_code: c.village.clone(),
                    kind: *kind as i32,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }
}

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
        let me = self.clone();
        Box::pin(async move { Ok(Box::new(me) as Box<dyn OpenPart>) })
    }
}

impl OpenPart for StandInRoster {
    fn register(&self, host: &mut GrpcHost) {
        host.add(CadreServiceServer::new(self.clone()))
            .add(RegionServiceServer::new(self.clone()))
            .add(PostServiceServer::new(self.clone()))
            .add(ChangeServiceServer::new(self.clone()));
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
        let state = self.state.lock().unwrap();
        let mut out = rpb::BatchGetCadresResponse::default();
        for id in &request.get_ref().ids {
            match state
                .cadres
                .iter()
                .find(|c| c.id == *id && call.principal().jurisdiction.covers_str(&c.village))
            {
                Some(c) => out.cadres.push(Self::cadre_proto(c)),
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

#[tonic::async_trait]
impl PostService for StandInRoster {
    /// Every post (ended ones too) in villages under the region, in one page.
    async fn list_posts(
        &self,
        request: Request<rpb::ListPostsRequest>,
    ) -> Result<Response<rpb::ListPostsResponse>, Status> {
        let call = Call::of(&request)?;
        let prefix = request.get_ref().region_code.trim_end_matches('0').to_string();
        let state = self.state.lock().unwrap();
        let posts = state
            .cadres
            .iter()
            .filter(|c| {
                c.village.starts_with(&prefix) && call.principal().jurisdiction.covers_str(&c.village)
            })
            .flat_map(|c| {
                c.posts.iter().map(|(id, kind, _)| rpb::Post {
                    id: id.clone(),
                    cadre_id: c.id.clone(),
                    region_code: c.village.clone(),
                    kind: *kind as i32,
                    ..Default::default()
                })
            })
            .collect();
        Ok(Response::new(rpb::ListPostsResponse { posts, next_page_token: String::new() }))
    }
    async fn appoint_post(&self, _: Request<rpb::AppointPostRequest>) -> Result<Response<rpb::Post>, Status> {
        Err(unused())
    }
    async fn end_post(&self, _: Request<rpb::EndPostRequest>) -> Result<Response<rpb::Post>, Status> {
        Err(unused())
    }
    async fn list_vacancies(
        &self,
        _: Request<rpb::ListVacanciesRequest>,
    ) -> Result<Response<rpb::ListVacanciesResponse>, Status> {
        Err(unused())
    }
    async fn list_one_shoulder(
        &self,
        _: Request<rpb::ListOneShoulderRequest>,
    ) -> Result<Response<rpb::ListOneShoulderResponse>, Status> {
        Err(unused())
    }
}

#[tonic::async_trait]
impl ChangeService for StandInRoster {
    /// The feed as the real roster pages it: the caller's jurisdiction only.
    async fn list_changes(
        &self,
        request: Request<cadre_proto::changes::v1::ListChangesRequest>,
    ) -> Result<Response<rpb::ListChangesResponse>, Status> {
        let call = Call::of(&request)?;
        let (after, size) = (request.get_ref().after_position, request.get_ref().page_size.max(1) as usize);
        let state = self.state.lock().unwrap();
        let head = state.feed.len() as i64;
        let changes: Vec<rpb::Change> = state
            .feed
            .iter()
            .enumerate()
            .map(|(i, (entity, key, region))| (i as i64 + 1, entity, key, region))
            .filter(|(p, _, _, region)| *p > after && call.principal().jurisdiction.covers_str(region))
            .take(size)
            .map(|(position, entity, key, region)| rpb::Change {
                position,
                entity: *entity as i32,
                key: key.clone(),
                operation: cadre_proto::changes::v1::Operation::Updated as i32,
                region_code: region.clone(),
                ..Default::default()
            })
            .collect();
        let next_after_position =
            if changes.len() == size { changes[size - 1].position } else { head.max(after) };
        Ok(Response::new(rpb::ListChangesResponse { changes, next_after_position, head_position: head }))
    }

    type WatchChangesStream =
        std::pin::Pin<Box<dyn futures::Stream<Item = Result<rpb::Change, Status>> + Send + 'static>>;

    async fn watch_changes(
        &self,
        _: Request<cadre_proto::changes::v1::WatchChangesRequest>,
    ) -> Result<Response<Self::WatchChangesStream>, Status> {
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
    /// The roster training calls and follows: a test appoints and dismisses here.
    pub roster: StandInRoster,
    _roster_db: TestDb,
}

/// Fresh databases on every backend configured (SQLite always).
pub async fn backends() -> Vec<TestDb> {
    TestDb::all(cadre_training::MIGRATIONS).await
}

pub async fn start(db: &TestDb) -> Suite {
    let roster_db = TestDb::sqlite(&[]).await;
    let roster = StandInRoster::new();
    let node = TestNode::start(&[(&roster, &roster_db), (&cadre_training::Training, db)]).await;
    Suite {
        roster,
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

    /// Waits (at most 15 s) until training's copy of the roster has `cadre_id` holding
    /// `posts` kinds of post (0: dismissed), as its follower applies the feed; returns
    /// how long it took.
    pub async fn copied(&self, cadre_id: &str, posts: usize) -> std::time::Duration {
        let started = std::time::Instant::now();
        loop {
            let row = sqlx::query("SELECT post_kinds FROM training_roster_cadres WHERE id = $1")
                .bind(cadre_id.to_string())
                .fetch_optional(self.node.db("training").pool())
                .await
                .unwrap();
            let kinds: Option<String> = row.map(|r| sqlx::Row::get(&r, 0));
            if kinds.is_some_and(|k| k.split(',').filter(|p| !p.is_empty()).count() == posts) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(15),
                "{cadre_id} never copied with {posts} posts"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// A sitting around now in China Standard Time (sign-in open): today, from an hour ago
/// to an hour ahead within the day. Near midnight it waits for the new day.
pub async fn sitting_now(place: &str) -> pb::Sitting {
    use chrono::Timelike;
    let local = |now: chrono::DateTime<chrono::Utc>| (now + chrono::Duration::hours(8)).naive_utc();
    let mut now = local(chrono::Utc::now());
    if now.hour() == 23 && now.minute() >= 55 {
        let wait = (60 - now.minute()) as u64 * 60 - now.second() as u64 + 2;
        tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
        now = local(chrono::Utc::now());
    }
    let start = now.time().overflowing_sub_signed(chrono::Duration::hours(1));
    let start = if start.1 != 0 { chrono::NaiveTime::MIN } else { start.0 };
    let end = now.time().overflowing_add_signed(chrono::Duration::hours(1));
    let end = if end.1 != 0 { chrono::NaiveTime::from_hms_opt(23, 59, 0).unwrap() } else { end.0 };
    pb::Sitting {
        date: now.date().format("%Y-%m-%d").to_string(),
        start_time: start.format("%H:%M").to_string(),
        end_time: end.format("%H:%M").to_string(),
        place: place.into(),
        ..Default::default()
    }
}

/// The day `days` from today in China Standard Time ("YYYY-MM-DD"; negative: past).
pub fn day(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(8) + chrono::Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

/// A sitting on `date` (past or future: sign-in is closed).
pub fn sitting(date: &str, start: &str, end: &str) -> pb::Sitting {
    pb::Sitting {
        date: date.into(),
        start_time: start.into(),
        end_time: end.into(),
        place: "旗委党校".into(),
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
