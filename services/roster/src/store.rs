//! The roster's SQL, and the only place that knows it. Queries keep to the portable
//! subset described in `cadre_kit::db`, so SQLite and PostgreSQL run the same text.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use cadre_kit::bulk;
use cadre_kit::db::{Db, WriteTx, like_contains, like_prefix};
use cadre_kit::resident_id::Sex;
use cadre_kit::sql::{AnyQuery, Sql};
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::PostKind;

use crate::domain::posts::HeldPost;
use crate::domain::structure::Member;
use crate::error::RosterError;

pub mod decode;
pub mod development;
pub mod reserves;
pub mod staffing;
pub mod transfer;

// ---------------------------------------------------------------- regions

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionRow {
    pub code: String,
    pub name: String,
    pub level: i64,
    pub parent_code: String,
    pub village_type: String,
    pub revision: i64,
}

const REGION_COLUMNS: &str = "code, name, level, parent_code, village_type, revision";

fn region_row(r: &AnyRow) -> Result<RegionRow, sqlx::Error> {
    Ok(RegionRow {
        code: r.try_get(0)?,
        name: r.try_get(1)?,
        level: r.try_get(2)?,
        parent_code: r.try_get(3)?,
        village_type: r.try_get(4)?,
        revision: r.try_get(5)?,
    })
}

pub async fn get_region(conn: &mut AnyConnection, code: &str) -> Result<Option<RegionRow>, sqlx::Error> {
    let sql = format!("SELECT {REGION_COLUMNS} FROM roster_regions WHERE code = $1");
    sqlx::query(&sql).bind(code.to_string()).fetch_optional(conn).await?.as_ref().map(region_row).transpose()
}

/// The regions with these codes (any order; codes not stored are absent).
pub async fn get_regions(db: &Db, codes: &[String]) -> Result<Vec<RegionRow>, sqlx::Error> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let mut s = Sql::new(format!("SELECT {REGION_COLUMNS} FROM roster_regions WHERE code IN ("));
    s.bind_list(codes).push(")");
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(region_row).collect()
}

/// Whether any region is stored (a roster that has never been loaded has none).
pub async fn has_regions(db: &Db) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("SELECT 1 FROM roster_regions LIMIT 1").fetch_optional(db.pool()).await?.is_some())
}

pub async fn insert_region(conn: &mut AnyConnection, r: &RegionRow, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO roster_regions (code, name, level, parent_code, village_type, revision, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(r.code.clone())
    .bind(r.name.clone())
    .bind(r.level)
    .bind(r.parent_code.clone())
    .bind(r.village_type.clone())
    .bind(r.revision)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn update_region(conn: &mut AnyConnection, r: &RegionRow, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE roster_regions SET name = $2, village_type = $3, revision = $4, updated_at = $5 WHERE code = $1")
        .bind(r.code.clone())
        .bind(r.name.clone())
        .bind(r.village_type.clone())
        .bind(r.revision)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn list_child_regions(
    db: &Db,
    parent: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<RegionRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {REGION_COLUMNS} FROM roster_regions WHERE parent_code = $1 AND code > $2 ORDER BY code LIMIT $3"
    );
    let rows = sqlx::query(&sql)
        .bind(parent.to_string())
        .bind(after.to_string())
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(region_row).collect()
}

pub async fn search_regions(
    db: &Db,
    within_prefix: &str,
    name_part: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<RegionRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {REGION_COLUMNS} FROM roster_regions WHERE code LIKE $1 ESCAPE '\\' AND name LIKE $2 ESCAPE '\\' \
         AND code > $3 ORDER BY code LIMIT $4"
    );
    let rows = sqlx::query(&sql)
        .bind(like_prefix(within_prefix))
        .bind(like_contains(name_part))
        .bind(after.to_string())
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(region_row).collect()
}

/// Villages (code, name) under a region prefix, in code order.
pub async fn villages_under(db: &Db, prefix: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
    let sql = format!("SELECT code, name {VILLAGES_UNDER} ORDER BY code");
    let rows = bind_villages_under(sqlx::query(&sql), prefix).fetch_all(db.pool()).await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// The villages under a region prefix: `$1` the village level, `$2` the prefix
/// (bound by [`bind_villages_under`]).
const VILLAGES_UNDER: &str = "FROM roster_regions WHERE level = $1 AND code LIKE $2 ESCAPE '\\'";

fn bind_villages_under<'q>(q: AnyQuery<'q>, prefix: &str) -> AnyQuery<'q> {
    q.bind(crate::domain::region::level_to_proto(cadre_kit::RegionLevel::Village) as i64)
        .bind(like_prefix(prefix))
}

