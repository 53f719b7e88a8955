//! Trainees' feedback: one answer per trainee and session, revisable; read back only as
//! scores and comments of a whole session (never with who gave them).

use sqlx::{AnyConnection, Row};

use crate::error::TrainingError;

/// The stored answer's (score, revision), if any.
pub async fn get(
    conn: &mut AnyConnection,
    session_id: &str,
    cadre_id: &str,
) -> Result<Option<(i64, i64)>, TrainingError> {
    let row =
        sqlx::query("SELECT score, revision FROM training_feedback WHERE session_id = $1 AND cadre_id = $2")
            .bind(session_id.to_string())
            .bind(cadre_id.to_string())
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?))).transpose()?)
}

/// Writes the answer: a new one (false if one arrived meanwhile) or a revision of the
/// one at `expected` (false if it moved on).
pub async fn put(
    conn: &mut AnyConnection,
    session_id: &str,
    cadre_id: &str,
    (score, comment): (i64, &str),
    expected: Option<i64>,
    now: i64,
) -> Result<bool, TrainingError> {
    let done = match expected {
        None => sqlx::query(
            "INSERT INTO training_feedback (session_id, cadre_id, score, comment, submitted_at, updated_at, \
                 revision) VALUES ($1, $2, $3, $4, $5, $5, 1) ON CONFLICT (session_id, cadre_id) DO NOTHING",
        )
        .bind(session_id.to_string())
        .bind(cadre_id.to_string())
        .bind(score)
        .bind(comment.to_string())
        .bind(now)
        .execute(conn)
        .await?,
        Some(revision) => sqlx::query(
            "UPDATE training_feedback SET score = $3, comment = $4, updated_at = $5, revision = revision + 1 \
                 WHERE session_id = $1 AND cadre_id = $2 AND revision = $6",
        )
        .bind(session_id.to_string())
        .bind(cadre_id.to_string())
        .bind(score)
        .bind(comment.to_string())
        .bind(now)
        .bind(revision)
        .execute(conn)
        .await?,
    };
    Ok(done.rows_affected() == 1)
}

/// Every score and the non-empty comments of a session.
pub async fn of_session(
    conn: &mut AnyConnection,
    session_id: &str,
) -> Result<(Vec<i64>, Vec<String>), TrainingError> {
    let rows = sqlx::query("SELECT score, comment FROM training_feedback WHERE session_id = $1")
        .bind(session_id.to_string())
        .fetch_all(conn)
        .await?;
    let mut scores = Vec::with_capacity(rows.len());
    let mut comments = Vec::new();
    for r in &rows {
        scores.push(r.try_get(0)?);
        let c: String = r.try_get(1)?;
        if !c.is_empty() {
            comments.push(c);
        }
    }
    comments.sort();
    Ok((scores, comments))
}
