//! A fixed award shared among qualifying villages (e.g. 72 villages sharing 1.48
//! million yuan), equally or in proportion to income, exact to the fen: each part is
//! rounded down, and the fen left over go one each to the largest remainders, ties
//! broken by the village's code — never by the order rows arrive in — so the parts
//! always add up to the total and the same villages always get the same parts.

use cadre_kit::fields::FieldError;

/// One qualifying share: who (a unique key, e.g. the village code) and its weight
/// (1 for an equal split, the income in fen for a split by income).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share<'a> {
    pub key: &'a str,
    pub weight: i64,
}

/// The parts of `total` fen for `shares`, in the order given; `field` names the list
/// in errors. Refused: no shares, a key twice, a negative weight, all weights zero.
pub fn split(field: &str, total: i64, shares: &[Share<'_>]) -> Result<Vec<i64>, FieldError> {
    if shares.is_empty() {
        return Err(FieldError::new(field, "must name at least one qualifying village"));
    }
    if total < 0 {
        return Err(FieldError::new(field, "the total to share must not be negative"));
    }
    let mut keys: Vec<&str> = shares.iter().map(|s| s.key).collect();
    keys.sort_unstable();
    if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
        return Err(FieldError::new(field, format!("{} is named twice", w[0])));
    }
    if let Some((i, s)) = shares.iter().enumerate().find(|(_, s)| s.weight < 0) {
        return Err(FieldError::new(format!("{field}[{i}]"), format!("weight {} is negative", s.weight)));
    }
    let sum: i128 = shares.iter().map(|s| i128::from(s.weight)).sum();
    if sum == 0 {
        return Err(FieldError::new(field, "the weights add up to zero: nothing to share by"));
    }
    let total = i128::from(total);
    let mut parts: Vec<i128> = shares.iter().map(|s| total * i128::from(s.weight) / sum).collect();
    let left = total - parts.iter().sum::<i128>();
    // Largest remainder first; equal remainders in the order of the keys.
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| {
        let ra = total * i128::from(shares[a].weight) % sum;
        let rb = total * i128::from(shares[b].weight) % sum;
        rb.cmp(&ra).then_with(|| shares[a].key.cmp(shares[b].key))
    });
    // Fewer fen are left over than there are shares (each remainder is below one fen).
    for &i in order.iter().take(left as usize) {
        parts[i] += 1;
    }
    Ok(parts.into_iter().map(|p| p as i64).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn equal(keys: &[String]) -> Vec<Share<'_>> {
        keys.iter().map(|k| Share { key: k, weight: 1 }).collect()
    }

    #[test]
    fn seventy_two_villages_share_1_48_million_yuan_to_the_fen() {
        let keys: Vec<String> = (1..=72).map(|i| format!("150525100{i:03}")).collect();
        let parts = split("villages", 148_000_000, &equal(&keys)).unwrap();
        assert_eq!(parts.iter().sum::<i64>(), 148_000_000);
        // 148,000,000 / 72 = 2,055,555.55…: 40 villages get 2,055,556 fen, 32 get one less,
        // the extra fen going to the lowest codes.
        assert_eq!(parts.iter().filter(|&&p| p == 2_055_556).count(), 40);
        assert_eq!(parts.iter().filter(|&&p| p == 2_055_555).count(), 32);
        assert_eq!(parts[0], 2_055_556);
        assert_eq!(parts[71], 2_055_555);
    }

    #[test]
    fn by_income_the_larger_income_gets_the_larger_part() {
        let shares = [
            Share { key: "b", weight: 60_000_000 },
            Share { key: "a", weight: 50_000_000 },
            Share { key: "c", weight: 100_000_000 },
        ];
        let parts = split("villages", 100_000, &shares).unwrap();
        assert_eq!(parts.iter().sum::<i64>(), 100_000);
        assert_eq!(parts, [28_571, 23_810, 47_619]);
    }

    #[test]
    fn ties_go_by_key_never_by_row_order() {
        let keys: Vec<String> = ["c", "a", "b"].iter().map(|s| s.to_string()).collect();
        let parts = split("villages", 100, &equal(&keys)).unwrap();
        // 100 / 3: one fen left over, to "a" whichever row it came in.
        assert_eq!(parts, [33, 34, 33]);
    }

    #[test]
    fn nonsense_is_refused_naming_the_field() {
        assert_eq!(split("villages", 1, &[]).unwrap_err().field, "villages");
        let twice = [Share { key: "a", weight: 1 }, Share { key: "a", weight: 1 }];
        assert!(split("villages", 1, &twice).unwrap_err().reason.contains("twice"));
        let negative = [Share { key: "a", weight: 1 }, Share { key: "b", weight: -1 }];
        assert_eq!(split("villages", 1, &negative).unwrap_err().field, "villages[1]");
        let zero = [Share { key: "a", weight: 0 }];
        assert!(split("villages", 1, &zero).is_err());
    }

    /// A small deterministic generator (no dependency for property tests).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    #[test]
    fn property_parts_always_add_up_and_do_not_depend_on_row_order() {
        let mut rng = Lcg(12);
        for _ in 0..2_000 {
            let n = 1 + (rng.next() % 80) as usize;
            let total = (rng.next() % 200_000_000) as i64;
            let keys: Vec<String> = (0..n).map(|i| format!("k{:04}", (i * 7919) % 10_000)).collect();
            let by_income = rng.next().is_multiple_of(2);
            let weights: Vec<i64> =
                (0..n).map(|_| if by_income { (rng.next() % 3_000_000_000) as i64 } else { 1 }).collect();
            if weights.iter().all(|w| *w == 0) {
                continue;
            }
            let shares: Vec<Share<'_>> =
                keys.iter().zip(&weights).map(|(k, w)| Share { key: k, weight: *w }).collect();
            let parts = split("v", total, &shares).unwrap();
            assert_eq!(parts.iter().sum::<i64>(), total);
            let sum_w: i128 = weights.iter().map(|w| i128::from(*w)).sum();
            for (p, w) in parts.iter().zip(&weights) {
                let exact = i128::from(total) * i128::from(*w);
                // Each part is its exact share rounded down or up by at most one fen.
                assert!(i128::from(*p) * sum_w <= exact + sum_w && i128::from(*p) * sum_w >= exact - sum_w);
            }
            // Reversed rows: every key gets the same part.
            let mut reversed = shares.clone();
            reversed.reverse();
            let mut again = split("v", total, &reversed).unwrap();
            again.reverse();
            assert_eq!(parts, again);
        }
    }
}
