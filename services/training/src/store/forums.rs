//! Forums, the issues raised at them, and each issue's steps.

use cadre_kit::db::{Db, like_prefix};
use cadre_kit::sql::Sql;
use cadre_proto::training::v1::IssueState;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::decode_enum;
use crate::error::TrainingError;

#[derive(Debug, Clone, PartialEq)]
pub struct ForumRow {
    pub id: String,
    pub region_code: String,
    pub held_date: String,
    pub year: i32,
    pub place: String,
    pub title: String,
    pub revision: i64,
}

const FORUM_COLUMNS: &str = "id, region_code, held_date, year, place, title, revision";

fn int(r: &AnyRow, i: usize, column: &'static str) -> Result<i32, TrainingError> {
    let v: i64 = r.try_get(i)?;
    i32::try_from(v).map_err(|_| TrainingError::Corrupt { column, row: String::new(), value: v.to_string() })
}

fn forum(r: &AnyRow) -> Result<ForumRow, TrainingError> {
    Ok(ForumRow {
        id: r.try_get(0)?,
        region_code: r.try_get(1)?,
        held_date: r.try_get(2)?,
        year: int(r, 3, "training_forums.year")?,
        place: r.try_get(4)?,
        title: r.try_get(5)?,
        revision: r.try_get(6)?,
    })
}

