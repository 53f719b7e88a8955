//! Exits and sanctions (提醒谈话 … 免职): which kinds end which posts, and whether a
//! sanction may be recorded on a date against the posts the cadre holds.

use cadre_proto::roster::v1::SanctionKind;
use chrono::NaiveDate;

use crate::domain::dates;
use crate::domain::posts::{self, HeldPost};
use crate::error::RosterError;

pub const MAX_REASON_CHARS: usize = 1000;

pub fn kind(field: &str, v: i32) -> Result<SanctionKind, RosterError> {
    super::fields::required_enum(field, v, "sanction kind")
}

/// Which posts a sanction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ends {
    /// Talks: a record only.
    Nothing,
    /// Organisational adjustment: the posts named in the request.
    Listed,
    /// Dismissal and the resignations: every post held on the date.
    Every,
}

pub fn ends(kind: SanctionKind) -> Ends {
    match kind {
        SanctionKind::Unspecified | SanctionKind::ReminderTalk | SanctionKind::AdmonishmentTalk => {
            Ends::Nothing
        }
        SanctionKind::OrganisationalAdjustment => Ends::Listed,
        SanctionKind::PersuadedResignation | SanctionKind::OrderedResignation | SanctionKind::Dismissal => {
            Ends::Every
        }
    }
}

/// The posts a sanction of `kind` on `date` ends, given every post of the cadre and
/// the post ids the request names. Named posts must be the cadre's and held on the
/// date; a sanction is not dated in the future nor before a post it ends started.
pub fn posts_to_end(
    kind: SanctionKind,
    date: NaiveDate,
    today: NaiveDate,
    cadre_posts: &[HeldPost],
    named: &[String],
) -> Result<Vec<HeldPost>, RosterError> {
    if date > today {
        return Err(RosterError::invalid("date", format!("{} is in the future", dates::format(date))));
    }
    let mut listed = Vec::new();
    for (i, id) in named.iter().enumerate() {
        let field = format!("post_ids[{i}]");
        let p = cadre_posts
            .iter()
            .find(|p| &p.id == id)
            .ok_or_else(|| RosterError::invalid(&field, format!("{id} is not a post of this cadre")))?;
        if !p.held_on(date) {
            return Err(RosterError::invalid(
                &field,
                format!("post {id} is not held on {}", dates::format(date)),
            ));
        }
        if !listed.iter().any(|l: &HeldPost| l.id == p.id) {
            listed.push(p.clone());
        }
    }
    let out = match ends(kind) {
        Ends::Nothing => Vec::new(),
        Ends::Listed if listed.is_empty() => {
            return Err(RosterError::invalid(
                "post_ids",
                "an organisational adjustment names the posts it ends",
            ));
        }
        Ends::Listed => listed,
        Ends::Every => {
            let held: Vec<HeldPost> = cadre_posts.iter().filter(|p| p.held_on(date)).cloned().collect();
            if held.is_empty() {
                return Err(RosterError::Conflict(format!(
                    "the cadre holds no post on {}: nothing to end",
                    dates::format(date)
                )));
            }
            held
        }
    };
    for p in &out {
        if date <= p.start {
            return Err(RosterError::invalid(
                "date",
                format!(
                    "{} is not after the start {} of post {}",
                    dates::format(date),
                    dates::format(p.start),
                    p.id
                ),
            ));
        }
        posts::check_end(p, date)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadre_proto::roster::v1::PostKind;

    fn d(s: &str) -> NaiveDate {
        dates::parse("d", s).unwrap()
    }

    fn post(id: &str, kind: PostKind, start: &str, end: Option<&str>) -> HeldPost {
        HeldPost {
            id: id.into(),
            cadre_id: "c1".into(),
            cadre_name: "巴特尔".into(),
            region_code: "v1".into(),
            kind,
            start: d(start),
            end: end.map(d),
        }
    }

    fn posts() -> Vec<HeldPost> {
        vec![
            post("sec", PostKind::PartySecretary, "2021-03-01", None),
            post("dir", PostKind::CommitteeDirector, "2021-03-01", None),
            post("old", PostKind::CommitteeMember, "2018-03-01", Some("2021-03-01")),
        ]
    }

    #[test]
    fn a_dismissal_ends_every_post_held_on_the_day() {
        let today = d("2025-01-01");
        let ended = posts_to_end(SanctionKind::Dismissal, d("2024-06-01"), today, &posts(), &[]).unwrap();
        assert_eq!(ended.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["sec", "dir"]);
        let err = posts_to_end(SanctionKind::Dismissal, d("2020-06-01"), today, &posts(), &[]).unwrap_err();
        assert!(matches!(err, RosterError::Conflict(_)), "{err}");
    }

    #[test]
    fn an_adjustment_ends_only_the_named_posts_and_talks_end_none() {
        let today = d("2025-01-01");
        let named = vec!["dir".to_string()];
        let ended =
            posts_to_end(SanctionKind::OrganisationalAdjustment, d("2024-06-01"), today, &posts(), &named)
                .unwrap();
        assert_eq!(ended.len(), 1);
        let err = posts_to_end(SanctionKind::OrganisationalAdjustment, d("2024-06-01"), today, &posts(), &[])
            .unwrap_err();
        assert!(err.to_string().starts_with("post_ids:"), "{err}");
        assert!(
            posts_to_end(SanctionKind::ReminderTalk, d("2024-06-01"), today, &posts(), &[])
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn dates_in_the_future_before_the_post_or_foreign_posts_are_refused() {
        let today = d("2025-01-01");
        let future =
            posts_to_end(SanctionKind::ReminderTalk, d("2025-02-01"), today, &posts(), &[]).unwrap_err();
        assert!(future.to_string().starts_with("date:"), "{future}");
        let first_day =
            posts_to_end(SanctionKind::Dismissal, d("2021-03-01"), today, &posts(), &[]).unwrap_err();
        assert!(first_day.to_string().starts_with("date:"), "{first_day}");
        let foreign = vec!["nope".to_string()];
        let err =
            posts_to_end(SanctionKind::ReminderTalk, d("2024-06-01"), today, &posts(), &foreign).unwrap_err();
        assert!(err.to_string().starts_with("post_ids[0]:"), "{err}");
        assert!(kind("kind", 0).unwrap_err().to_string().starts_with("kind:"));
    }
}