// ---------------------------------------------------------------- cadres

/// A cadre as stored: PII encrypted, tags as ",n,m,".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CadreRow {
    pub id: String,
    pub region_code: String,
    pub name: String,
    pub id_number_enc: String,
    pub id_number_index: String,
    pub birth_date: String,
    pub sex: i64,
    pub ethnicity: String,
    pub phone_enc: String,
    pub political_status: i64,
    pub education: i64,
    pub full_time_education: bool,
    pub tags: Vec<i32>,
    pub revision: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The cadre table's columns, in the order `cadre_row` reads and `insert_cadres` writes.
const CADRE_TABLE: [bulk::Column; 16] = {
    use bulk::Column as C;
    [
        C::text("id"),
        C::text("region_code"),
        C::text("name"),
        C::text("id_number_enc"),
        C::text("id_number_index"),
        C::text("birth_date"),
        C::bigint("sex"),
        C::text("ethnicity"),
        C::text("phone_enc"),
        C::bigint("political_status"),
        C::bigint("education"),
        C::bigint("full_time_education"),
        C::text("tags"),
        C::bigint("revision"),
        C::bigint("created_at"),
        C::bigint("updated_at"),
    ]
};

/// `id, region_code, …`: [`CADRE_TABLE`] for SELECTs.
fn cadre_columns() -> &'static str {
    static COLUMNS: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| CADRE_TABLE.map(|c| c.name).join(", "));
    &COLUMNS
}

fn encode_tags(tags: &[i32]) -> String {
    if tags.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
    format!(",{},", inner.join(","))
}

fn decode_tags(s: &str) -> Vec<i32> {
    s.split(',').filter_map(|t| t.parse().ok()).collect()
}

fn cadre_row(r: &AnyRow) -> Result<CadreRow, sqlx::Error> {
    let tags: String = r.try_get(12)?;
    Ok(CadreRow {
        id: r.try_get(0)?,
        region_code: r.try_get(1)?,
        name: r.try_get(2)?,
        id_number_enc: r.try_get(3)?,
        id_number_index: r.try_get(4)?,
        birth_date: r.try_get(5)?,
        sex: r.try_get(6)?,
        ethnicity: r.try_get(7)?,
        phone_enc: r.try_get(8)?,
        political_status: r.try_get(9)?,
        education: r.try_get(10)?,
        full_time_education: r.try_get::<i64, _>(11)? != 0,
        tags: decode_tags(&tags),
        revision: r.try_get(13)?,
        created_at: r.try_get(14)?,
        updated_at: r.try_get(15)?,
    })
}

/// Binds $1..$14 of both the insert and the update: id through revision.
pub(crate) fn bind_cadre<'q>(q: AnyQuery<'q>, c: &CadreRow) -> AnyQuery<'q> {
    q.bind(c.id.clone())
        .bind(c.region_code.clone())
        .bind(c.name.clone())
        .bind(c.id_number_enc.clone())
        .bind(c.id_number_index.clone())
        .bind(c.birth_date.clone())
        .bind(c.sex)
        .bind(c.ethnicity.clone())
        .bind(c.phone_enc.clone())
        .bind(c.political_status)
        .bind(c.education)
        .bind(i64::from(c.full_time_education))
        .bind(encode_tags(&c.tags))
        .bind(c.revision)
}