pub async fn insert_forum(conn: &mut AnyConnection, f: &ForumRow, now: i64) -> Result<(), TrainingError> {
    sqlx::query(&format!(
        "INSERT INTO training_forums ({FORUM_COLUMNS}, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(f.id.clone())
    .bind(f.region_code.clone())
    .bind(f.held_date.clone())
    .bind(i64::from(f.year))
    .bind(f.place.clone())
    .bind(f.title.clone())
    .bind(f.revision)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get_forum(conn: &mut AnyConnection, id: &str) -> Result<Option<ForumRow>, TrainingError> {
    let sql = format!("SELECT {FORUM_COLUMNS} FROM training_forums WHERE id = $1");
    sqlx::query(&sql).bind(id.to_string()).fetch_optional(conn).await?.as_ref().map(forum).transpose()
}

/// Forums organised under `prefix`, in `year` if given, by id after `after`.
pub async fn list_forums(
    db: &Db,
    prefix: &str,
    year: Option<i32>,
    after: &str,
    limit: i64,
) -> Result<Vec<ForumRow>, TrainingError> {
    let mut s = Sql::new(format!("SELECT {FORUM_COLUMNS} FROM training_forums WHERE region_code LIKE "));
    s.bind(like_prefix(prefix)).push(" ESCAPE '\\' AND id > ").bind(after);
    if let Some(year) = year {
        s.push(" AND year = ").bind(i64::from(year));
    }
    s.push(" ORDER BY id LIMIT ").bind(limit);
    s.query().fetch_all(db.pool()).await?.iter().map(forum).collect()
}

/// How many issues each of these forums has.
pub async fn issue_counts(
    conn: &mut AnyConnection,
    ids: &[String],
) -> Result<Vec<(String, i64)>, TrainingError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut s = Sql::new("SELECT forum_id, COUNT(*) FROM training_forum_issues WHERE forum_id IN (");
    s.bind_list(ids).push(") GROUP BY forum_id");
    let rows = s.query().fetch_all(conn).await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct IssueRow {
    pub id: String,
    pub forum_id: String,
    pub region_code: String,
    pub year: i32,
    pub cadre_id: String,
    pub cadre_name: String,
    pub title: String,
    pub unit_name: String,
    pub unit_region_code: String,
    pub deadline: String,
    pub state: IssueState,
    pub raised_date: String,
    pub closed_date: String,
    pub revision: i64,
}

const ISSUE_COLUMNS: &str = "id, forum_id, region_code, year, cadre_id, cadre_name, title, unit_name, \
                             unit_region_code, deadline, state, raised_date, closed_date, revision";

fn issue(r: &AnyRow) -> Result<IssueRow, TrainingError> {
    let id: String = r.try_get(0)?;
    Ok(IssueRow {
        forum_id: r.try_get(1)?,
        region_code: r.try_get(2)?,
        year: int(r, 3, "training_forum_issues.year")?,
        cadre_id: r.try_get(4)?,
        cadre_name: r.try_get(5)?,
        title: r.try_get(6)?,
        unit_name: r.try_get(7)?,
        unit_region_code: r.try_get(8)?,
        deadline: r.try_get(9)?,
        state: decode_enum("training_forum_issues.state", &id, r.try_get(10)?)?,
        raised_date: r.try_get(11)?,
        closed_date: r.try_get(12)?,
        revision: r.try_get(13)?,
        id,
    })
}

pub async fn insert_issue(conn: &mut AnyConnection, i: &IssueRow, now: i64) -> Result<(), TrainingError> {
    sqlx::query(&format!(
        "INSERT INTO training_forum_issues ({ISSUE_COLUMNS}, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
         $9, $10, $11, $12, $13, $14, $15)"
    ))
    .bind(i.id.clone())
    .bind(i.forum_id.clone())
    .bind(i.region_code.clone())
    .bind(i64::from(i.year))
    .bind(i.cadre_id.clone())
    .bind(i.cadre_name.clone())
    .bind(i.title.clone())
    .bind(i.unit_name.clone())
    .bind(i.unit_region_code.clone())
    .bind(i.deadline.clone())
    .bind(i.state as i64)
    .bind(i.raised_date.clone())
    .bind(i.closed_date.clone())
    .bind(i.revision)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes a move (state, closed date) at `i.revision` if the stored revision is still
/// `expected`.
pub async fn update_issue(
    conn: &mut AnyConnection,
    i: &IssueRow,
    expected: i64,
    now: i64,
) -> Result<bool, TrainingError> {
    let done = sqlx::query(
        "UPDATE training_forum_issues SET state = $2, closed_date = $3, revision = $4, updated_at = $5 \
         WHERE id = $1 AND revision = $6",
    )
    .bind(i.id.clone())
    .bind(i.state as i64)
    .bind(i.closed_date.clone())
    .bind(i.revision)
    .bind(now)
    .bind(expected)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get_issue(conn: &mut AnyConnection, id: &str) -> Result<Option<IssueRow>, TrainingError> {
    let sql = format!("SELECT {ISSUE_COLUMNS} FROM training_forum_issues WHERE id = $1");
    sqlx::query(&sql).bind(id.to_string()).fetch_optional(conn).await?.as_ref().map(issue).transpose()
}

#[derive(Debug, Clone, Default)]
pub struct IssueFilter {
    pub region_prefix: String,
    pub forum_id: Option<String>,
    pub state: Option<IssueState>,
    pub year: Option<i32>,
    /// Only issues not yet closed.
    pub open_only: bool,
}

pub async fn list_issues(
    db: &Db,
    f: &IssueFilter,
    after: &str,
    limit: Option<i64>,
) -> Result<Vec<IssueRow>, TrainingError> {
    let mut s =
        Sql::new(format!("SELECT {ISSUE_COLUMNS} FROM training_forum_issues WHERE region_code LIKE "));
    s.bind(like_prefix(&f.region_prefix)).push(" ESCAPE '\\' AND id > ").bind(after);
    if let Some(forum) = &f.forum_id {
        s.push(" AND forum_id = ").bind(forum.clone());
    }
    if let Some(state) = f.state {
        s.push(" AND state = ").bind(state as i64);
    }
    if let Some(year) = f.year {
        s.push(" AND year = ").bind(i64::from(year));
    }
    if f.open_only {
        s.push(" AND state <> ").bind(IssueState::Closed as i64);
    }
    s.push(" ORDER BY id");
    if let Some(limit) = limit {
        s.push(" LIMIT ").bind(limit);
    }
    s.query().fetch_all(db.pool()).await?.iter().map(issue).collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct IssueStepRow {
    pub issue_id: String,
    pub state: IssueState,
    pub at: i64,
    pub actor: String,
    pub note: String,
}

pub async fn add_step(conn: &mut AnyConnection, step: &IssueStepRow) -> Result<(), TrainingError> {
    sqlx::query(
        "INSERT INTO training_forum_issue_steps (issue_id, seq, state, at, actor, note) \
         SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM training_forum_issue_steps WHERE issue_id = $6",
    )
    .bind(step.issue_id.clone())
    .bind(step.state as i64)
    .bind(step.at)
    .bind(step.actor.clone())
    .bind(step.note.clone())
    .bind(step.issue_id.clone())
    .execute(conn)
    .await?;
    Ok(())
}

/// The steps of these issues, oldest first per issue.
pub async fn steps_of(conn: &mut AnyConnection, ids: &[String]) -> Result<Vec<IssueStepRow>, TrainingError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut s = Sql::new(
        "SELECT issue_id, state, at, actor, note FROM training_forum_issue_steps WHERE issue_id IN (",
    );
    s.bind_list(ids).push(") ORDER BY issue_id, seq");
    let rows = s.query().fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            let issue_id: String = r.try_get(0)?;
            Ok(IssueStepRow {
                state: decode_enum("training_forum_issue_steps.state", &issue_id, r.try_get(1)?)?,
                at: r.try_get(2)?,
                actor: r.try_get(3)?,
                note: r.try_get(4)?,
                issue_id,
            })
        })
        .collect()
}
