//! Assessment's copy of the roster, kept by following the roster's change feed
//! (`kit::follow`) under assessment's own identity: villages (name, type), townships
//! (name), and who holds
//! each village's Party secretary post now. Opening a year's scoring freezes the county's
//! villages from this copy, so that scoring never waits on the roster and a later move in
//! the roster does not change who is assessed where. A change of a cadre or a post
//! refreshes the secretaries of the villages it touched (where it is now and where it
//! was), one ListPosts per township; a region's change refetches the region.

use std::collections::{BTreeMap, BTreeSet};

use cadre_kit::client::{PartChannel, PartClient};
use cadre_kit::db::{Db, WriteTx};
use cadre_kit::follow::{FeedChange, FollowError, FollowSettings, Follower, ReadModel};
use cadre_kit::identity::ServiceIdentity;
use cadre_kit::{ApiError, RegionCode, RegionLevel};
use cadre_proto::roster::v1 as roster;
use cadre_proto::roster::v1::post_service_client::PostServiceClient;
use cadre_proto::roster::v1::region_service_client::RegionServiceClient;
use tonic::Status;

use crate::store::roster_copy::{self as store, CopiedVillage};

/// The name the follower's position is stored under.
pub const FEED: &str = "roster";
const BATCH: usize = 1000;
const POSTS_PAGE: i32 = 500;

/// The read model: what a page of the roster's feed changes in assessment's copy.
pub struct RosterCopy;

/// What one page needs from the roster.
#[derive(Debug, Default)]
pub struct Fetched {
    villages: Vec<roster::Region>,
    gone: Vec<String>,
    /// Villages whose secretaries were asked, and who holds the post in each.
    refreshed: Vec<String>,
    secretaries: Vec<(String, String, String)>,
}

pub fn follower(
    client: PartClient,
    identity: ServiceIdentity,
    db: Db,
) -> Result<Follower<RosterCopy>, ApiError> {
    Follower::new(FEED, "cadre.roster.v1", client, identity, db, RosterCopy, FollowSettings::default())
}

/// Steps until the copy has every change the roster had when it began.
pub async fn catch_up(follower: &Follower<RosterCopy>) -> Result<usize, FollowError> {
    let mut applied = 0;
    loop {
        match follower.step().await? {
            0 => return Ok(applied),
            n => applied += n,
        }
    }
}

fn village(code: &str) -> Option<RegionCode> {
    RegionCode::parse(code).ok().filter(|r| r.level() == RegionLevel::Village)
}

/// Villages and townships: the copy keeps townships' names for the units named after them.
fn kept(code: &str) -> bool {
    RegionCode::parse(code).is_ok_and(|r| matches!(r.level(), RegionLevel::Village | RegionLevel::Township))
}

impl RosterCopy {
    async fn regions(channel: &PartChannel, codes: Vec<String>, fetched: &mut Fetched) -> Result<(), Status> {
        for chunk in codes.chunks(BATCH) {
            let request = roster::BatchGetRegionsRequest { codes: chunk.to_vec() };
            let page =
                RegionServiceClient::new(channel.clone()).batch_get_regions(request).await?.into_inner();
            fetched.villages.extend(page.regions);
            fetched.gone.extend(page.missing);
        }
        Ok(())
    }

    /// The secretaries of `villages`, asked township by township.
    async fn secretaries(
        channel: &PartChannel,
        villages: BTreeSet<String>,
        fetched: &mut Fetched,
    ) -> Result<(), Status> {
        let mut by_township: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for v in villages {
            if let Some(t) = village(&v).and_then(|r| r.parent()) {
                by_township.entry(t.to_string()).or_default().insert(v);
            }
        }
        for (township, villages) in by_township {
            let mut page_token = String::new();
            loop {
                let request = roster::ListPostsRequest {
                    region_code: township.clone(),
                    kind: roster::PostKind::PartySecretary as i32,
                    page_size: POSTS_PAGE,
                    page_token,
                    ..Default::default()
                };
                let page = PostServiceClient::new(channel.clone()).list_posts(request).await?.into_inner();
                for p in page
                    .posts
                    .into_iter()
                    .filter(|p| villages.contains(&p.region_code) && p.end_date.is_empty())
                {
                    fetched.secretaries.push((p.region_code, p.cadre_id, p.cadre_name));
                }
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            fetched.refreshed.extend(villages);
        }
        Ok(())
    }
}

impl ReadModel for RosterCopy {
    type Fetched = Fetched;

    async fn fetch(&self, channel: PartChannel, changes: &[FeedChange]) -> Result<Fetched, Status> {
        let mut fetched = Fetched::default();
        let regions: BTreeSet<String> = changes
            .iter()
            .filter(|c| c.entity == roster::Entity::Region as i32 && kept(&c.key))
            .map(|c| c.key.clone())
            .collect();
        Self::regions(&channel, regions.into_iter().collect(), &mut fetched).await?;
        let people = [roster::Entity::Cadre as i32, roster::Entity::Post as i32];
        let touched: BTreeSet<String> = changes
            .iter()
            .filter(|c| people.contains(&c.entity))
            .flat_map(|c| [c.region_code.clone(), c.previous_region_code.clone()])
            .filter(|code| village(code).is_some())
            .collect();
        Self::secretaries(&channel, touched, &mut fetched).await?;
        Ok(fetched)
    }

    async fn apply(
        &self,
        tx: &mut WriteTx,
        _changes: &[FeedChange],
        fetched: Fetched,
    ) -> Result<(), ApiError> {
        for r in fetched.villages {
            let v = CopiedVillage {
                code: r.code,
                name: r.name,
                village_type: r.village_type,
                revision: r.revision,
            };
            store::put_village(tx.conn(), &v).await?;
        }
        for code in fetched.gone {
            store::remove_village(tx.conn(), &code).await?;
        }
        store::put_secretaries(tx.conn(), &fetched.refreshed, &fetched.secretaries).await?;
        Ok(())
    }
}
