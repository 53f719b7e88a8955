//! Orders waiting too long: each county sets how many days an order may stay
//! submitted or matched (rules as data; a region without its own takes its nearest
//! ancestor's, else the default), and every order past it raises an alert.

use std::collections::HashMap;

use cadre_kit::RegionCode;
use cadre_proto::training::v1::OrderState;
use chrono::NaiveDate;

use super::orders::is_waiting;

/// Days an order may wait where no region sets its own.
pub const DEFAULT_MAX_WAIT_DAYS: i32 = 14;

/// The rules in force for `region`: its own, its nearest ancestor's, or the default;
/// with the region they come from (`None` for the default).
pub fn effective(region: &RegionCode, configured: &HashMap<String, i32>) -> (i32, Option<RegionCode>) {
    region
        .lineage()
        .find_map(|r| configured.get(r.as_str()).map(|days| (*days, Some(r))))
        .unwrap_or((DEFAULT_MAX_WAIT_DAYS, None))
}

/// What judging an order needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiting {
    pub order_id: String,
    pub region: RegionCode,
    pub state: OrderState,
    pub submitted: NaiveDate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub order_id: String,
    pub region: RegionCode,
    pub state: OrderState,
    pub submitted: NaiveDate,
    pub days_waiting: i32,
    pub max_wait_days: i32,
}

/// The orders past their county's limit on `as_of`, oldest first.
pub fn overdue(orders: &[Waiting], configured: &HashMap<String, i32>, as_of: NaiveDate) -> Vec<Alert> {
    let mut alerts: Vec<Alert> = orders
        .iter()
        .filter(|o| is_waiting(o.state))
        .filter_map(|o| {
            let (max, _) = effective(&o.region, configured);
            let days = (as_of - o.submitted).num_days() as i32;
            (days > max).then(|| Alert {
                order_id: o.order_id.clone(),
                region: o.region.clone(),
                state: o.state,
                submitted: o.submitted,
                days_waiting: days,
                max_wait_days: max,
            })
        })
        .collect();
    alerts.sort_by(|a, b| a.submitted.cmp(&b.submitted).then(a.order_id.cmp(&b.order_id)));
    alerts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn order(id: &str, region: &str, state: OrderState, submitted: &str) -> Waiting {
        Waiting {
            order_id: id.into(),
            region: RegionCode::parse(region).unwrap(),
            state,
            submitted: d(submitted),
        }
    }

    #[test]
    fn a_countys_own_limit_wins_over_the_citys_and_the_default() {
        let mut configured = HashMap::new();
        configured.insert("150500000000".to_string(), 10);
        let village = RegionCode::parse("150525100201").unwrap();
        assert_eq!(effective(&village, &configured).0, 10);
        configured.insert("150525000000".to_string(), 7);
        let (days, from) = effective(&village, &configured);
        assert_eq!((days, from.unwrap().as_str()), (7, "150525000000"));
        assert_eq!(
            effective(&RegionCode::parse("150601100201").unwrap(), &configured),
            (DEFAULT_MAX_WAIT_DAYS, None)
        );
    }

    #[test]
    fn only_orders_still_waiting_past_the_limit_raise_alerts() {
        let configured: HashMap<String, i32> = [("150525000000".to_string(), 7)].into();
        let orders = [
            order("late", "150525100201", OrderState::Submitted, "2026-05-01"),
            order("matched-late", "150525100202", OrderState::Matched, "2026-05-02"),
            order("on-time", "150525100201", OrderState::Submitted, "2026-05-09"),
            order("scheduled", "150525100201", OrderState::Scheduled, "2026-04-01"),
            order("elsewhere", "150526100201", OrderState::Submitted, "2026-05-01"),
        ];
        let alerts = overdue(&orders, &configured, d("2026-05-10"));
        let ids: Vec<&str> = alerts.iter().map(|a| a.order_id.as_str()).collect();
        assert_eq!(ids, ["late", "matched-late"], "the next county waits the default 14 days");
        assert_eq!((alerts[0].days_waiting, alerts[0].max_wait_days), (9, 7));
    }
}