/// Inserts new cadres (one, or an import's), in few statements.
pub async fn insert_cadres(tx: &mut WriteTx, cadres: &[CadreRow]) -> Result<(), sqlx::Error> {
    let tags: Vec<String> = cadres.iter().map(|c| encode_tags(&c.tags)).collect();
    let rows: Vec<(&CadreRow, &String)> = cadres.iter().zip(&tags).collect();
    let table = bulk::Table { name: "roster_cadres", columns: &CADRE_TABLE, shared: &[] };
    bulk::insert(tx, &table, &rows, |(c, tags)| {
        [
            (&c.id).into(),
            (&c.region_code).into(),
            (&c.name).into(),
            (&c.id_number_enc).into(),
            (&c.id_number_index).into(),
            (&c.birth_date).into(),
            c.sex.into(),
            (&c.ethnicity).into(),
            (&c.phone_enc).into(),
            c.political_status.into(),
            c.education.into(),
            c.full_time_education.into(),
            (*tags).into(),
            c.revision.into(),
            c.created_at.into(),
            c.updated_at.into(),
        ]
    })
    .await?;
    Ok(())
}

/// Writes `c` if the stored revision is still `expected`; false if it moved.
pub async fn update_cadre(
    conn: &mut AnyConnection,
    c: &CadreRow,
    expected: i64,
) -> Result<bool, sqlx::Error> {
    let query = sqlx::query(
        "UPDATE roster_cadres SET region_code = $2, name = $3, id_number_enc = $4, id_number_index = $5, \
         birth_date = $6, sex = $7, ethnicity = $8, phone_enc = $9, political_status = $10, education = $11, \
         full_time_education = $12, tags = $13, revision = $14, updated_at = $15 WHERE id = $1 AND revision = $16",
    );
    let done = bind_cadre(query, c).bind(c.updated_at).bind(expected).execute(conn).await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get_cadre(conn: &mut AnyConnection, id: &str) -> Result<Option<CadreRow>, sqlx::Error> {
    let sql = format!("SELECT {} FROM roster_cadres WHERE id = $1", cadre_columns());
    sqlx::query(&sql).bind(id.to_string()).fetch_optional(conn).await?.as_ref().map(cadre_row).transpose()
}

/// The cadres with these IDs (any order; IDs not stored are absent).
pub async fn get_cadres(db: &Db, ids: &[String]) -> Result<Vec<CadreRow>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut s = Sql::new(format!("SELECT {} FROM roster_cadres WHERE id IN (", cadre_columns()));
    s.bind_list(ids).push(")");
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(cadre_row).collect()
}

pub async fn find_cadre_by_index(
    conn: &mut AnyConnection,
    index: &str,
) -> Result<Option<CadreRow>, sqlx::Error> {
    let sql = format!("SELECT {} FROM roster_cadres WHERE id_number_index = $1", cadre_columns());
    sqlx::query(&sql).bind(index.to_string()).fetch_optional(conn).await?.as_ref().map(cadre_row).transpose()
}

/// Filters of a cadre list; dates are 'YYYY-MM-DD'.
#[derive(Debug, Clone, Default)]
pub struct CadreFilter {
    pub region_prefix: String,
    pub holding_kind: Option<i64>,
    pub today: String,
    /// Born on or before this date (minimum age).
    pub born_on_or_before: Option<String>,
    /// Born after this date (maximum age).
    pub born_after: Option<String>,
    pub educations: Vec<i64>,
    pub political_status: Option<i64>,
    pub tags: Vec<i32>,
    pub name_contains: String,
}

