//! SQL of mentoring, stationed work teams and sanctions. Same portable subset as the
//! rest of the store.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use cadre_kit::db::{Db, like_prefix};

use crate::domain::mentoring::Pairing;
use crate::domain::work_teams::Assignment;

use cadre_kit::sql::Sql;

use super::held_on;

use crate::domain::dates::parse_stored as date;

// ---------------------------------------------------------------- mentoring

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingRow {
    pub id: String,
    pub mentor_cadre_id: String,
    pub mentee_cadre_id: String,
    pub region_code: String,
    pub start_date: String,
    pub end_date: Option<String>,
    pub end_reason: String,
    pub growth_plan: String,
    pub revision: i64,
    /// Joined from the cadres; not stored.
    pub mentor_name: String,
    pub mentee_name: String,
}

impl PairingRow {
    /// The pairing as the rules see it; `None` if its stored dates do not parse.
    pub fn pairing(&self) -> Option<Pairing> {
        Some(Pairing {
            id: self.id.clone(),
            mentor_cadre_id: self.mentor_cadre_id.clone(),
            mentee_cadre_id: self.mentee_cadre_id.clone(),
            start: date(&self.start_date)?,
            end: match &self.end_date {
                Some(e) => Some(date(e)?),
                None => None,
            },
        })
    }
}

const PAIRING_SELECT: &str = "SELECT m.id, m.mentor_cadre_id, m.mentee_cadre_id, m.region_code, m.start_date, \
     m.end_date, m.end_reason, m.growth_plan, m.revision, mc.name, ec.name FROM roster_mentor_pairings m \
     JOIN roster_cadres mc ON mc.id = m.mentor_cadre_id JOIN roster_cadres ec ON ec.id = m.mentee_cadre_id";

fn pairing_row(r: &AnyRow) -> Result<PairingRow, sqlx::Error> {
    Ok(PairingRow {
        id: r.try_get(0)?,
        mentor_cadre_id: r.try_get(1)?,
        mentee_cadre_id: r.try_get(2)?,
        region_code: r.try_get(3)?,
        start_date: r.try_get(4)?,
        end_date: r.try_get(5)?,
        end_reason: r.try_get(6)?,
        growth_plan: r.try_get(7)?,
        revision: r.try_get(8)?,
        mentor_name: r.try_get(9)?,
        mentee_name: r.try_get(10)?,
    })
}

