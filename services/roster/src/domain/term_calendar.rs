//! The term calendar (换届): the general elections held and the cycle after them, as
//! data, answering which term (届) a date falls in, when a term starts and ends, which
//! election comes next and which term came before.
//!
//! A term is named by its election year (a post's `term`, e.g. 2021). The general
//! election runs across its whole year, each village on its own day, so the calendar
//! reckons a term from 1 January of its election year and lets it run until the next
//! election year closes: until then a village's outgoing committee may still serve.
//! Consecutive terms therefore overlap for one year; a date in an election year falls
//! in the new term.

use chrono::{Datelike, NaiveDate};

use crate::error::RosterError;

/// Election years a calendar may name (post terms are checked against the same range).
const YEARS: std::ops::RangeInclusive<i32> = 1949..=2200;
/// Projected elections stop here: dates are written YYYY-MM-DD.
const LAST_PROJECTED_YEAR: i32 = 9999;
/// A cycle longer than this is a typo, not a calendar.
const MAX_CYCLE_YEARS: i32 = 20;

/// One term on the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    /// The election year that names it.
    pub year: i32,
    /// 1 January of the election year.
    pub start: NaiveDate,
    /// 31 December of the next election year: its committees' last possible day.
    pub end: NaiveDate,
}

/// The general elections held (the first is the earliest term the calendar knows)
/// and the cycle that schedules the ones after the last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermCalendar {
    /// Ascending, at least one.
    held: Vec<i32>,
    cycle_years: i32,
}

impl Default for TermCalendar {
    /// The province's: every five years, last in 2021 (terms 2016, 2021, 2026, …).
    fn default() -> Self {
        Self { held: vec![2016, 2021], cycle_years: 5 }
    }
}

/// 1 January of `year`; callers keep `year` within 1949..=9999 + a cycle, where it exists.
fn first_day(year: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, 1, 1).expect("1 January exists in every year the calendar names")
}

fn last_day(year: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, 12, 31).expect("31 December exists in every year the calendar names")
}

impl TermCalendar {
    /// A calendar of the elections `held` (ascending years) and the `cycle_years`
    /// between the last of them and each later one.
    pub fn new(held: Vec<i32>, cycle_years: i32) -> Result<Self, RosterError> {
        if held.is_empty() {
            return Err(RosterError::invalid("held", "must list at least one election year"));
        }
        for (i, year) in held.iter().enumerate() {
            if !YEARS.contains(year) {
                return Err(RosterError::invalid(
                    format!("held[{i}]"),
                    format!("{year} is not an election year within {}..={}", YEARS.start(), YEARS.end()),
                ));
            }
            if i > 0 && *year <= held[i - 1] {
                return Err(RosterError::invalid(
                    format!("held[{i}]"),
                    format!("{year} is not after {}", held[i - 1]),
                ));
            }
        }
        if !(1..=MAX_CYCLE_YEARS).contains(&cycle_years) {
            return Err(RosterError::invalid(
                "cycle_years",
                format!("must be within 1..={MAX_CYCLE_YEARS}, got {cycle_years}"),
            ));
        }
        Ok(Self { held, cycle_years })
    }

    pub fn cycle_years(&self) -> i32 {
        self.cycle_years
    }

    fn first(&self) -> i32 {
        self.held[0]
    }

    fn last(&self) -> i32 {
        self.held[self.held.len() - 1]
    }

    fn is_election(&self, year: i32) -> bool {
        if year <= self.last() {
            return self.held.binary_search(&year).is_ok();
        }
        year <= LAST_PROJECTED_YEAR && (year - self.last()) % self.cycle_years == 0
    }

    /// The election after the one of `year` (an election year).
    fn election_after(&self, year: i32) -> Option<i32> {
        let next = match self.held.binary_search(&year) {
            Ok(i) if i + 1 < self.held.len() => self.held[i + 1],
            _ => year + self.cycle_years,
        };
        (next <= LAST_PROJECTED_YEAR).then_some(next)
    }

    /// The term elected in `year`, if the calendar has an election that year.
    pub fn term(&self, year: i32) -> Option<Term> {
        if !self.is_election(year) {
            return None;
        }
        let next = self.election_after(year)?;
        Some(Term { year, start: first_day(year), end: last_day(next) })
    }

    /// The term of the last election held: the one in office until the calendar
    /// learns of the next.
    pub fn last_held(&self) -> Term {
        let year = self.last();
        Term { year, start: first_day(year), end: last_day(year + self.cycle_years) }
    }

    /// The term `day` falls in: the latest one begun by then (in an election year,
    /// the new one). `None` before the first term the calendar knows.
    pub fn term_of(&self, day: NaiveDate) -> Option<Term> {
        let year = day.year();
        if year < self.first() {
            return None;
        }
        let elected = if year <= self.last() {
            self.held.iter().copied().take_while(|y| *y <= year).last()?
        } else {
            self.last() + (year - self.last()) / self.cycle_years * self.cycle_years
        };
        self.term(elected)
    }

    /// The term the next election after `day` begins (an election year's own
    /// election is under way, not next).
    pub fn next_election(&self, day: NaiveDate) -> Option<Term> {
        let next = match self.term_of(day) {
            Some(current) => self.election_after(current.year)?,
            None => self.first(),
        };
        self.term(next)
    }