pub async fn list_cadres(
    db: &Db,
    f: &CadreFilter,
    after: &str,
    limit: i64,
) -> Result<Vec<CadreRow>, sqlx::Error> {
    let mut s = Sql::new(format!("SELECT {} FROM roster_cadres c WHERE region_code LIKE ", cadre_columns()));
    s.bind(like_prefix(&f.region_prefix)).push(" ESCAPE '\\' AND id > ").bind(after);
    if let Some(kind) = f.holding_kind {
        s.push(" AND EXISTS (SELECT 1 FROM roster_posts p WHERE p.cadre_id = c.id AND p.kind = ").bind(kind);
        held_on(s.push(" AND"), "p", &f.today).push(")");
    }
    if let Some(d) = &f.born_on_or_before {
        s.push(" AND birth_date <= ").bind(d);
    }
    if let Some(d) = &f.born_after {
        s.push(" AND birth_date > ").bind(d);
    }
    if !f.educations.is_empty() {
        s.push(" AND education IN (").bind_list(f.educations.iter().copied()).push(")");
    }
    if let Some(p) = f.political_status {
        s.push(" AND political_status = ").bind(p);
    }
    for tag in &f.tags {
        s.push(" AND tags LIKE ").bind(like_contains(&format!(",{tag},"))).push(" ESCAPE '\\'");
    }
    if !f.name_contains.is_empty() {
        s.push(" AND name LIKE ").bind(like_contains(&f.name_contains)).push(" ESCAPE '\\'");
    }
    s.push(" ORDER BY id LIMIT ").bind(limit);
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(cadre_row).collect()
}

/// Appends "`alias`.start_date <= day AND (`alias`.end_date IS NULL OR `alias`.end_date > day)":
/// held on `day` (the end date is the first day no longer held).
pub(crate) fn held_on<'s>(s: &'s mut Sql, alias: &str, day: &str) -> &'s mut Sql {
    s.push(&format!(" {alias}.start_date <= ")).bind(day);
    s.push(&format!(" AND ({alias}.end_date IS NULL OR {alias}.end_date > ")).bind(day).push(")")
}

// ---------------------------------------------------------------- posts

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostRow {
    pub id: String,
    pub cadre_id: String,
    pub cadre_name: String,
    pub region_code: String,
    pub kind: i64,
    pub term: i64,
    pub start_date: String,
    pub end_date: Option<String>,
    pub end_reason: String,
    pub revision: i64,
}

const POST_COLUMNS: &str = "p.id, p.cadre_id, c.name, p.region_code, p.kind, p.term, p.start_date, p.end_date, \
     p.end_reason, p.revision";
const POST_FROM: &str = "FROM roster_posts p JOIN roster_cadres c ON c.id = p.cadre_id";

fn post_row(r: &AnyRow) -> Result<PostRow, sqlx::Error> {
    Ok(PostRow {
        id: r.try_get(0)?,
        cadre_id: r.try_get(1)?,
        cadre_name: r.try_get(2)?,
        region_code: r.try_get(3)?,
        kind: r.try_get(4)?,
        term: r.try_get(5)?,
        start_date: r.try_get(6)?,
        end_date: r.try_get(7)?,
        end_reason: r.try_get(8)?,
        revision: r.try_get(9)?,
    })
}

impl PostRow {
    /// The post as the rules see it; an unknown kind or a bad date is corrupt.
    pub fn held(&self) -> Result<HeldPost, RosterError> {
        let row = format!("post {}", self.id);
        Ok(HeldPost {
            id: self.id.clone(),
            cadre_id: self.cadre_id.clone(),
            cadre_name: self.cadre_name.clone(),
            region_code: self.region_code.clone(),
            kind: self.post_kind()?,
            start: decode::date_of("roster_posts.start_date", &row, &self.start_date)?,
            end: match &self.end_date {
                Some(e) => Some(decode::date_of("roster_posts.end_date", &row, e)?),
                None => None,
            },
        })
    }
}