pub async fn insert_pairing(conn: &mut AnyConnection, p: &PairingRow, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO roster_mentor_pairings (id, mentor_cadre_id, mentee_cadre_id, region_code, start_date, \
         end_date, end_reason, growth_plan, revision, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
    )
    .bind(p.id.clone())
    .bind(p.mentor_cadre_id.clone())
    .bind(p.mentee_cadre_id.clone())
    .bind(p.region_code.clone())
    .bind(p.start_date.clone())
    .bind(p.end_date.clone())
    .bind(p.end_reason.clone())
    .bind(p.growth_plan.clone())
    .bind(p.revision)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get_pairing(conn: &mut AnyConnection, id: &str) -> Result<Option<PairingRow>, sqlx::Error> {
    let sql = format!("{PAIRING_SELECT} WHERE m.id = $1");
    sqlx::query(&sql).bind(id.to_string()).fetch_optional(conn).await?.as_ref().map(pairing_row).transpose()
}

/// Every pairing of one mentee, ended or not.
pub async fn pairings_of_mentee(
    conn: &mut AnyConnection,
    mentee: &str,
) -> Result<Vec<PairingRow>, sqlx::Error> {
    let sql = format!("{PAIRING_SELECT} WHERE m.mentee_cadre_id = $1 ORDER BY m.start_date, m.id");
    let rows = sqlx::query(&sql).bind(mentee.to_string()).fetch_all(conn).await?;
    rows.iter().map(pairing_row).collect()
}

pub async fn end_pairing(
    conn: &mut AnyConnection,
    id: &str,
    end: &str,
    reason: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE roster_mentor_pairings SET end_date = $2, end_reason = $3, revision = revision + 1, \
         updated_at = $4 WHERE id = $1",
    )
    .bind(id.to_string())
    .bind(end.to_string())
    .bind(reason.to_string())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes the plan if the stored revision is still `expected`; false if it moved.
pub async fn update_growth_plan(
    conn: &mut AnyConnection,
    id: &str,
    plan: &str,
    expected: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE roster_mentor_pairings SET growth_plan = $2, revision = revision + 1, updated_at = $3 \
         WHERE id = $1 AND revision = $4",
    )
    .bind(id.to_string())
    .bind(plan.to_string())
    .bind(now)
    .bind(expected)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Pairings of mentees under a region, in id order; `active_on` keeps those active then.
pub async fn list_pairings(
    db: &Db,
    prefix: &str,
    active_on: Option<&str>,
    after: &str,
    limit: i64,
) -> Result<Vec<PairingRow>, sqlx::Error> {
    let mut s = Sql::new(format!("{PAIRING_SELECT} WHERE m.region_code LIKE "));
    s.bind(like_prefix(prefix)).push(" ESCAPE '\\' AND m.id > ").bind(after);
    if let Some(day) = active_on {
        held_on(s.push(" AND"), "m", day);
    }
    s.push(" ORDER BY m.id LIMIT ").bind(limit);
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(pairing_row).collect()
}

/// Pairings active on `day` whose mentee holds or held a post under the region.
pub async fn active_pairings_of_post_holders(
    db: &Db,
    prefix: &str,
    day: &str,
) -> Result<Vec<Pairing>, sqlx::Error> {
    let mut s = Sql::new(format!("{PAIRING_SELECT} WHERE"));
    held_on(&mut s, "m", day)
        .push(" AND m.mentee_cadre_id IN (SELECT p.cadre_id FROM roster_posts p WHERE p.region_code LIKE ")
        .bind(like_prefix(prefix))
        .push(" ESCAPE '\\')");
    let rows = s.query().fetch_all(db.pool()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        if let Some(p) = pairing_row(r)?.pairing() {
            out.push(p);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- work teams

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRow {
    pub id: String,
    pub name: String,
    pub agency: String,
    pub leader_name: String,
    pub county_code: String,
    pub revision: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    pub id: String,
    pub team_id: String,
    pub name: String,
    pub agency: String,
    pub role: i64,
    /// Empty when the member is not on the roster.
    pub cadre_id: String,
    pub start_date: String,
    pub end_date: Option<String>,
    pub end_reason: String,
    pub revision: i64,
}

/// One period of a village's assignment to a team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamVillageRow {
    pub id: String,
    pub team_id: String,
    pub village_code: String,
    /// Joined from the regions; not stored here.
    pub village_name: String,
    pub village_type: String,
    pub start_date: String,
    /// `None` while the assignment is current.
    pub end_date: Option<String>,
    pub end_reason: String,
}

impl TeamVillageRow {
    /// The period as the rules see it; `None` if its stored dates do not parse.
    pub fn assignment(&self) -> Option<Assignment> {
        Some(Assignment {
            id: self.id.clone(),
            village_code: self.village_code.clone(),
            start: date(&self.start_date)?,
            end: match &self.end_date {
                Some(e) => Some(date(e)?),
                None => None,
            },
        })
    }
}

const TEAM_COLUMNS: &str = "t.id, t.name, t.agency, t.leader_name, t.county_code, t.revision";

fn team_row(r: &AnyRow) -> Result<TeamRow, sqlx::Error> {
    Ok(TeamRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        agency: r.try_get(2)?,
        leader_name: r.try_get(3)?,
        county_code: r.try_get(4)?,
        revision: r.try_get(5)?,
    })
}

const MEMBER_COLUMNS: &str =
    "id, team_id, name, agency, role, cadre_id, start_date, end_date, end_reason, revision";

fn member_row(r: &AnyRow) -> Result<MemberRow, sqlx::Error> {
    Ok(MemberRow {
        id: r.try_get(0)?,
        team_id: r.try_get(1)?,
        name: r.try_get(2)?,
        agency: r.try_get(3)?,
        role: r.try_get(4)?,
        cadre_id: r.try_get(5)?,
        start_date: r.try_get(6)?,
        end_date: r.try_get(7)?,
        end_reason: r.try_get(8)?,
        revision: r.try_get(9)?,
    })
}

const TEAM_VILLAGE_SELECT: &str = "SELECT v.id, v.team_id, v.village_code, r.name, v.village_type, \
     v.start_date, v.end_date, v.end_reason \
     FROM roster_work_team_villages v JOIN roster_regions r ON r.code = v.village_code";

fn team_village_row(r: &AnyRow) -> Result<TeamVillageRow, sqlx::Error> {
    Ok(TeamVillageRow {
        id: r.try_get(0)?,
        team_id: r.try_get(1)?,
        village_code: r.try_get(2)?,
        village_name: r.try_get(3)?,
        village_type: r.try_get(4)?,
        start_date: r.try_get(5)?,
        end_date: r.try_get(6)?,
        end_reason: r.try_get(7)?,
    })
}

pub async fn insert_team(conn: &mut AnyConnection, t: &TeamRow, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO roster_work_teams (id, name, agency, leader_name, county_code, revision, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(t.id.clone())
    .bind(t.name.clone())
    .bind(t.agency.clone())
    .bind(t.leader_name.clone())
    .bind(t.county_code.clone())
    .bind(t.revision)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get_team(conn: &mut AnyConnection, id: &str) -> Result<Option<TeamRow>, sqlx::Error> {
    let sql = format!("SELECT {TEAM_COLUMNS} FROM roster_work_teams t WHERE t.id = $1");
    sqlx::query(&sql).bind(id.to_string()).fetch_optional(conn).await?.as_ref().map(team_row).transpose()
}

/// A change to a team's members or villages moves the team's revision too.
pub async fn touch_team(conn: &mut AnyConnection, id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE roster_work_teams SET revision = revision + 1, updated_at = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// [`touch_team`] if the stored revision is still `expected`; false if it moved.
pub async fn touch_team_at(
    conn: &mut AnyConnection,
    id: &str,
    expected: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE roster_work_teams SET revision = revision + 1, updated_at = $2 WHERE id = $1 AND revision = $3",
    )
    .bind(id.to_string())
    .bind(now)
    .bind(expected)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn insert_member(conn: &mut AnyConnection, m: &MemberRow, now: i64) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO roster_work_team_members ({MEMBER_COLUMNS}, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)"
    );
    sqlx::query(&sql)
        .bind(m.id.clone())
        .bind(m.team_id.clone())
        .bind(m.name.clone())
        .bind(m.agency.clone())
        .bind(m.role)
        .bind(m.cadre_id.clone())
        .bind(m.start_date.clone())
        .bind(m.end_date.clone())
        .bind(m.end_reason.clone())
        .bind(m.revision)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get_member(conn: &mut AnyConnection, id: &str) -> Result<Option<MemberRow>, sqlx::Error> {
    let sql = format!("SELECT {MEMBER_COLUMNS} FROM roster_work_team_members WHERE id = $1");
    sqlx::query(&sql).bind(id.to_string()).fetch_optional(conn).await?.as_ref().map(member_row).transpose()
}

pub async fn end_member(
    conn: &mut AnyConnection,
    id: &str,
    end: &str,
    reason: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE roster_work_team_members SET end_date = $2, end_reason = $3, revision = revision + 1, \
         updated_at = $4 WHERE id = $1",
    )
    .bind(id.to_string())
    .bind(end.to_string())
    .bind(reason.to_string())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn insert_team_village(
    conn: &mut AnyConnection,
    v: &TeamVillageRow,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO roster_work_team_villages (id, team_id, village_code, village_type, start_date, end_date, \
         end_reason, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(v.id.clone())
    .bind(v.team_id.clone())
    .bind(v.village_code.clone())
    .bind(v.village_type.clone())
    .bind(v.start_date.clone())
    .bind(v.end_date.clone())
    .bind(v.end_reason.clone())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends an open assignment period; false if it was not open any more.
pub async fn end_team_village(
    conn: &mut AnyConnection,
    id: &str,
    end: &str,
    reason: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE roster_work_team_villages SET end_date = $2, end_reason = $3, updated_at = $4 \
         WHERE id = $1 AND end_date IS NULL",
    )
    .bind(id.to_string())
    .bind(end.to_string())
    .bind(reason.to_string())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Members of the given teams (ended ones too), by team then start.
pub async fn members_of(
    conn: &mut AnyConnection,
    team_ids: &[String],
) -> Result<Vec<MemberRow>, sqlx::Error> {
    if team_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut s = Sql::new(format!("SELECT {MEMBER_COLUMNS} FROM roster_work_team_members WHERE team_id IN ("));
    s.bind_list(team_ids).push(") ORDER BY team_id, start_date, id");
    let rows = s.query().fetch_all(conn).await?;
    rows.iter().map(member_row).collect()
}

/// Assignment periods (ended ones too) of the given teams, by team, village, start.
pub async fn villages_of(
    conn: &mut AnyConnection,
    team_ids: &[String],
) -> Result<Vec<TeamVillageRow>, sqlx::Error> {
    if team_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut s = Sql::new(format!("{TEAM_VILLAGE_SELECT} WHERE v.team_id IN ("));
    s.bind_list(team_ids).push(") ORDER BY v.team_id, v.village_code, v.start_date, v.id");
    let rows = s.query().fetch_all(conn).await?;
    rows.iter().map(team_village_row).collect()
}

/// Teams serving under a region: a county under it, or a village under it — assigned
/// on `day`, or ever when `day` is `None` (a team stays visible where it has served).
fn teams_under<'s>(s: &'s mut Sql, prefix: &str, day: Option<&str>) -> &'s mut Sql {
    s.push(" (t.county_code LIKE ")
        .bind(like_prefix(prefix))
        .push(" ESCAPE '\\' OR EXISTS (SELECT 1 FROM roster_work_team_villages v WHERE v.team_id = t.id")
        .push(" AND v.village_code LIKE ")
        .bind(like_prefix(prefix))
        .push(" ESCAPE '\\'");
    if let Some(day) = day {
        held_on(s.push(" AND"), "v", day);
    }
    s.push("))")
}

pub async fn list_teams(db: &Db, prefix: &str, after: &str, limit: i64) -> Result<Vec<TeamRow>, sqlx::Error> {
    let mut s = Sql::new(format!("SELECT {TEAM_COLUMNS} FROM roster_work_teams t WHERE"));
    teams_under(&mut s, prefix, None)
        .push(" AND t.id > ")
        .bind(after)
        .push(" ORDER BY t.id LIMIT ")
        .bind(limit);
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(team_row).collect()
}

/// What a summary counts under a region on a day.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TeamCounts {
    pub teams: i64,
    pub members: i64,
    /// (village type, distinct villages under the region assigned to a team on the day).
    pub villages_by_type: Vec<(String, i64)>,
}

pub async fn team_counts(db: &Db, prefix: &str, day: &str) -> Result<TeamCounts, sqlx::Error> {
    let mut s = Sql::new("SELECT COUNT(*) FROM roster_work_teams t WHERE");
    let teams: i64 = teams_under(&mut s, prefix, Some(day)).query().fetch_one(db.pool()).await?.try_get(0)?;
    let mut s = Sql::new(
        "SELECT COUNT(*) FROM roster_work_team_members m JOIN roster_work_teams t ON t.id = m.team_id WHERE",
    );
    held_on(teams_under(&mut s, prefix, Some(day)).push(" AND"), "m", day);
    let members: i64 = s.query().fetch_one(db.pool()).await?.try_get(0)?;
    // Only assignments current on the day; a village covered by two teams counts once,
    // with the least of the types its current assignments recorded.
    let mut s = Sql::new(
        "SELECT v.village_code, MIN(v.village_type) FROM roster_work_team_villages v WHERE v.village_code LIKE ",
    );
    s.bind(like_prefix(prefix)).push(" ESCAPE '\\' AND");
    held_on(&mut s, "v", day).push(" GROUP BY v.village_code");
    let rows = s.query().fetch_all(db.pool()).await?;
    let mut by_type: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for r in &rows {
        let t: String = r.try_get(1)?;
        *by_type.entry(t).or_default() += 1;
    }
    Ok(TeamCounts { teams, members, villages_by_type: by_type.into_iter().collect() })
}

// ---------------------------------------------------------------- sanctions

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SanctionRow {
    pub id: String,
    pub cadre_id: String,
    pub region_code: String,
    pub kind: i64,
    pub decided_on: String,
    pub reason: String,
    pub decided_by: String,
    pub assessment_result_id: String,
    pub post_ids: Vec<String>,
    pub ended_post_ids: Vec<String>,
    pub revision: i64,
    /// Joined from the cadres; not stored.
    pub cadre_name: String,
    /// `None` while the sanction stands.
    pub revoked_date: Option<String>,
    pub revoke_reason: String,
    pub revoked_by: String,
    pub reinstated_post_ids: Vec<String>,
}

fn encode_ids(ids: &[String]) -> String {
    if ids.is_empty() { String::new() } else { format!(",{},", ids.join(",")) }
}

fn decode_ids(s: &str) -> Vec<String> {
    s.split(',').filter(|t| !t.is_empty()).map(str::to_string).collect()
}

const SANCTION_SELECT: &str = "SELECT s.id, s.cadre_id, s.region_code, s.kind, s.decided_on, s.reason, \
     s.decided_by, s.assessment_result_id, s.post_ids, s.ended_post_ids, s.revision, c.name, \
     s.revoked_date, s.revoke_reason, s.revoked_by, s.reinstated_post_ids \
     FROM roster_sanctions s JOIN roster_cadres c ON c.id = s.cadre_id";

fn sanction_row(r: &AnyRow) -> Result<SanctionRow, sqlx::Error> {
    let post_ids: String = r.try_get(8)?;
    let ended: String = r.try_get(9)?;
    let reinstated: String = r.try_get(15)?;
    Ok(SanctionRow {
        id: r.try_get(0)?,
        cadre_id: r.try_get(1)?,
        region_code: r.try_get(2)?,
        kind: r.try_get(3)?,
        decided_on: r.try_get(4)?,
        reason: r.try_get(5)?,
        decided_by: r.try_get(6)?,
        assessment_result_id: r.try_get(7)?,
        post_ids: decode_ids(&post_ids),
        ended_post_ids: decode_ids(&ended),
        revision: r.try_get(10)?,
        cadre_name: r.try_get(11)?,
        revoked_date: r.try_get(12)?,
        revoke_reason: r.try_get(13)?,
        revoked_by: r.try_get(14)?,
        reinstated_post_ids: decode_ids(&reinstated),
    })
}

pub async fn insert_sanction(conn: &mut AnyConnection, s: &SanctionRow, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO roster_sanctions (id, cadre_id, region_code, kind, decided_on, reason, decided_by, \
         assessment_result_id, post_ids, ended_post_ids, revision, revoked_date, revoke_reason, revoked_by, \
         reinstated_post_ids, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)",
    )
    .bind(s.id.clone())
    .bind(s.cadre_id.clone())
    .bind(s.region_code.clone())
    .bind(s.kind)
    .bind(s.decided_on.clone())
    .bind(s.reason.clone())
    .bind(s.decided_by.clone())
    .bind(s.assessment_result_id.clone())
    .bind(encode_ids(&s.post_ids))
    .bind(encode_ids(&s.ended_post_ids))
    .bind(s.revision)
    .bind(s.revoked_date.clone())
    .bind(s.revoke_reason.clone())
    .bind(s.revoked_by.clone())
    .bind(encode_ids(&s.reinstated_post_ids))
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get_sanction(conn: &mut AnyConnection, id: &str) -> Result<Option<SanctionRow>, sqlx::Error> {
    let sql = format!("{SANCTION_SELECT} WHERE s.id = $1");
    sqlx::query(&sql).bind(id.to_string()).fetch_optional(conn).await?.as_ref().map(sanction_row).transpose()
}

/// What a revocation writes onto the sanction.
#[derive(Debug, Clone)]
pub struct Revocation<'a> {
    pub date: &'a str,
    pub reason: &'a str,
    pub decided_by: &'a str,
    pub reinstated_post_ids: &'a [String],
}

/// Marks the sanction revoked if it stands and its revision is still `expected`;
/// false if either moved.
pub async fn revoke_sanction(
    conn: &mut AnyConnection,
    id: &str,
    r: &Revocation<'_>,
    expected: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE roster_sanctions SET revoked_date = $2, revoke_reason = $3, revoked_by = $4, \
         reinstated_post_ids = $5, revision = revision + 1, updated_at = $6 \
         WHERE id = $1 AND revision = $7 AND revoked_date IS NULL",
    )
    .bind(id.to_string())
    .bind(r.date.to_string())
    .bind(r.reason.to_string())
    .bind(r.decided_by.to_string())
    .bind(encode_ids(r.reinstated_post_ids))
    .bind(now)
    .bind(expected)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Reopens an ended post (a revoked sanction's), if its revision is still `expected`:
/// end date and reason cleared, revision bumped. False if it moved.
pub async fn reopen_post(
    conn: &mut AnyConnection,
    id: &str,
    expected: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE roster_posts SET end_date = NULL, end_reason = '', revision = revision + 1, updated_at = $2 \
         WHERE id = $1 AND revision = $3 AND end_date IS NOT NULL",
    )
    .bind(id.to_string())
    .bind(now)
    .bind(expected)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, Default)]
pub struct SanctionFilter {
    pub region_prefix: String,
    pub cadre_id: String,
    pub kind: Option<i64>,
    pub year: Option<i32>,
    pub exclude_revoked: bool,
}

pub async fn list_sanctions(
    db: &Db,
    f: &SanctionFilter,
    after: &str,
    limit: i64,
) -> Result<Vec<SanctionRow>, sqlx::Error> {
    let mut s = Sql::new(format!("{SANCTION_SELECT} WHERE s.region_code LIKE "));
    s.bind(like_prefix(&f.region_prefix)).push(" ESCAPE '\\' AND s.id > ").bind(after);
    if !f.cadre_id.is_empty() {
        s.push(" AND s.cadre_id = ").bind(&f.cadre_id);
    }
    if let Some(k) = f.kind {
        s.push(" AND s.kind = ").bind(k);
    }
    if let Some(y) = f.year {
        s.push(" AND s.decided_on >= ").bind(format!("{y:04}-01-01"));
        s.push(" AND s.decided_on < ").bind(format!("{:04}-01-01", y + 1));
    }
    if f.exclude_revoked {
        s.push(" AND s.revoked_date IS NULL");
    }
    s.push(" ORDER BY s.id LIMIT ").bind(limit);
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(sanction_row).collect()
}

/// Every post of one cadre, ended or not, in start order.
pub async fn posts_of_cadre(
    conn: &mut AnyConnection,
    cadre_id: &str,
) -> Result<Vec<super::PostRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {} {} WHERE p.cadre_id = $1 ORDER BY p.start_date, p.id",
        super::POST_COLUMNS,
        super::POST_FROM
    );
    let rows = sqlx::query(&sql).bind(cadre_id.to_string()).fetch_all(conn).await?;
    rows.iter().map(super::post_row).collect()
}

/// The latest term any post under the region belongs to, up to `year`.
pub async fn latest_term_under(db: &Db, prefix: &str, year: i64) -> Result<Option<i64>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT MAX(term) FROM roster_posts WHERE region_code LIKE $1 ESCAPE '\\' AND term <= $2",
    )
    .bind(like_prefix(prefix))
    .bind(year)
    .fetch_one(db.pool())
    .await?;
    row.try_get::<Option<i64>, _>(0)
}
