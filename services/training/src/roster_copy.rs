//! Training's copy of the roster, kept by following the roster's change feed
//! (`kit::follow`) under training's own identity: the cadres (name, village, birth
//! month, education, posts held now) and region names that enrolment by list, and later
//! coverage, read without calling the roster. A dismissal ends the cadre's posts in the
//! roster; the posts' changes reach the cadre here within a poll or two, and a cadre
//! holding no post drops out of enrolment. If the roster is down the copy stays as it
//! was and catches up when it is back.

use std::collections::{BTreeMap, BTreeSet};

use cadre_kit::ApiError;
use cadre_kit::client::{PartChannel, PartClient};
use cadre_kit::db::{Db, WriteTx, to_micros};
use cadre_kit::follow::{FeedChange, FollowError, FollowSettings, Follower, ReadModel};
use cadre_kit::identity::ServiceIdentity;
use cadre_proto::roster::v1 as roster;
use cadre_proto::roster::v1::cadre_service_client::CadreServiceClient;
use cadre_proto::roster::v1::post_service_client::PostServiceClient;
use cadre_proto::roster::v1::region_service_client::RegionServiceClient;
use tonic::Status;

use crate::store::roster_copy::{self as store, CopiedCadre};

/// The name the follower's position is stored under.
pub const FEED: &str = "roster";
const BATCH: usize = 1000;
const POSTS_PAGE: i32 = 500;

/// The read model: what a page of the roster's feed changes in training's copy.
pub struct RosterCopy {
    db: Db,
}

/// What one page needs from the roster.
#[derive(Debug, Default)]
pub struct Fetched {
    cadres: Vec<roster::Cadre>,
    /// Cadres gone from training's view (removed, or moved out of its jurisdiction).
    missing: Vec<String>,
    regions: Vec<roster::Region>,
}

/// The follower of the roster's feed into training's database.
pub fn follower(
    client: PartClient,
    identity: ServiceIdentity,
    db: Db,
) -> Result<Follower<RosterCopy>, ApiError> {
    let settings = FollowSettings::default();
    Follower::new(FEED, "cadre.roster.v1", client, identity, db.clone(), RosterCopy { db }, settings)
}

/// Steps until the copy has every change the roster had when it began (the demo
/// seeding, and tests, start from a copy that is up to date).
pub async fn catch_up(follower: &Follower<RosterCopy>) -> Result<usize, FollowError> {
    let mut applied = 0;
    loop {
        match follower.step().await? {
            0 => return Ok(applied),
            n => applied += n,
        }
    }
}

impl RosterCopy {
    /// The holders of `posts` (post id, village) the copy does not know yet, from the
    /// roster's posts of their villages.
    async fn holders_from_roster(
        channel: &PartChannel,
        unknown: BTreeMap<String, BTreeSet<String>>,
    ) -> Result<Vec<String>, Status> {
        let mut holders = Vec::new();
        for (village, mut posts) in unknown {
            let mut page_token = String::new();
            loop {
                let request = roster::ListPostsRequest {
                    region_code: village.clone(),
                    include_ended: true,
                    page_size: POSTS_PAGE,
                    page_token,
                    ..Default::default()
                };
                let page = PostServiceClient::new(channel.clone()).list_posts(request).await?.into_inner();
                for p in page.posts {
                    if posts.remove(&p.id) {
                        holders.push(p.cadre_id);
                    }
                }
                if posts.is_empty() || page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
        }
        Ok(holders)
    }
}

impl RosterCopy {
    /// The cadres `ids` through BatchGetCadres, a thousand at a time.
    async fn cadres(channel: &PartChannel, ids: Vec<String>) -> Result<Fetched, Status> {
        let mut fetched = Fetched::default();
        for chunk in ids.chunks(BATCH) {
            let request = roster::BatchGetCadresRequest { ids: chunk.to_vec() };
            let page = CadreServiceClient::new(channel.clone()).batch_get_cadres(request).await?.into_inner();
            fetched.cadres.extend(page.cadres);
            fetched.missing.extend(page.missing);
        }
        Ok(fetched)
    }