    /// The term before the one elected in `year`; `None` for the first the calendar
    /// knows, or when `year` is no election year.
    pub fn term_before(&self, year: i32) -> Option<Term> {
        if !self.is_election(year) {
            return None;
        }
        let before = match self.held.binary_search(&year) {
            Ok(0) => return None,
            Ok(i) => self.held[i - 1],
            Err(_) => year - self.cycle_years,
        };
        self.term(before)
    }

    /// The day a term named `year` is reckoned from, on the calendar or not (a post
    /// may name a term the calendar does not list): 1 January of that year.
    pub fn start_of(&self, year: i32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(year, 1, 1)
    }

    /// The last year a post of the term named `year` may start in: the next
    /// election's year (one cycle on, for a term the calendar does not list).
    pub fn last_start_year(&self, year: i32) -> i32 {
        self.term(year).map_or(year + self.cycle_years, |t| t.end.year())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        crate::domain::dates::parse("d", s).unwrap()
    }

    fn province() -> TermCalendar {
        TermCalendar::default()
    }

    #[test]
    fn the_2021_term_runs_from_its_election_year_until_the_2026_election_closes() {
        let t = province().term(2021).unwrap();
        assert_eq!((t.start, t.end), (d("2021-01-01"), d("2026-12-31")));
        assert_eq!(province().last_held(), t);
    }

    #[test]
    fn dates_either_side_of_the_2021_election_fall_in_the_terms_it_separates() {
        let cal = province();
        assert_eq!(cal.term_of(d("2020-12-31")).map(|t| t.year), Some(2016));
        assert_eq!(cal.term_of(d("2021-01-01")).map(|t| t.year), Some(2021));
        assert_eq!(cal.term_of(d("2021-05-20")).map(|t| t.year), Some(2021));
    }

    #[test]
    fn the_2026_election_the_calendar_schedules_begins_the_next_term() {
        let cal = province();
        assert_eq!(cal.term_of(d("2025-12-31")).map(|t| t.year), Some(2021));
        let in_2026 = cal.term_of(d("2026-01-01")).unwrap();
        assert_eq!((in_2026.year, in_2026.end), (2026, d("2031-12-31")));
        // The old term has not closed everywhere yet: the election year is shared.
        assert!(cal.term(2021).unwrap().end >= d("2026-06-30"));
        assert_eq!(cal.term_of(d("2033-03-01")).map(|t| t.year), Some(2031));
    }

    #[test]
    fn the_next_election_follows_the_term_a_date_falls_in() {
        let cal = province();
        assert_eq!(cal.next_election(d("2025-12-31")).map(|t| t.year), Some(2026));
        assert_eq!(cal.next_election(d("2026-06-01")).map(|t| t.year), Some(2031));
        assert_eq!(cal.next_election(d("2018-03-01")).map(|t| t.year), Some(2021));
        assert_eq!(cal.next_election(d("2010-01-01")).map(|t| t.year), Some(2016));
    }

    #[test]
    fn a_date_before_the_first_known_term_falls_in_none() {
        let cal = province();
        assert_eq!(cal.term_of(d("2015-12-31")), None);
        assert_eq!(cal.term_of(d("1990-06-01")), None);
        assert_eq!(cal.term_before(2016), None);
        assert_eq!(cal.term(2011), None);
    }

    #[test]
    fn the_term_before_steps_back_over_held_and_scheduled_elections() {
        let cal = province();
        assert_eq!(cal.term_before(2021).map(|t| t.year), Some(2016));
        assert_eq!(cal.term_before(2026).map(|t| t.year), Some(2021));
        assert_eq!(cal.term_before(2031).map(|t| t.year), Some(2026));
        assert_eq!(cal.term_before(2024), None, "no election in 2024");
    }

    #[test]
    fn irregular_past_elections_are_data_and_the_cycle_takes_over_after_the_last() {
        // Three-year terms until 2018, then five (as the 2018 law changed them).
        let cal = TermCalendar::new(vec![2015, 2018, 2021], 5).unwrap();
        assert_eq!(cal.term(2015).unwrap().end, d("2018-12-31"));
        assert_eq!(cal.term_of(d("2019-07-01")).map(|t| t.year), Some(2018));
        assert_eq!(cal.term_before(2021).map(|t| t.year), Some(2018));
        assert_eq!(cal.next_election(d("2022-01-01")).map(|t| t.year), Some(2026));
        assert_eq!(cal.last_start_year(2015), 2018);
        assert_eq!(cal.last_start_year(2019), 2024, "a term off the calendar spans one cycle");
    }

    #[test]
    fn a_calendar_is_refused_naming_what_is_wrong() {
        let err = |held: Vec<i32>, cycle| TermCalendar::new(held, cycle).unwrap_err().to_string();
        assert!(err(vec![], 5).starts_with("held: "));
        assert_eq!(err(vec![2021, 2016], 5), "held[1]: 2016 is not after 2021");
        assert!(err(vec![1900], 5).starts_with("held[0]: 1900 is not an election year"));
        assert_eq!(err(vec![2021], 0), "cycle_years: must be within 1..=20, got 0");
        assert_eq!(TermCalendar::new(vec![2016, 2021], 5).unwrap(), province());
    }
}
