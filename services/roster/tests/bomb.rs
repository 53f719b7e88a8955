//! A decompression bomb sent as a roster import (issue 13, finding 2): an XLSX of about
//! 10 MB whose sheet unpacks to 1 GiB is refused with INVALID_ARGUMENT (HTTP 400) by what
//! its parts declare, before anything is unpacked, and the process's peak memory grows by
//! far less than the bound the README states; a part that unpacks to more than it declares
//! is cut off by the zip reader at its declared size. Alone in its test binary, so the
//! process's peak (VmHWM) is this test's.

mod common;

use std::io::Write;

use cadre_kit::testing::TestDb;
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::transfer_service_client::TransferServiceClient;
use cadre_roster::api::transfer::file::MAX_XLSX_UNPACKED_BYTES;
use common::{req, start};
use flate2::{Compress, Compression, FlushCompress};

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#;
const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
const WORKBOOK: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
const WORKBOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#;
const SHEET_START: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#;
const SHEET_END: &str = "</sheetData></worksheet>";
const ROW: &str = r#"<row><c t="inlineStr"><is><t>AAAAAAAA</t></is></c></row>"#;

/// One part of a hand-made zip: its name, method (0 stored, 8 deflated), bytes as
/// stored, CRC and the unpacked size its headers declare.
struct Part {
    name: &'static str,
    method: u16,
    data: Vec<u8>,
    crc: u32,
    declared: u32,
}

fn stored(name: &'static str, text: &str) -> Part {
    let mut crc = flate2::Crc::new();
    crc.update(text.as_bytes());
    Part { name, method: 0, data: text.as_bytes().to_vec(), crc: crc.sum(), declared: text.len() as u32 }
}

/// A raw-deflated sheet of `chunks` MiB of rows: one MiB compressed once (with a full
/// flush, so it stands alone) and repeated. Returns the stream and its unpacked size.
fn bomb_sheet(chunks: usize) -> (Vec<u8>, u64) {
    let mut deflate = Compress::new(Compression::fast(), false);
    let mut pack = |input: &[u8], flush| {
        let mut out = Vec::with_capacity(input.len() + 1024);
        deflate.compress_vec(input, &mut out, flush).expect("deflate");
        out
    };
    let chunk = ROW.repeat((1 << 20) / ROW.len());
    let mut data = pack(SHEET_START.as_bytes(), FlushCompress::Full);
    let packed = pack(chunk.as_bytes(), FlushCompress::Full);
    for _ in 0..chunks {
        data.extend_from_slice(&packed);
    }
    data.extend_from_slice(&pack(SHEET_END.as_bytes(), FlushCompress::Finish));
    (data, (SHEET_START.len() + chunks * chunk.len() + SHEET_END.len()) as u64)
}

