//! Payment confirmations from the finance system: the payment list with its paid_on and
//! payment_reference filled in, read whole and checked row by row before anything is
//! stored (all or nothing), every bad row reported with its field.

use chrono::NaiveDate;

use super::money;

/// The most rows one upload may hold.
pub const MAX_ROWS: usize = 10_000;
/// The largest file accepted.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;

/// One confirmation, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    /// 1-based line of the file, the header being 1.
    pub row: i32,
    pub award_id: String,
    pub amount_fen: i64,
    pub paid_on: String,
    pub reference: String,
}

/// A bad row (0: the file as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub row: i32,
    pub field: String,
    pub message: String,
}

impl RowError {
    pub fn new(row: i32, field: &str, message: impl Into<String>) -> Self {
        Self { row, field: field.into(), message: message.into() }
    }
}

const NEEDED: [&str; 4] = ["award_id", "amount_yuan", "paid_on", "payment_reference"];

/// Reads the file: the rows it could read and every error it found (each award once).
pub fn read(content: &[u8]) -> (Vec<Confirmation>, Vec<RowError>) {
    let mut errors = Vec::new();
    if content.len() > MAX_BYTES {
        errors.push(RowError::new(0, "content", format!("the file is over {MAX_BYTES} bytes")));
        return (Vec::new(), errors);
    }
    let content = content.strip_prefix("\u{feff}".as_bytes()).unwrap_or(content);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(content);
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            errors.push(RowError::new(0, "content", format!("not a CSV file: {e}")));
            return (Vec::new(), errors);
        }
    };
    let mut at = [0usize; 4];
    for (i, name) in NEEDED.iter().enumerate() {
        match headers.iter().position(|h| h.trim() == *name) {
            Some(p) => at[i] = p,
            None => errors.push(RowError::new(1, name, format!("the header has no {name} column"))),
        }
    }
    if !errors.is_empty() {
        return (Vec::new(), errors);
    }
    let mut rows = Vec::new();
    let mut seen = std::collections::BTreeMap::new();
    for (i, record) in reader.records().enumerate() {
        let row = i as i32 + 2;
        if rows.len() + errors.len() >= MAX_ROWS {
            errors.push(RowError::new(row, "content", format!("more than {MAX_ROWS} rows")));
            break;
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError::new(row, "content", e.to_string()));
                continue;
            }
        };
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let cell = |k: usize| record.get(at[k]).unwrap_or("").trim().to_string();
        let award_id = cell(0);
        if award_id.is_empty() || award_id.len() > cadre_kit::fields::MAX_KEY_CHARS {
            errors.push(RowError::new(row, "award_id", "is required (at most 64 characters)"));
            continue;
        }
        if let Some(first) = seen.insert(award_id.clone(), row) {
            errors.push(RowError::new(
                row,
                "award_id",
                format!("award {award_id} is on row {first} already"),
            ));
            continue;
        }
        let amount_fen = match money::parse_yuan("amount_yuan", &cell(1)) {
            Ok(f) => f,
            Err(e) => {
                errors.push(RowError::new(row, "amount_yuan", e.reason));
                continue;
            }
        };
        let paid_on = cell(2);
        if NaiveDate::parse_from_str(&paid_on, "%Y-%m-%d").is_err() {
            errors.push(RowError::new(row, "paid_on", format!("{paid_on:?} is not a date YYYY-MM-DD")));
            continue;
        }
        let reference = cell(3);
        if reference.is_empty() || reference.chars().count() > 64 {
            errors.push(RowError::new(row, "payment_reference", "is required (at most 64 characters)"));
            continue;
        }
        rows.push(Confirmation { row, award_id, amount_fen, paid_on, reference });
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push(RowError::new(0, "content", "the file holds no confirmation"));
    }
    (rows, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filled_in_payment_list_reads_back() {
        let file = "award_id,region_code,amount_yuan,paid_on,payment_reference\n\
                    a1,150525100201,10000.00,2026-12-20,BANK-001\n\
                    a2,150525100202,\"2,055,555.56\",2026-12-20,BANK-002\n";
        let (rows, errors) = read(file.as_bytes());
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rows[1].amount_fen, 205_555_556);
        assert_eq!(rows[1].row, 3);
    }

    #[test]
    fn every_bad_row_is_reported_with_its_field() {
        let file = "award_id,amount_yuan,paid_on,payment_reference\n\
                    a1,10000.005,2026-12-20,B1\n\
                    a2,100,20.12.2026,B2\n\
                    a1,100,2026-12-20,B3\n\
                    a3,100,2026-12-20,\n";
        let (_, errors) = read(file.as_bytes());
        let fields: Vec<_> = errors.iter().map(|e| (e.row, e.field.as_str())).collect();
        assert_eq!(fields, [(2, "amount_yuan"), (3, "paid_on"), (4, "award_id"), (5, "payment_reference")]);
        let (_, errors) = read(b"award_id,amount\nx,1\n");
        assert_eq!(errors[0].row, 1);
    }
}
