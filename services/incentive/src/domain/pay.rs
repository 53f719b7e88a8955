//! Pay scales (四岗十五级): a whole grid of base pay, every post class × level present,
//! each cell non-negative and bounded; and a cadre's base pay read from it.

use cadre_kit::RegionCode;
use cadre_kit::fields::{self, FieldError};
use cadre_kit::region_code::RegionLevel;

/// The highest monthly base pay a cell may hold: 100,000 yuan.
pub const MAX_CELL_FEN: i64 = 10_000_000;
pub const MAX_CLASSES: usize = 10;
pub const MAX_LEVELS: i32 = 30;

/// A validated scale.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Scale {
    pub level_count: i32,
    /// (class name, base pay per level in fen).
    pub classes: Vec<(String, Vec<i64>)>,
}

/// Where a scale (or rule, or pool) may be kept: a county, city or province.
pub fn keeper(field: &str, code: &str) -> Result<RegionCode, FieldError> {
    let region = fields::region(field, code)?;
    match region.level() {
        RegionLevel::Province | RegionLevel::City | RegionLevel::County => Ok(region),
        level => {
            Err(FieldError::new(field, format!("must be a county, city or province, not a {}", level.name())))
        }
    }
}

/// Validates a grid given as `(name, cells)` per class; `field` is the scale's path.
pub fn validate(field: &str, level_count: i32, classes: &[(String, Vec<i64>)]) -> Result<Scale, FieldError> {
    if !(1..=MAX_LEVELS).contains(&level_count) {
        return Err(FieldError::new(
            format!("{field}.level_count"),
            format!("must be 1..={MAX_LEVELS}, got {level_count}"),
        ));
    }
    if classes.is_empty() || classes.len() > MAX_CLASSES {
        return Err(FieldError::new(
            format!("{field}.classes"),
            format!("must hold 1..={MAX_CLASSES} post classes, got {}", classes.len()),
        ));
    }
    let mut out = Vec::with_capacity(classes.len());
    for (i, (name, cells)) in classes.iter().enumerate() {
        let name = fields::text(&format!("{field}.classes[{i}].name"), name, true, 50)?;
        if out.iter().any(|(n, _): &(String, Vec<i64>)| *n == name) {
            return Err(FieldError::new(
                format!("{field}.classes[{i}].name"),
                format!("{name:?} is named twice"),
            ));
        }
        let cells_field = format!("{field}.classes[{i}].base_pay_fen");
        if cells.len() != level_count as usize {
            return Err(FieldError::new(
                cells_field,
                format!("must hold one cell per level ({level_count}), got {}", cells.len()),
            ));
        }
        for (l, fen) in cells.iter().enumerate() {
            if !(0..=MAX_CELL_FEN).contains(fen) {
                return Err(FieldError::new(
                    format!("{cells_field}[{l}]"),
                    format!("must be 0..={MAX_CELL_FEN} fen, got {fen}"),
                ));
            }
        }
        out.push((name, cells.clone()));
    }
    Ok(Scale { level_count, classes: out })
}

impl Scale {
    /// The base pay of `post_class` and `level` (both 1-based), with the class's name.
    pub fn base_pay(&self, post_class: i32, level: i32) -> Result<(&str, i64), FieldError> {
        let class = usize::try_from(post_class)
            .ok()
            .and_then(|c| c.checked_sub(1))
            .and_then(|c| self.classes.get(c))
            .ok_or_else(|| {
                FieldError::new("post_class", format!("must be 1..={}, got {post_class}", self.classes.len()))
            })?;
        if !(1..=self.level_count).contains(&level) {
            return Err(FieldError::new("level", format!("must be 1..={}, got {level}", self.level_count)));
        }
        Ok((&class.0, class.1[level as usize - 1]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 四岗十五级: four classes, fifteen levels, 100 yuan a level apart.
    pub fn four_by_fifteen() -> Vec<(String, Vec<i64>)> {
        ["一岗", "二岗", "三岗", "四岗"]
            .iter()
            .enumerate()
            .map(|(c, n)| {
                (n.to_string(), (0..15).map(|l| 300_000 - c as i64 * 50_000 + l * 10_000).collect())
            })
            .collect()
    }

    #[test]
    fn four_posts_fifteen_levels_is_a_whole_grid() {
        let scale = validate("scale", 15, &four_by_fifteen()).unwrap();
        assert_eq!(scale.base_pay(1, 1).unwrap(), ("一岗", 300_000));
        assert_eq!(scale.base_pay(4, 15).unwrap(), ("四岗", 290_000));
        assert_eq!(scale.base_pay(5, 1).unwrap_err().field, "post_class");
        assert_eq!(scale.base_pay(1, 16).unwrap_err().field, "level");
        assert_eq!(scale.base_pay(0, 1).unwrap_err().field, "post_class");
    }

    #[test]
    fn a_missing_negative_or_huge_cell_is_refused_naming_it() {
        let mut grid = four_by_fifteen();
        grid[2].1.pop();
        assert_eq!(validate("scale", 15, &grid).unwrap_err().field, "scale.classes[2].base_pay_fen");
        let mut grid = four_by_fifteen();
        grid[1].1[3] = -1;
        assert_eq!(validate("scale", 15, &grid).unwrap_err().field, "scale.classes[1].base_pay_fen[3]");
        let mut grid = four_by_fifteen();
        grid[0].1[0] = MAX_CELL_FEN + 1;
        assert!(validate("scale", 15, &grid).is_err());
        assert_eq!(validate("scale", 0, &four_by_fifteen()).unwrap_err().field, "scale.level_count");
        assert_eq!(validate("scale", 15, &[]).unwrap_err().field, "scale.classes");
        let mut grid = four_by_fifteen();
        grid[1].0 = "一岗".into();
        assert_eq!(validate("scale", 15, &grid).unwrap_err().field, "scale.classes[1].name");
    }

    #[test]
    fn scales_are_kept_by_counties_and_above() {
        assert!(keeper("r", "150525000000").is_ok());
        assert!(keeper("r", "150525100000").unwrap_err().reason.contains("township"));
        assert!(keeper("r", "15").is_err());
    }
}