    /// The regions the page changed, through BatchGetRegions.
    async fn regions(channel: &PartChannel, changes: &[FeedChange]) -> Result<Vec<roster::Region>, Status> {
        let codes: Vec<String> = changes
            .iter()
            .filter(|c| c.entity == roster::Entity::Region as i32)
            .map(|c| c.key.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut regions = Vec::new();
        for chunk in codes.chunks(BATCH) {
            let request = roster::BatchGetRegionsRequest { codes: chunk.to_vec() };
            let page =
                RegionServiceClient::new(channel.clone()).batch_get_regions(request).await?.into_inner();
            regions.extend(page.regions);
        }
        Ok(regions)
    }
}

fn copied(c: roster::Cadre) -> CopiedCadre {
    CopiedCadre {
        birth_month: c.birth_date.get(..7).unwrap_or_default().to_string(),
        education: i64::from(c.education),
        posts: c.current_posts.iter().map(|p| (p.id.clone(), p.kind)).collect(),
        revision: c.revision,
        id: c.id,
        region_code: c.region_code,
        name: c.name,
    }
}

impl ReadModel for RosterCopy {
    type Fetched = Fetched;

    async fn fetch(&self, channel: PartChannel, changes: &[FeedChange]) -> Result<Fetched, Status> {
        let of = |entity: roster::Entity| changes.iter().filter(move |c| c.entity == entity as i32);
        let mut wanted: BTreeSet<String> = of(roster::Entity::Cadre).map(|c| c.key.clone()).collect();
        // A post's change reaches its holder: known from the copy, or from the cadres
        // this page fetches anyway, or else asked of the roster by village.
        let posts: BTreeMap<String, String> =
            of(roster::Entity::Post).map(|c| (c.key.clone(), c.region_code.clone())).collect();
        if !posts.is_empty() {
            let ids: Vec<String> = posts.keys().cloned().collect();
            let mut conn = self.db.pool().acquire().await.map_err(|e| Status::internal(e.to_string()))?;
            let known = store::holders(&mut conn, &ids).await.map_err(|e| Status::internal(e.to_string()))?;
            drop(conn);
            let known_posts: BTreeSet<String> = known.iter().map(|(p, _)| p.clone()).collect();
            wanted.extend(known.into_iter().map(|(_, cadre)| cadre));
            let mut fetched = Self::cadres(&channel, wanted.iter().cloned().collect()).await?;
            let held: BTreeSet<&str> =
                fetched.cadres.iter().flat_map(|c| c.current_posts.iter().map(|p| p.id.as_str())).collect();
            let mut unknown: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for (post, village) in &posts {
                if !known_posts.contains(post) && !held.contains(post.as_str()) {
                    unknown.entry(village.clone()).or_default().insert(post.clone());
                }
            }
            let more: Vec<String> = Self::holders_from_roster(&channel, unknown)
                .await?
                .into_iter()
                .filter(|id| !wanted.contains(id))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let extra = Self::cadres(&channel, more).await?;
            fetched.cadres.extend(extra.cadres);
            fetched.missing.extend(extra.missing);
            fetched.regions = Self::regions(&channel, changes).await?;
            return Ok(fetched);
        }
        let mut fetched = Self::cadres(&channel, wanted.into_iter().collect()).await?;
        fetched.regions = Self::regions(&channel, changes).await?;
        Ok(fetched)
    }

    async fn apply(
        &self,
        tx: &mut WriteTx,
        _changes: &[FeedChange],
        fetched: Fetched,
    ) -> Result<(), ApiError> {
        let now = to_micros(tx.now());
        for c in fetched.cadres {
            store::put_cadre(tx.conn(), &copied(c), now).await?;
        }
        for id in fetched.missing {
            store::remove_cadre(tx.conn(), &id).await?;
        }
        for r in fetched.regions {
            store::put_region(tx.conn(), &r.code, &r.name, r.revision).await?;
        }
        Ok(())
    }
}
