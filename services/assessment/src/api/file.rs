//! Reading an uploaded sheet, CSV or XLSX, into text cells (header row first); as the
//! roster's import reads its template. Failures name what is wrong with the file as a
//! whole; the rows are checked by `domain::sheet`.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};

/// A file's cells: the header row and the data rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

pub fn read(format: Format, content: &[u8]) -> Result<Table, String> {
    if content.is_empty() {
        return Err("the file is empty".into());
    }
    match format {
        Format::Csv => read_csv(content),
        Format::Xlsx => read_xlsx(content),
    }
}

fn read_csv(content: &[u8]) -> Result<Table, String> {
    if content.starts_with(b"PK\x03\x04") {
        return Err("this is a zip/XLSX file, not CSV: send it with format XLSX".into());
    }
    let content = content.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(content);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(content);
    let mut records = reader.records();
    let headers: Vec<String> = match records.next() {
        None => return Err("the file has no header row".into()),
        Some(r) => r.map_err(csv_error)?.iter().map(|s| s.trim().to_string()).collect(),
    };
    let mut rows = Vec::new();
    for record in records {
        rows.push(record.map_err(csv_error)?.iter().map(str::to_string).collect());
    }
    Ok(Table { headers, rows })
}

fn csv_error(e: csv::Error) -> String {
    let line = e.position().map(|p| format!(" at line {}", p.line())).unwrap_or_default();
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => format!("not UTF-8 text{line}: save the CSV as UTF-8"),
        _ => format!("malformed CSV{line}: {e}"),
    }
}

fn read_xlsx(content: &[u8]) -> Result<Table, String> {
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(content))
        .map_err(|e| format!("not a readable XLSX workbook (cut short or another format?): {e}"))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or("the workbook has no sheet")?
        .map_err(|e| format!("the first sheet cannot be read: {e}"))?;
    let mut rows = range.rows().map(|r| r.iter().map(cell_text).collect::<Vec<String>>());
    let headers = rows.next().ok_or("the first sheet has no header row")?;
    Ok(Table { headers: headers.into_iter().map(|h| h.trim().to_string()).collect(), rows: rows.collect() })
}

/// A cell as typed: integral numbers without ".0", others to one decimal when they are one.
fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
        Data::Float(f) if ((f * 10.0).round() - f * 10.0).abs() < 1e-9 => format!("{f:.1}"),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => dt.as_f64().to_string(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// The column of each of `wanted` (by any of its names), or the first one missing.
pub fn columns<const N: usize>(headers: &[String], wanted: [&[&str]; N]) -> Result<[usize; N], String> {
    let mut out = [0; N];
    for (i, names) in wanted.iter().enumerate() {
        out[i] = headers
            .iter()
            .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)))
            .ok_or_else(|| format!("the header row has no column {}", names[0]))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_with_a_bom_reads_its_header_and_rows() {
        let t = read(
            Format::Csv,
            "\u{feff}village_code,indicator_code,points\n150525100201,A01,4.5\n".as_bytes(),
        )
        .unwrap();
        assert_eq!(t.headers, ["village_code", "indicator_code", "points"]);
        assert_eq!(t.rows, [["150525100201", "A01", "4.5"]]);
        let cols = columns(&t.headers, [&["points"], &["village_code"]]).unwrap();
        assert_eq!(cols, [2, 0]);
        assert!(columns(&t.headers, [&["score"]]).unwrap_err().contains("score"));
        assert!(read(Format::Csv, b"").is_err());
        assert!(read(Format::Xlsx, b"not a zip").is_err());
    }
}
