//! Loading the demo county through the service's own API (the same validation,
//! audit and idempotency as any caller), with progress for the person waiting.

use cadre_kit::{ApiError, Principal, RegionCode, Role};
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::cadre_service_server::{CadreService, CadreServiceServer};
use cadre_proto::roster::v1::post_service_server::{PostService, PostServiceServer};
use cadre_proto::roster::v1::region_service_server::{RegionService, RegionServiceServer};
use cadre_proto::roster::v1::reserve_service_server::{ReserveService, ReserveServiceServer};
use futures::StreamExt;
use tonic::Request;
use tonic::Status;
use tonic::server::NamedService;

use crate::RosterApi;
use crate::demo::{DemoCounty, DemoReserve};
use crate::domain::dates;

/// The principal that seeds: a province administrator of the demo's province.
pub fn seeder(province: &str) -> Result<Principal, ApiError> {
    Ok(Principal {
        subject: "system:demo-seed".into(),
        roles: [Role::ProvinceAdmin].into(),
        jurisdiction: RegionCode::parse(province).map_err(|e| ApiError::invalid("province", e))?,
    })
}

/// A request to `S`'s `method` made in process, admitted as the kit admits calls over
/// the network (the seeder's permission is checked the same way).
fn as_caller<S: NamedService, T>(
    principal: &Principal,
    method: &str,
    message: T,
) -> Result<Request<T>, Status> {
    Ok(cadre_kit::call::local_request(principal, &format!("/{}/{method}", S::NAME), message)?)
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Seeded {
    pub regions: usize,
    pub cadres: usize,
    pub posts: usize,
    pub reserves: usize,
}

/// Whether the roster holds no region yet (first start).
pub async fn is_empty(api: &RosterApi) -> Result<bool, sqlx::Error> {
    Ok(!crate::store::has_regions(api.db()).await?)
}

/// Stores the demo county; `progress(done, total)` is called as cadres, then reserves
/// (created and moved through their steps), land.
pub async fn load(
    api: &RosterApi,
    demo: DemoCounty,
    mut progress: impl FnMut(usize, usize),
) -> Result<Seeded, Status> {
    let province = demo.regions.first().map(|r| r.code.clone()).unwrap_or_default();
    let who = seeder(&province)?;
    let regions = demo.regions.len();
    let request = pb::UpsertRegionsRequest { regions: demo.regions };
    api.upsert_regions(as_caller::<RegionServiceServer<RosterApi>, _>(&who, "UpsertRegions", request)?)
        .await?;
    let cadres = demo.cadres.len();
    let total = cadres + demo.reserves.len();
    let mut cadre_ids = Vec::with_capacity(cadres);
    let mut posts = 0;
    for (i, c) in demo.cadres.into_iter().enumerate() {
        let village = c.cadre.region_code.clone();
        let created = api
            .create_cadre(as_caller::<CadreServiceServer<RosterApi>, _>(
                &who,
                "CreateCadre",
                pb::CreateCadreRequest { cadre: Some(c.cadre) },
            )?)
            .await?
            .into_inner();
        for p in c.posts {
            api.appoint_post(as_caller::<PostServiceServer<RosterApi>, _>(
                &who,
                "AppointPost",
                pb::AppointPostRequest {
                    cadre_id: created.id.clone(),
                    region_code: village.clone(),
                    kind: p.kind as i32,
                    term: p.term,
                    start_date: dates::format(p.start_date),
                },
            )?)
            .await?;
            posts += 1;
        }
        cadre_ids.push(created.id);
        progress(i + 1, total);
    }
    // Reserves a few at a time: each is its own chain of calls, and the writes of one
    // overlap the reads of the next.
    let reserves = demo.reserves.len();
    let (who, cadre_ids) = (&who, &cadre_ids);
    let mut landing = futures::stream::iter(demo.reserves)
        .map(|r| seed_reserve(api, who, r, cadre_ids))
        .buffer_unordered(RESERVES_AT_ONCE);
    let mut done = cadres;
    while let Some(landed) = landing.next().await {
        landed?;
        done += 1;
        progress(done, total);
    }
    Ok(Seeded { regions, cadres, posts, reserves })
}

/// Reserves seeded at once.
const RESERVES_AT_ONCE: usize = 8;

/// Creates one reserve and moves it through its steps; an APPOINTED step links the
/// cadre it became (`cadre_ids` holds the created cadres' ids in demo order).
async fn seed_reserve(
    api: &RosterApi,
    who: &Principal,
    r: DemoReserve,
    cadre_ids: &[String],
) -> Result<(), Status> {
    let mut at = api
        .create_reserve(as_caller::<ReserveServiceServer<RosterApi>, _>(
            who,
            "CreateReserve",
            pb::CreateReserveRequest { reserve: Some(r.reserve) },
        )?)
        .await?
        .into_inner();
    for step in r.steps {
        let cadre_id = match (step.stage, r.cadre) {
            (pb::ReserveStage::Appointed, Some(c)) => cadre_ids.get(c).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        at = api
            .advance_reserve(as_caller::<ReserveServiceServer<RosterApi>, _>(
                who,
                "AdvanceReserve",
                pb::AdvanceReserveRequest {
                    id: at.id.clone(),
                    to_stage: step.stage as i32,
                    date: dates::format(step.date),
                    note: String::new(),
                    revision: at.revision,
                    cadre_id,
                },
            )?)
            .await?
            .into_inner();
    }
    Ok(())
}
