//! Loading the demo county through the service's own API (the same validation,
//! audit and idempotency as any caller), with progress for the person waiting.

use cadre_kit::{ApiError, Principal, RegionCode, Role};
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::cadre_service_server::CadreService;
use cadre_proto::roster::v1::post_service_server::PostService;
use cadre_proto::roster::v1::region_service_server::RegionService;
use tonic::Request;
use tonic::Status;

use crate::RosterApi;
use crate::demo::DemoCounty;
use crate::domain::dates;

/// The principal that seeds: a province administrator of the demo's province.
pub fn seeder(province: &str) -> Result<Principal, ApiError> {
    Ok(Principal {
        subject: "system:demo-seed".into(),
        roles: [Role::ProvinceAdmin].into(),
        jurisdiction: RegionCode::parse(province).map_err(|e| ApiError::invalid("province", e))?,
    })
}

fn as_caller<T>(principal: &Principal, message: T) -> Request<T> {
    let mut req = Request::new(message);
    req.extensions_mut().insert(principal.clone());
    req
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Seeded {
    pub regions: usize,
    pub cadres: usize,
    pub posts: usize,
}

/// Whether the roster holds no region yet (first start).
pub async fn is_empty(api: &RosterApi) -> Result<bool, sqlx::Error> {
    use sqlx::Row;
    let n: i64 =
        sqlx::query("SELECT COUNT(*) FROM roster_regions").fetch_one(api.db().pool()).await?.try_get(0)?;
    Ok(n == 0)
}

/// Stores the demo county; `progress(done, total)` is called as cadres land.
pub async fn load(
    api: &RosterApi,
    demo: DemoCounty,
    mut progress: impl FnMut(usize, usize),
) -> Result<Seeded, Status> {
    let province = demo.regions.first().map(|r| r.code.clone()).unwrap_or_default();
    let who = seeder(&province)?;
    let regions = demo.regions.len();
    api.upsert_regions(as_caller(&who, pb::UpsertRegionsRequest { regions: demo.regions })).await?;
    let total = demo.cadres.len();
    let mut posts = 0;
    for (i, c) in demo.cadres.into_iter().enumerate() {
        let village = c.cadre.region_code.clone();
        let created = api
            .create_cadre(as_caller(&who, pb::CreateCadreRequest { cadre: Some(c.cadre) }))
            .await?
            .into_inner();
        for p in c.posts {
            api.appoint_post(as_caller(
                &who,
                pb::AppointPostRequest {
                    cadre_id: created.id.clone(),
                    region_code: village.clone(),
                    kind: p.kind as i32,
                    term: p.term,
                    start_date: dates::format(p.start_date),
                },
            ))
            .await?;
            posts += 1;
        }
        progress(i + 1, total);
    }
    Ok(Seeded { regions, cadres: total, posts })
}