/// Inserts new posts, all created at `now`.
pub async fn insert_posts(tx: &mut WriteTx, posts: &[PostRow], now: i64) -> Result<(), sqlx::Error> {
    use bulk::Column as C;
    const COLUMNS: [C; 9] = [
        C::text("id"),
        C::text("cadre_id"),
        C::text("region_code"),
        C::bigint("kind"),
        C::bigint("term"),
        C::text("start_date"),
        C::text("end_date"),
        C::text("end_reason"),
        C::bigint("revision"),
    ];
    let shared = [("created_at", bulk::Cell::BigInt(now)), ("updated_at", bulk::Cell::BigInt(now))];
    let table = bulk::Table { name: "roster_posts", columns: &COLUMNS, shared: &shared };
    bulk::insert(tx, &table, posts, |p| {
        [
            (&p.id).into(),
            (&p.cadre_id).into(),
            (&p.region_code).into(),
            p.kind.into(),
            p.term.into(),
            (&p.start_date).into(),
            p.end_date.as_deref().into(),
            (&p.end_reason).into(),
            p.revision.into(),
        ]
    })
    .await?;
    Ok(())
}

pub async fn end_post(
    conn: &mut AnyConnection,
    id: &str,
    end: &str,
    reason: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE roster_posts SET end_date = $2, end_reason = $3, revision = revision + 1, updated_at = $4 WHERE id = $1",
    )
    .bind(id.to_string())
    .bind(end.to_string())
    .bind(reason.to_string())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get_post(conn: &mut AnyConnection, id: &str) -> Result<Option<PostRow>, sqlx::Error> {
    let sql = format!("SELECT {POST_COLUMNS} {POST_FROM} WHERE p.id = $1");
    sqlx::query(&sql).bind(id.to_string()).fetch_optional(conn).await?.as_ref().map(post_row).transpose()
}

/// Every post of one village, ended or not (the appointment rules read them all).
pub async fn posts_in_village(conn: &mut AnyConnection, village: &str) -> Result<Vec<PostRow>, sqlx::Error> {
    let sql =
        format!("SELECT {POST_COLUMNS} {POST_FROM} WHERE p.region_code = $1 ORDER BY p.start_date, p.id");
    let rows = sqlx::query(&sql).bind(village.to_string()).fetch_all(conn).await?;
    rows.iter().map(post_row).collect()
}

/// Posts held on `day` by the given cadres.
pub async fn posts_held_by(db: &Db, cadre_ids: &[String], day: &str) -> Result<Vec<PostRow>, sqlx::Error> {
    if cadre_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut s = Sql::new(format!("SELECT {POST_COLUMNS} {POST_FROM} WHERE"));
    held_on(&mut s, "p", day)
        .push(" AND p.cadre_id IN (")
        .bind_list(cadre_ids)
        .push(") ORDER BY p.cadre_id, p.kind");
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(post_row).collect()
}

#[derive(Debug, Clone, Default)]
pub struct PostFilter {
    pub region_prefix: String,
    pub cadre_id: String,
    pub kind: Option<i64>,
    /// Held on this day; `None` = every post, ended ones too.
    pub held_on: Option<String>,
}

pub async fn list_posts(
    db: &Db,
    f: &PostFilter,
    after: &str,
    limit: i64,
) -> Result<Vec<PostRow>, sqlx::Error> {
    let mut s = Sql::new(format!("SELECT {POST_COLUMNS} {POST_FROM} WHERE p.region_code LIKE "));
    s.bind(like_prefix(&f.region_prefix)).push(" ESCAPE '\\' AND p.id > ").bind(after);
    if !f.cadre_id.is_empty() {
        s.push(" AND p.cadre_id = ").bind(&f.cadre_id);
    }
    if let Some(k) = f.kind {
        s.push(" AND p.kind = ").bind(k);
    }
    if let Some(day) = &f.held_on {
        held_on(s.push(" AND"), "p", day);
    }
    s.push(" ORDER BY p.id LIMIT ").bind(limit);
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(post_row).collect()
}

/// Posts of the given kinds under a region that started on or before `day` (held
/// then, or ended before it: vacancies need both).
pub async fn posts_under(
    db: &Db,
    prefix: &str,
    kinds: &[PostKind],
    day: &str,
) -> Result<Vec<HeldPost>, RosterError> {
    let mut s = Sql::new(format!("SELECT {POST_COLUMNS} {POST_FROM} WHERE p.region_code LIKE "));
    s.bind(like_prefix(prefix)).push(" ESCAPE '\\' AND p.start_date <= ").bind(day);
    s.push(" AND p.kind IN (").bind_list(kinds.iter().map(|k| *k as i64)).push(")");
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(|r| post_row(r)?.held()).collect()
}