/// A workbook whose sheet is `sheet`, declaring `declared` bytes unpacked (its CRC is not
/// checked before the size is).
fn workbook(sheet: Vec<u8>, declared: u32) -> Vec<u8> {
    let parts = [
        stored("[Content_Types].xml", CONTENT_TYPES),
        stored("_rels/.rels", RELS),
        stored("xl/workbook.xml", WORKBOOK),
        stored("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
        Part { name: "xl/worksheets/sheet1.xml", method: 8, data: sheet, crc: 0, declared },
    ];
    let mut out = Vec::new();
    let mut central = Vec::new();
    for part in &parts {
        let offset = out.len() as u32;
        let common = |w: &mut Vec<u8>| {
            w.write_all(&20u16.to_le_bytes()).unwrap(); // version needed
            w.write_all(&0u16.to_le_bytes()).unwrap(); // flags
            w.write_all(&part.method.to_le_bytes()).unwrap();
            w.write_all(&0u16.to_le_bytes()).unwrap(); // time
            w.write_all(&0x21u16.to_le_bytes()).unwrap(); // date: 1980-01-01
            w.write_all(&part.crc.to_le_bytes()).unwrap();
            w.write_all(&(part.data.len() as u32).to_le_bytes()).unwrap();
            w.write_all(&part.declared.to_le_bytes()).unwrap();
            w.write_all(&(part.name.len() as u16).to_le_bytes()).unwrap();
            w.write_all(&0u16.to_le_bytes()).unwrap(); // extra
        };
        out.write_all(&0x04034b50u32.to_le_bytes()).unwrap();
        common(&mut out);
        out.write_all(part.name.as_bytes()).unwrap();
        out.write_all(&part.data).unwrap();
        central.write_all(&0x02014b50u32.to_le_bytes()).unwrap();
        central.write_all(&20u16.to_le_bytes()).unwrap(); // made by
        common(&mut central);
        central.write_all(&[0u8; 6]).unwrap(); // comment, disk, internal attributes
        central.write_all(&0u32.to_le_bytes()).unwrap(); // external attributes
        central.write_all(&offset.to_le_bytes()).unwrap();
        central.write_all(part.name.as_bytes()).unwrap();
    }
    let (at, size) = (out.len() as u32, central.len() as u32);
    out.extend_from_slice(&central);
    out.write_all(&0x06054b50u32.to_le_bytes()).unwrap();
    out.write_all(&[0u8; 4]).unwrap();
    out.write_all(&(parts.len() as u16).to_le_bytes()).unwrap();
    out.write_all(&(parts.len() as u16).to_le_bytes()).unwrap();
    out.write_all(&size.to_le_bytes()).unwrap();
    out.write_all(&at.to_le_bytes()).unwrap();
    out.write_all(&0u16.to_le_bytes()).unwrap();
    out
}

/// The process's peak resident memory so far (VmHWM), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("VmHWM");
    kib * 1024
}

async fn import(
    transfer: &mut TransferServiceClient<tonic::transport::Channel>,
    token: &str,
    content: Vec<u8>,
) -> tonic::Status {
    let request = pb::ImportRosterRequest {
        format: pb::TransferFormat::Xlsx as i32,
        content,
        dry_run: true,
        file_name: "花名册.xlsx".into(),
    };
    transfer.import_roster(req(token, request)).await.expect_err("refused")
}

#[tokio::test]
async fn a_decompression_bomb_is_refused_before_it_is_unpacked() {
    let db = TestDb::sqlite(cadre_roster::MIGRATIONS).await;
    let s = start(&db).await;
    let mut transfer = TransferServiceClient::new(s.channel.clone()).max_encoding_message_size(64 << 20);

    // The same file at a harmless size is read: refused for its columns, not its size.
    let (sheet, unpacked) = bomb_sheet(1);
    let err = import(&mut transfer, &s.admin, workbook(sheet, unpacked as u32)).await;
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("unknown column"), "a readable workbook: {}", err.message());

    // 1 GB of rows in about 10 MB.
    let (sheet, unpacked) = bomb_sheet(1024);
    assert!(unpacked >= 1_000_000_000, "{unpacked}");
    let bomb = workbook(sheet, unpacked as u32);
    let file_bytes = bomb.len();
    assert!(file_bytes < 16 << 20, "{file_bytes} bytes");
    let before = peak_rss();
    let started = std::time::Instant::now();
    let err = import(&mut transfer, &s.admin, bomb).await;
    let elapsed = started.elapsed();
    let grown = peak_rss().saturating_sub(before);
    eprintln!(
        "bomb of {file_bytes} bytes unpacking to {unpacked}: refused in {elapsed:?}; peak RSS grew by {} KiB",
        grown / 1024
    );
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().starts_with("content:") && err.message().contains("unpacks to more than"),
        "{}",
        err.message()
    );
    assert!(grown < MAX_XLSX_UNPACKED_BYTES, "peak RSS grew by {grown} bytes");

    // A sheet that declares 64 KiB and unpacks to 1 GiB: read no further than it says.
    let (sheet, _) = bomb_sheet(1024);
    let before = peak_rss();
    let err = import(&mut transfer, &s.admin, workbook(sheet, 64 << 10)).await;
    let grown = peak_rss().saturating_sub(before);
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    assert!(err.message().starts_with("content:"), "{}", err.message());
    assert!(grown < MAX_XLSX_UNPACKED_BYTES, "peak RSS grew by {grown} bytes reading a lying part");
    s.node.stop().await;
}
