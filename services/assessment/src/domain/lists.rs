//! Positive and negative lists (正负面清单): per county and year, lists of items with
//! points — a positive list adds ("eight goods"), a negative list deducts ("ten don'ts") —
//! and a cap per list. Events are recorded against a village (or its cadre) with an
//! evidence note; a village's adjustment from one list is the sum of its events' points,
//! never beyond the list's cap. All points in tenths.

use std::collections::{BTreeMap, BTreeSet};

use cadre_kit::fields;
use serde::{Deserialize, Serialize};

use super::RuleError;
use super::points::{MAX_TENTHS, show};
use super::scheme::{MAX_CODE, MAX_NAME};

pub const MAX_LISTS: usize = 10;
pub const MAX_LIST_ITEMS: usize = 100;
pub const MAX_EVIDENCE_NOTE: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    /// Adds points.
    Positive,
    /// Deducts points.
    Negative,
}

impl ListKind {
    pub fn sign(self) -> i64 {
        match self {
            ListKind::Positive => 1,
            ListKind::Negative => -1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListItem {
    pub code: String,
    pub name: String,
    /// Tenths, positive; the list's kind says whether it adds or deducts.
    pub points: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct List {
    pub code: String,
    pub name: String,
    pub kind: ListKind,
    /// Tenths: the most the list adds to (or deducts from) one village in the year.
    pub cap: i32,
    pub items: Vec<ListItem>,
}

/// The lists of a county's year.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lists {
    pub lists: Vec<List>,
}

impl Lists {
    /// Bounded fields, unique codes, points and caps above zero and at most 1,000.0.
    pub fn validate(&self) -> Result<(), RuleError> {
        if self.lists.len() > MAX_LISTS {
            return Err(RuleError::invalid("lists", format!("at most {MAX_LISTS} lists")));
        }
        let mut codes = BTreeSet::new();
        for (i, l) in self.lists.iter().enumerate() {
            let at = format!("lists[{i}]");
            fields::text(&format!("{at}.code"), &l.code, true, MAX_CODE)?;
            fields::text(&format!("{at}.name"), &l.name, true, MAX_NAME)?;
            if !codes.insert(l.code.as_str()) {
                return Err(RuleError::invalid(format!("{at}.code"), format!("{} is given twice", l.code)));
            }
            if l.cap <= 0 || l.cap > MAX_TENTHS {
                return Err(RuleError::invalid(
                    format!("{at}.cap"),
                    format!("must be above 0 and at most {}", show(MAX_TENTHS)),
                ));
            }
            if l.items.is_empty() || l.items.len() > MAX_LIST_ITEMS {
                return Err(RuleError::invalid(
                    format!("{at}.items"),
                    format!("1 to {MAX_LIST_ITEMS} items"),
                ));
            }
            let mut items = BTreeSet::new();
            for (j, it) in l.items.iter().enumerate() {
                let at = format!("{at}.items[{j}]");
                fields::text(&format!("{at}.code"), &it.code, true, MAX_CODE)?;
                fields::text(&format!("{at}.name"), &it.name, true, MAX_NAME)?;
                if !items.insert(it.code.as_str()) {
                    return Err(RuleError::invalid(
                        format!("{at}.code"),
                        format!("{} is given twice", it.code),
                    ));
                }
                if it.points <= 0 || it.points > l.cap {
                    return Err(RuleError::invalid(
                        format!("{at}.points"),
                        format!("must be above 0 and at most the list's cap {}", show(l.cap)),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The list and item an event names, or the field that is wrong.
    pub fn item(&self, list: &str, item: &str) -> Result<(&List, &ListItem), RuleError> {
        let l =
            self.lists.iter().find(|l| l.code == list).ok_or_else(|| {
                RuleError::invalid("list_code", format!("{list:?} is not a list of this year"))
            })?;
        let it = l.items.iter().find(|i| i.code == item).ok_or_else(|| {
            RuleError::invalid("item_code", format!("{item:?} is not an item of list {}", l.code))
        })?;
        Ok((l, it))
    }
}

/// An event as the computation reads it: which village, which list and item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub village_code: String,
    pub list_code: String,
    pub item_code: String,
}

/// One village's adjustment from one list: the raw sum of its events, what counts after
/// the cap (signed), and how many events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    pub list_code: String,
    pub kind: ListKind,
    pub events: u32,
    /// Tenths, unsigned, before the cap.
    pub raw: i64,
    /// Tenths, signed, within the cap.
    pub counted: i64,
    pub capped: bool,
}

/// Each village's adjustments, per list, within the caps. Events naming a list or item
/// the lists no longer hold are skipped (recording refuses them; lists are checked then).
pub fn adjustments(lists: &Lists, events: &[Event]) -> BTreeMap<String, Vec<Adjustment>> {
    let mut sums: BTreeMap<(String, String), (i64, u32)> = BTreeMap::new();
    for e in events {
        if let Ok((_, it)) = lists.item(&e.list_code, &e.item_code) {
            let s = sums.entry((e.village_code.clone(), e.list_code.clone())).or_default();
            s.0 += i64::from(it.points);
            s.1 += 1;
        }
    }
    let mut out: BTreeMap<String, Vec<Adjustment>> = BTreeMap::new();
    for ((village, list_code), (raw, events)) in sums {
        let Some(l) = lists.lists.iter().find(|l| l.code == list_code) else { continue };
        let within = raw.min(i64::from(l.cap));
        out.entry(village).or_default().push(Adjustment {
            list_code,
            kind: l.kind,
            events,
            raw,
            counted: l.kind.sign() * within,
            capped: raw > i64::from(l.cap),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Lists {
        Lists {
            lists: vec![
                List {
                    code: "GOOD".into(),
                    name: "八个好".into(),
                    kind: ListKind::Positive,
                    cap: 50,
                    items: vec![ListItem { code: "G1".into(), name: "班子好".into(), points: 20 }],
                },
                List {
                    code: "DONT".into(),
                    name: "十不准".into(),
                    kind: ListKind::Negative,
                    cap: 100,
                    items: vec![
                        ListItem { code: "N1".into(), name: "违规用地".into(), points: 30 },
                        ListItem { code: "N2".into(), name: "账目不清".into(), points: 100 },
                    ],
                },
            ],
        }
    }

    fn ev(v: &str, l: &str, i: &str) -> Event {
        Event { village_code: v.into(), list_code: l.into(), item_code: i.into() }
    }

    #[test]
    fn positive_adds_negative_deducts_within_each_cap() {
        let l = sample();
        l.validate().unwrap();
        let events =
            [ev("v1", "GOOD", "G1"), ev("v1", "GOOD", "G1"), ev("v1", "GOOD", "G1"), ev("v1", "DONT", "N1")];
        let a = adjustments(&l, &events);
        let v1 = &a["v1"];
        let good = v1.iter().find(|a| a.list_code == "GOOD").unwrap();
        assert_eq!((good.raw, good.counted, good.capped, good.events), (60, 50, true, 3));
        let dont = v1.iter().find(|a| a.list_code == "DONT").unwrap();
        assert_eq!((dont.raw, dont.counted, dont.capped), (30, -30, false));
        let capped = adjustments(&l, &[ev("v2", "DONT", "N2"), ev("v2", "DONT", "N1")]);
        assert_eq!(capped["v2"][0].counted, -100);
    }

    #[test]
    fn bad_lists_and_unknown_items_are_refused_naming_the_field() {
        let mut l = sample();
        l.lists[1].items[0].points = 200;
        assert!(l.validate().unwrap_err().to_string().starts_with("lists[1].items[0].points"));
        let mut l = sample();
        l.lists[0].cap = 0;
        assert!(l.validate().unwrap_err().to_string().starts_with("lists[0].cap"));
        let mut l = sample();
        l.lists[1].code = "GOOD".into();
        assert!(l.validate().unwrap_err().to_string().starts_with("lists[1].code"));
        let l = sample();
        assert!(l.item("NOPE", "G1").unwrap_err().to_string().starts_with("list_code"));
        assert!(l.item("GOOD", "N1").unwrap_err().to_string().starts_with("item_code"));
    }
}