/// (village, cadre, post kind) of the posts of `kinds` held under `prefix` on `day`.
pub async fn serving_under(
    db: &Db,
    prefix: &str,
    kinds: &[PostKind],
    day: &str,
) -> Result<Vec<(String, String, PostKind)>, RosterError> {
    let mut s =
        Sql::new("SELECT p.region_code, p.cadre_id, p.kind FROM roster_posts p WHERE p.region_code LIKE ");
    held_on(s.bind(like_prefix(prefix)).push(" ESCAPE '\\' AND"), "p", day);
    s.push(" AND p.kind IN (").bind_list(kinds.iter().map(|k| *k as i64)).push(")");
    let rows = s.query().fetch_all(db.pool()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let (village, cadre): (String, String) = (r.try_get(0)?, r.try_get(1)?);
        let row = format!("the post of cadre {cadre} in {village}");
        let kind = decode::enum_of("roster_posts.kind", &row, r.try_get(2)?)?;
        out.push((village, cadre, kind));
    }
    Ok(out)
}

/// How many villages lie under a region prefix.
pub async fn village_count_under(db: &Db, prefix: &str) -> Result<usize, sqlx::Error> {
    let sql = format!("SELECT COUNT(*) {VILLAGES_UNDER}");
    let n: i64 = bind_villages_under(sqlx::query(&sql), prefix).fetch_one(db.pool()).await?.try_get(0)?;
    Ok(n as usize)
}

/// The distinct two-committee members serving under a region on `day`.
pub async fn members_under(db: &Db, prefix: &str, day: &str) -> Result<Vec<Member>, RosterError> {
    let kinds: Vec<String> =
        crate::domain::posts::two_committee_kinds().into_iter().map(|k| (k as i32).to_string()).collect();
    let mut s = Sql::new(
        "SELECT c.birth_date, c.sex, c.education, c.political_status, c.id FROM roster_cadres c WHERE EXISTS ( \
         SELECT 1 FROM roster_posts p WHERE p.cadre_id = c.id AND p.region_code LIKE ",
    );
    held_on(s.bind(like_prefix(prefix)).push(" ESCAPE '\\' AND"), "p", day);
    s.push(&format!(" AND p.kind IN ({}))", kinds.join(", ")));
    let rows = s.query().fetch_all(db.pool()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let birth: String = r.try_get(0)?;
        let sex: i64 = r.try_get(1)?;
        let education: i64 = r.try_get(2)?;
        let party: i64 = r.try_get(3)?;
        let row = format!("cadre {}", r.try_get::<String, _>(4)?);
        out.push(Member {
            birth_date: decode::date_of("roster_cadres.birth_date", &row, &birth)?,
            sex: sex_from_stored("roster_cadres.sex", &row, sex)?,
            education: decode::enum_of("roster_cadres.education", &row, education)?,
            political_status: decode::enum_of("roster_cadres.political_status", &row, party)?,
        });
    }
    Ok(out)
}

/// Sex is stored as its proto number.
pub fn sex_to_stored(sex: Sex) -> i64 {
    match sex {
        Sex::Male => pb::Sex::Male as i64,
        Sex::Female => pb::Sex::Female as i64,
    }
}

/// `column` of `row` holds `v`: male or female, else corrupt (sex comes from the ID number).
pub fn sex_from_stored(column: &'static str, row: &str, v: i64) -> Result<Sex, RosterError> {
    match decode::enum_of(column, row, v)? {
        pb::Sex::Male => Ok(Sex::Male),
        pb::Sex::Female => Ok(Sex::Female),
        pb::Sex::Unspecified => {
            Err(RosterError::Corrupt { column, row: row.to_string(), value: v.to_string() })
        }
    }
}
