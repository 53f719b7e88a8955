//! A stand-in for the roster, for tests of the parts that call or follow it (training,
//! assessment): a part named "roster" serving the roster's batch reads (cadres, regions),
//! posts and change feed behind the kit's same token and permission layer, answering
//! only within the caller's jurisdiction as the real roster does. A test builds the
//! regions and cadres it needs and changes them (appoint, dismiss, move); each change
//! lands in the stand-in's feed as the real roster's would.

use std::sync::{Arc, Mutex};

use cadre_proto::changes::v1 as cpb;
use cadre_proto::roster::v1 as rpb;
use cadre_proto::roster::v1::cadre_service_server::{CadreService, CadreServiceServer};
use cadre_proto::roster::v1::change_service_server::{ChangeService, ChangeServiceServer};
use cadre_proto::roster::v1::post_service_server::{PostService, PostServiceServer};
use cadre_proto::roster::v1::region_service_server::{RegionService, RegionServiceServer};
use tonic::{Request, Response, Status};

use crate::call::Call;
use crate::db::Migration;
use crate::part::{BoxFuture, OpenPart, Part, PartContext, PartError};
use crate::server::GrpcHost;

/// The stand-in; clones share one state.
#[derive(Clone, Default)]
pub struct StandInRoster {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    regions: Vec<rpb::Region>,
    cadres: Vec<Cadre>,
    /// (entity, key, region, previous region) at position index + 1.
    feed: Vec<(rpb::Entity, String, String, String)>,
}

#[derive(Clone)]
struct Cadre {
    id: String,
    name: String,
    village: String,
    /// (post id, village, kind, ended)
    posts: Vec<(String, String, rpb::PostKind, bool)>,
}

impl StandInRoster {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("the stand-in roster's state")
    }

    /// A region (a village when `village_type` is given), created or changed.
    pub fn region(&self, code: &str, name: &str, village_type: &str) -> &Self {
        let mut state = self.lock();
        let region = rpb::Region {
            code: code.into(),
            name: name.into(),
            village_type: village_type.into(),
            revision: 1,
            ..Default::default()
        };
        match state.regions.iter_mut().find(|r| r.code == code) {
            Some(r) => {
                *r = rpb::Region { revision: r.revision + 1, ..region };
            }
            None => state.regions.push(region),
        }
        state.feed.push((rpb::Entity::Region, code.into(), code.into(), String::new()));
        self
    }

    /// A cadre appointed to a post in `village` (two changes in the feed).
    pub fn add(&self, id: &str, name: &str, village: &str, kind: rpb::PostKind) -> &Self {
        let mut state = self.lock();
        let post = format!("post-{id}");
        state.cadres.push(Cadre {
            id: id.into(),
            name: name.into(),
            village: village.into(),
            posts: vec![(post.clone(), village.into(), kind, false)],
        });
        state.feed.push((rpb::Entity::Cadre, id.into(), village.into(), String::new()));
        state.feed.push((rpb::Entity::Post, post, village.into(), String::new()));
        self
    }

    /// Another post for a cadre already here: its change names only the post.
    pub fn appoint(&self, id: &str, kind: rpb::PostKind) {
        let mut state = self.lock();
        let cadre = state.cadres.iter_mut().find(|c| c.id == id).expect("a stand-in cadre");
        let post = format!("post-{id}-{}", cadre.posts.len());
        let village = cadre.village.clone();
        cadre.posts.push((post.clone(), village.clone(), kind, false));
        state.feed.push((rpb::Entity::Post, post, village, String::new()));
    }

    /// Dismissed (免职): every post ended, each a change of the post in the feed.
    pub fn dismiss(&self, id: &str) {
        let mut state = self.lock();
        let cadre = state.cadres.iter_mut().find(|c| c.id == id).expect("a stand-in cadre");
        let mut ended = Vec::new();
        for (post, village, _, is_ended) in cadre.posts.iter_mut().filter(|p| !p.3) {
            *is_ended = true;
            ended.push((post.clone(), village.clone()));
        }
        for (post, village) in ended {
            state.feed.push((rpb::Entity::Post, post, village, String::new()));
        }
    }

    /// Transferred to `village` holding the same kinds of post there: the old posts end,
    /// new ones start, and the cadre's change names the village left.
    pub fn move_to(&self, id: &str, village: &str) {
        let mut state = self.lock();
        let cadre = state.cadres.iter_mut().find(|c| c.id == id).expect("a stand-in cadre");
        let old = std::mem::replace(&mut cadre.village, village.to_string());
        let mut changes = vec![(rpb::Entity::Cadre, id.to_string(), village.to_string(), old.clone())];
        let held: Vec<rpb::PostKind> = cadre.posts.iter().filter(|p| !p.3).map(|p| p.2).collect();
        for (post, _, _, is_ended) in cadre.posts.iter_mut().filter(|p| !p.3) {
            *is_ended = true;
            changes.push((rpb::Entity::Post, post.clone(), old.clone(), String::new()));
        }
        for kind in held {
            let post = format!("post-{id}-{}", cadre.posts.len());
            cadre.posts.push((post.clone(), village.to_string(), kind, false));
            changes.push((rpb::Entity::Post, post, village.to_string(), String::new()));
        }
        state.feed.extend(changes);
    }

    fn cadre_proto(c: &Cadre) -> rpb::Cadre {
        rpb::Cadre {
            id: c.id.clone(),
            name: c.name.clone(),
            region_code: c.village.clone(),
            birth_date: "1978-03-09".into(),
            education: rpb::Education::College as i32,
            current_posts: c.posts.iter().filter(|p| !p.3).map(|p| Self::post_proto(c, p)).collect(),
            ..Default::default()
        }
    }

    fn post_proto(
        c: &Cadre,
        (id, village, kind, ended): &(String, String, rpb::PostKind, bool),
    ) -> rpb::Post {
        rpb::Post {
            id: id.clone(),
            cadre_id: c.id.clone(),
            region_code: village.clone(),
            kind: *kind as i32,
            term: 2021,
            start_date: "2021-05-01".into(),
            end_date: if *ended { "2026-01-01".into() } else { String::new() },
            cadre_name: c.name.clone(),
            ..Default::default()
        }
    }
}

