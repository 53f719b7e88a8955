//! Exits and sanctions (提醒谈话 … 免职): which kinds end which posts, whether a
//! sanction may be recorded on a date against the posts the cadre holds, and whether
//! it may be revoked (撤销) and the posts it ended reopened.

use cadre_proto::roster::v1::SanctionKind;
use chrono::NaiveDate;

use crate::domain::dates;
use crate::domain::posts::{self, HeldPost};
use crate::error::RosterError;

pub const MAX_REASON_CHARS: usize = 1000;

pub fn kind(field: &str, v: i32) -> Result<SanctionKind, RosterError> {
    Ok(super::fields::required_enum(field, v, "sanction kind")?)
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

/// Whether a sanction dated `sanctioned_on` (revoked on `revoked_on`, if it was) may be
/// revoked on `date`: once only, not in the future, not before the sanction itself.
pub fn check_revocation(
    sanction_id: &str,
    sanctioned_on: NaiveDate,
    revoked_on: Option<NaiveDate>,
    date: NaiveDate,
    today: NaiveDate,
) -> Result<(), RosterError> {
    if date > today {
        return Err(RosterError::invalid("date", format!("{} is in the future", dates::format(date))));
    }
    if let Some(revoked) = revoked_on {
        return Err(RosterError::Conflict(format!(
            "sanction {sanction_id} was already revoked on {}",
            dates::format(revoked)
        )));
    }
    if date < sanctioned_on {
        return Err(RosterError::invalid(
            "date",
            format!("{} is before the sanction's date {}", dates::format(date), dates::format(sanctioned_on)),
        ));
    }
    Ok(())
}

/// The posts a revocation reopens: every post the sanction ended (`ended_ids`, ended on
/// `ended_on`), given their stored state (`ended`) and every post of their villages
/// (`in_villages`). All or none: a post is refused when it no longer ends on the
/// sanction's date, when its cadre took the same post in that village again since (two
/// overlapping posts of one kind for one person, as `posts::check_appointment` refuses),
/// or — for a single seat (`posts::is_single_seat`) — when anyone else has held that
/// seat in that village on any day since it ended, even if they have left it again:
/// reopening would make two holders overlap in the seat's history.
pub fn posts_to_reinstate(
    ended_on: NaiveDate,
    ended_ids: &[String],
    ended: &[HeldPost],
    in_villages: &[HeldPost],
) -> Result<Vec<HeldPost>, RosterError> {
    let mut out = Vec::with_capacity(ended_ids.len());
    for id in ended_ids {
        let post = ended
            .iter()
            .find(|p| &p.id == id)
            .ok_or_else(|| RosterError::Conflict(format!("post {id} the sanction ended no longer exists")))?;
        let what = format!("post {} ({} of {})", post.id, post.kind.as_str_name(), post.region_code);
        if post.end != Some(ended_on) {
            return Err(RosterError::Conflict(format!(
                "{what} cannot be reinstated: it no longer ends on the sanction's date {}",
                dates::format(ended_on)
            )));
        }
        let since = in_villages.iter().filter(|o| {
            o.id != post.id
                && o.region_code == post.region_code
                && o.kind == post.kind
                && o.end.is_none_or(|e| e > ended_on)
        });
        for other in since {
            let period = match other.end {
                None => format!("since {}", dates::format(other.start)),
                Some(e) => format!("from {} to {}", dates::format(other.start), dates::format(e)),
            };
            if other.cadre_id == post.cadre_id {
                return Err(RosterError::Conflict(format!(
                    "{what} cannot be reinstated: {} ({}) took that post again {period} (post {})",
                    other.cadre_name, other.cadre_id, other.id
                )));
            }
            if posts::is_single_seat(post.kind) {
                let verb = if other.end.is_none() { "holds" } else { "held" };
                return Err(RosterError::Conflict(format!(
                    "{what} cannot be reinstated: {} ({}) {verb} that seat {period} (post {})",
                    other.cadre_name, other.cadre_id, other.id
                )));
            }
        }
        out.push(post.clone());
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

    #[test]
    fn a_sanction_is_revoked_once_on_or_after_its_date_and_not_in_the_future() {
        let (on, today) = (d("2024-06-01"), d("2025-01-01"));
        check_revocation("s1", on, None, on, today).unwrap();
        check_revocation("s1", on, None, today, today).unwrap();
        let before = check_revocation("s1", on, None, d("2024-05-31"), today).unwrap_err();
        assert!(before.to_string().starts_with("date: 2024-05-31 is before"), "{before}");
        let future = check_revocation("s1", on, None, d("2025-01-02"), today).unwrap_err();
        assert!(future.to_string().starts_with("date:"), "{future}");
        let twice = check_revocation("s1", on, Some(d("2024-09-01")), today, today).unwrap_err();
        assert!(matches!(twice, RosterError::Conflict(_)), "{twice}");
        assert!(twice.to_string().contains("already revoked on 2024-09-01"), "{twice}");
    }

    fn dismissed() -> (Vec<String>, Vec<HeldPost>) {
        let ended = vec![
            post("sec", PostKind::PartySecretary, "2021-03-01", Some("2024-06-01")),
            post("dir", PostKind::CommitteeDirector, "2021-03-01", Some("2024-06-01")),
        ];
        (vec!["sec".to_string(), "dir".to_string()], ended)
    }

    fn other(id: &str, cadre: &str, kind: PostKind, start: &str, end: Option<&str>) -> HeldPost {
        HeldPost { cadre_id: cadre.into(), cadre_name: format!("name-{cadre}"), ..post(id, kind, start, end) }
    }

    #[test]
    fn the_dismissed_posts_are_reinstated_while_nobody_took_their_seats() {
        let (ids, ended) = dismissed();
        let mut village = ended.clone();
        // Seats held before the dismissal, and posts with many seats, do not stand in the way.
        village.push(other("before", "c0", PostKind::PartySecretary, "2016-03-01", Some("2021-03-01")));
        village.push(other("old-dir", "c2", PostKind::CommitteeDirector, "2018-03-01", Some("2021-03-01")));
        village.push(other("deputy", "c3", PostKind::PartyDeputySecretary, "2024-07-01", None));
        let back = posts_to_reinstate(d("2024-06-01"), &ids, &ended, &village).unwrap();
        assert_eq!(back.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["sec", "dir"]);
        assert!(posts_to_reinstate(d("2024-06-01"), &[], &[], &village).unwrap().is_empty());
    }

    #[test]
    fn a_seat_held_by_anyone_since_refuses_the_whole_reinstatement_naming_post_and_holder() {
        let (ids, ended) = dismissed();
        let on = d("2024-06-01");
        let mut now_held = ended.clone();
        now_held.push(other("new", "c2", PostKind::CommitteeDirector, "2024-07-01", None));
        let err = posts_to_reinstate(on, &ids, &ended, &now_held).unwrap_err();
        assert!(matches!(err, RosterError::Conflict(_)), "{err}");
        let msg = err.to_string();
        assert!(msg.starts_with("post dir (POST_KIND_COMMITTEE_DIRECTOR of v1)"), "{msg}");
        assert!(msg.contains("name-c2 (c2) holds that seat since 2024-07-01 (post new)"), "{msg}");
        // Someone who held it for a while and left again still blocks it.
        let mut held_meanwhile = ended.clone();
        held_meanwhile.push(other(
            "acting",
            "c2",
            PostKind::PartySecretary,
            "2024-06-01",
            Some("2024-09-01"),
        ));
        let msg = posts_to_reinstate(on, &ids, &ended, &held_meanwhile).unwrap_err().to_string();
        assert!(msg.contains("held that seat from 2024-06-01 to 2024-09-01"), "{msg}");
    }

    #[test]
    fn a_post_the_cadre_took_again_or_that_no_longer_ends_on_the_day_is_not_reinstated() {
        let on = d("2024-06-01");
        let ended = vec![post("mem", PostKind::CommitteeMember, "2021-03-01", Some("2024-06-01"))];
        let ids = vec!["mem".to_string()];
        let mut village = ended.clone();
        village.push(other("m2", "c2", PostKind::CommitteeMember, "2024-07-01", None));
        posts_to_reinstate(on, &ids, &ended, &village).unwrap();
        village.push(post("again", PostKind::CommitteeMember, "2024-08-01", None));
        let msg = posts_to_reinstate(on, &ids, &ended, &village).unwrap_err().to_string();
        assert!(msg.contains("took that post again since 2024-08-01 (post again)"), "{msg}");
        let moved = vec![post("mem", PostKind::CommitteeMember, "2021-03-01", Some("2024-05-01"))];
        let msg = posts_to_reinstate(on, &ids, &moved, &moved).unwrap_err().to_string();
        assert!(msg.contains("no longer ends on the sanction's date 2024-06-01"), "{msg}");
        assert!(posts_to_reinstate(on, &ids, &[], &[]).is_err());
    }
}
