//! Coverage: each serving cadre's hours of a year against what their posts require,
//! rolled up by region, and the catch-all list (兜底) of those short of it.

use std::collections::BTreeMap;

/// What judging one cadre needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub cadre_id: String,
    pub name: String,
    pub region_code: String,
    pub post_kinds: Vec<i32>,
    pub hours_tenths: i64,
    pub required_tenths: i64,
}

impl Subject {
    pub fn short_tenths(&self) -> i64 {
        (self.required_tenths - self.hours_tenths).max(0)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub cadres: i64,
    pub covered: i64,
    pub short: i64,
    pub untrained: i64,
    pub short_tenths: i64,
}

impl Tally {
    pub fn add(&mut self, s: &Subject) {
        self.cadres += 1;
        if s.short_tenths() > 0 {
            self.short += 1;
            self.short_tenths += s.short_tenths();
        } else {
            self.covered += 1;
        }
        if s.hours_tenths <= 0 {
            self.untrained += 1;
        }
    }
}

/// The report over `subjects` (those whose posts require hours): the total, a tally per
/// child region (`child_of` names the region a level down a cadre falls in), and the
/// catch-all list: the largest shortfall first, then by name and id.
pub fn report(
    subjects: &[Subject],
    child_of: impl Fn(&str) -> Option<String>,
) -> (Tally, BTreeMap<String, Tally>, Vec<Subject>) {
    let mut total = Tally::default();
    let mut children: BTreeMap<String, Tally> = BTreeMap::new();
    for s in subjects.iter().filter(|s| s.required_tenths > 0) {
        total.add(s);
        if let Some(child) = child_of(&s.region_code) {
            children.entry(child).or_default().add(s);
        }
    }
    let mut catch_all: Vec<Subject> =
        subjects.iter().filter(|s| s.required_tenths > 0 && s.short_tenths() > 0).cloned().collect();
    catch_all.sort_by(|a, b| {
        b.short_tenths().cmp(&a.short_tenths()).then(a.name.cmp(&b.name)).then(a.cadre_id.cmp(&b.cadre_id))
    });
    (total, children, catch_all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cadre(id: &str, village: &str, hours: i64, required: i64) -> Subject {
        Subject {
            cadre_id: id.into(),
            name: id.into(),
            region_code: village.into(),
            post_kinds: vec![1],
            hours_tenths: hours,
            required_tenths: required,
        }
    }

    #[test]
    fn those_short_are_listed_the_largest_gap_first_and_rolled_up() {
        let subjects = [
            cadre("a", "150525100201", 320, 320),
            cadre("b", "150525100201", 120, 320),
            cadre("c", "150525100202", 0, 320),
            cadre("d", "150525200201", 400, 320),
            cadre("e", "150525200201", 0, 0),
        ];
        let (total, children, list) = report(&subjects, |v| Some(format!("{}000", &v[..9])));
        assert_eq!(total, Tally { cadres: 4, covered: 2, short: 2, untrained: 1, short_tenths: 520 });
        assert_eq!(list.iter().map(|s| s.cadre_id.as_str()).collect::<Vec<_>>(), ["c", "b"]);
        assert_eq!(children["150525100000"].short, 2);
        assert_eq!(children["150525200000"], Tally { cadres: 1, covered: 1, ..Tally::default() });
        assert!(!children.contains_key("150525300000"));
    }

    #[test]
    fn hours_over_the_requirement_do_not_count_as_negative_shortfall() {
        assert_eq!(cadre("x", "v", 500, 320).short_tenths(), 0);
    }
}