impl Part for StandInRoster {
    fn name(&self) -> &'static str {
        "roster"
    }
    fn about(&self) -> &'static str {
        "a stand-in for the roster in tests"
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
        let state = self.lock();
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
        let state = self.lock();
        let mut out = rpb::BatchGetRegionsResponse::default();
        for code in &request.get_ref().codes {
            match state
                .regions
                .iter()
                .find(|r| r.code == *code && call.principal().jurisdiction.covers_str(code))
            {
                Some(r) => out.regions.push(r.clone()),
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
    /// Posts in villages under the region (held now, or every one with `include_ended`),
    /// of one kind or cadre when asked, in one page.
    async fn list_posts(
        &self,
        request: Request<rpb::ListPostsRequest>,
    ) -> Result<Response<rpb::ListPostsResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.get_ref();
        let prefix =
            crate::RegionCode::parse(&req.region_code).map(|r| r.prefix().to_string()).unwrap_or_default();
        let state = self.lock();
        let posts = state
            .cadres
            .iter()
            .filter(|c| req.cadre_id.is_empty() || c.id == req.cadre_id)
            .flat_map(|c| c.posts.iter().map(move |p| (c, p)))
            .filter(|(_, p)| {
                p.1.starts_with(&prefix)
                    && call.principal().jurisdiction.covers_str(&p.1)
                    && (req.include_ended || !p.3)
                    && (req.kind == 0 || req.kind == p.2 as i32)
            })
            .map(|(c, p)| Self::post_proto(c, p))
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
        request: Request<cpb::ListChangesRequest>,
    ) -> Result<Response<rpb::ListChangesResponse>, Status> {
        let call = Call::of(&request)?;
        let (after, size) = (request.get_ref().after_position, request.get_ref().page_size.max(1) as usize);
        let state = self.lock();
        let head = state.feed.len() as i64;
        let sees = |region: &str| call.principal().jurisdiction.covers_str(region);
        let changes: Vec<rpb::Change> = state
            .feed
            .iter()
            .enumerate()
            .map(|(i, change)| (i as i64 + 1, change))
            .filter(|(p, (_, _, region, previous))| *p > after && (sees(region) || sees(previous)))
            .take(size)
            .map(|(position, (entity, key, region, previous))| rpb::Change {
                position,
                entity: *entity as i32,
                key: key.clone(),
                operation: cpb::Operation::Updated as i32,
                region_code: region.clone(),
                previous_region_code: previous.clone(),
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
        _: Request<cpb::WatchChangesRequest>,
    ) -> Result<Response<Self::WatchChangesStream>, Status> {
        Err(unused())
    }
}
