//! Reading and writing the roster template as CSV or XLSX: a table of text cells
//! (header row first), whatever the file format. Failures name what is wrong with
//! the file as a whole; cell checks are `domain::import`'s.

use std::io::Cursor;

use cadre_proto::roster::v1::TransferFormat;
use calamine::{Data, Reader, Xlsx};
use chrono::{Days, NaiveDate};

/// A file's cells: the header row and the data rows, all as trimmed-or-not text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Reads `content` as `format`; the error says what is wrong with the file.
pub fn read(format: TransferFormat, content: &[u8]) -> Result<Table, String> {
    if content.is_empty() {
        return Err("the file is empty".into());
    }
    match format {
        TransferFormat::Csv => read_csv(content),
        TransferFormat::Xlsx => read_xlsx(content),
        TransferFormat::Unspecified => Err("format is required: CSV or XLSX".into()),
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
        Some(r) => r.map_err(csv_error)?.iter().map(str::to_string).collect(),
    };
    let mut rows = Vec::new();
    for record in records {
        let record = record.map_err(csv_error)?;
        rows.push(record.iter().map(str::to_string).collect());
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

/// The most an XLSX's parts may unpack to, all together, as their headers declare:
/// checked before any part is read. The zip reader never reads a part past its declared
/// size, so this bounds what one import unpacks, whatever the file claims; with the file
/// itself (at most [`super::MAX_IMPORT_BYTES`]) and the cells read from it, it bounds an
/// import's memory (see the README's Security section). A county roster of 100,000
/// cadres unpacks to about 40 MiB.
pub const MAX_XLSX_UNPACKED_BYTES: u64 = 128 * 1024 * 1024;

/// Parts an XLSX may have (a workbook has a dozen or so).
pub const MAX_XLSX_PARTS: usize = 1000;

/// Refuses a workbook whose parts declare more than [`MAX_XLSX_UNPACKED_BYTES`] unpacked,
/// before anything is decompressed: a decompression bomb (a small file whose sheet unpacks
/// to gigabytes) is refused by what it says of itself.
fn check_unpacked_sizes(content: &[u8]) -> Result<(), String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(content))
        .map_err(|e| format!("not a readable XLSX workbook (cut short or another format?): {e}"))?;
    if zip.len() > MAX_XLSX_PARTS {
        return Err(format!("the workbook has {} parts; at most {MAX_XLSX_PARTS}", zip.len()));
    }
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let part = zip.by_index_raw(i).map_err(|e| format!("not a readable XLSX workbook: {e}"))?;
        total = total.saturating_add(part.size());
        if total > MAX_XLSX_UNPACKED_BYTES {
            return Err(format!(
                "the workbook unpacks to more than {} MiB (its part {} alone to {} bytes);                  split the roster into smaller files",
                MAX_XLSX_UNPACKED_BYTES >> 20,
                cadre_kit::text::bounded(&part.name().unwrap_or_default(), 100),
                part.size()
            ));
        }
    }
    Ok(())
}

fn read_xlsx(content: &[u8]) -> Result<Table, String> {
    check_unpacked_sizes(content)?;
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(content))
        .map_err(|e| format!("not a readable XLSX workbook (cut short or another format?): {e}"))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or("the workbook has no sheet")?
        .map_err(|e| format!("the first sheet cannot be read: {e}"))?;
    let mut rows = range.rows().map(|r| r.iter().map(cell_text).collect::<Vec<String>>());
    let headers = rows.next().ok_or("the first sheet has no header row")?;
    Ok(Table { headers, rows: rows.collect() })
}

/// A cell as the text an office typed: integral numbers without ".0", dates as
/// YYYY-MM-DD.
fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "是" } else { "否" }.to_string(),
        Data::DateTime(dt) => {
            // Excel's day 0 is 1899-12-30 (1900 date system).
            let days = dt.as_f64().floor();
            NaiveDate::from_ymd_opt(1899, 12, 30)
                .and_then(|d| d.checked_add_days(Days::new(days.max(0.0) as u64)))
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        }
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// Writes the table in `format`.
pub fn write(format: TransferFormat, table: &Table) -> Result<Vec<u8>, String> {
    match format {
        TransferFormat::Xlsx => write_xlsx(table),
        _ => write_csv(table),
    }
}

fn write_csv(table: &Table) -> Result<Vec<u8>, String> {
    // A BOM so that spreadsheet programs open the UTF-8 file correctly.
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(&table.headers).map_err(|e| e.to_string())?;
        for r in &table.rows {
            w.write_record(r).map_err(|e| e.to_string())?;
        }
        w.flush().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

fn write_xlsx(table: &Table) -> Result<Vec<u8>, String> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("花名册").map_err(|e| e.to_string())?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (c, h) in table.headers.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, h, &bold).map_err(|e| e.to_string())?;
    }
    for (r, row) in table.rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            // Everything as text: ID numbers and phones must not become numbers.
            sheet.write_string(r as u32 + 1, c as u16, v).map_err(|e| e.to_string())?;
        }
    }
    book.save_to_buffer().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            headers: vec!["姓名".into(), "公民身份号码".into()],
            rows: vec![vec!["巴特尔".into(), "15052519850314001X".into()], vec!["a,\"b\"".into(), "".into()]],
        }
    }

    #[test]
    fn csv_and_xlsx_round_trip_the_cells() {
        for format in [TransferFormat::Csv, TransferFormat::Xlsx] {
            let bytes = write(format, &table()).unwrap();
            assert_eq!(read(format, &bytes).unwrap(), table(), "{format:?}");
        }
    }

    #[test]
    fn cut_short_and_wrong_files_say_so() {
        let xlsx = write(TransferFormat::Xlsx, &table()).unwrap();
        let err = read(TransferFormat::Xlsx, &xlsx[..xlsx.len() / 2]).unwrap_err();
        assert!(err.starts_with("not a readable XLSX"), "{err}");
        assert!(read(TransferFormat::Csv, &xlsx).unwrap_err().contains("not CSV"));
        assert!(read(TransferFormat::Xlsx, b"a,b\n1,2\n").is_err());
        assert!(read(TransferFormat::Csv, b"a,b\n\xff\xfe,1\n").unwrap_err().starts_with("not UTF-8"));
        assert!(read(TransferFormat::Unspecified, b"a").is_err());
    }
}
