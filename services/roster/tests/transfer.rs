//! Importing and exporting a county's roster over real gRPC, on SQLite and (with
//! `CADRE_TEST_POSTGRES_URL`) PostgreSQL: all rows or none, every error named by row
//! and column, PII masked on export unless the caller may see it.

mod common;

use common::*;

use cadre_kit::testing::TestDb;
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::audit_service_client::AuditServiceClient;
use cadre_proto::roster::v1::cadre_service_client::CadreServiceClient;
use cadre_proto::roster::v1::post_service_client::PostServiceClient;
use cadre_proto::roster::v1::transfer_service_client::TransferServiceClient;
use tonic::Code;

const HEADER: &str =
    "姓名,公民身份号码,民族,联系电话,政治面貌,学历,全日制,所在村(区划代码),职务,届次,任职时间,背景";

/// A template line for a cadre of `village`.
fn line(name: &str, id: &str, village: &str, posts: &str, start: &str) -> String {
    format!("{name},{id},蒙古族,13912345678,中共党员,大学本科,是,{village},{posts},2021,{start},退役军人")
}

fn csv(lines: &[String]) -> Vec<u8> {
    let mut s = HEADER.to_string();
    for l in lines {
        s.push('\n');
        s.push_str(l);
    }
    s.push('\n');
    s.into_bytes()
}

fn import(content: Vec<u8>, format: pb::TransferFormat, dry_run: bool) -> pb::ImportRosterRequest {
    pb::ImportRosterRequest { format: format as i32, content, dry_run, file_name: "花名册.csv".into() }
}

fn good_file() -> Vec<u8> {
    csv(&[
        line("巴特尔", &id_number(11), VILLAGE, "党支部书记、村委会主任", "2021-04-20"),
        line("其其格", &id_number(12), VILLAGE, "妇联主席、党支部委员", "2021-04-20"),
        line("王国强", &id_number(13), "150525100202", "党支部书记", "2021-05-06"),
    ])
}

/// The first ten cadres of the roster, as the caller with `token` sees them.
async fn cadres_seen_by(s: &Service, token: &str) -> Vec<pb::Cadre> {
    let mut cadres = CadreServiceClient::new(s.channel.clone());
    let first = pb::ListCadresRequest { page_size: 10, ..Default::default() };
    cadres.list_cadres(req(token, first)).await.unwrap().into_inner().cadres
}

/// The county's audit trail, as its administrator reads it.
async fn audit_entries(s: &Service) -> Vec<cadre_proto::audit::v1::AuditEntry> {
    let mut audit = AuditServiceClient::new(s.channel.clone());
    let all = cadre_proto::audit::v1::ListAuditEntriesRequest::default();
    audit.list_audit_entries(req(&s.admin, all)).await.unwrap().into_inner().entries
}

fn bad_checksum(seq: u16) -> String {
    let mut id = id_number(seq);
    let last = if id.ends_with('1') { "2" } else { "1" };
    id.replace_range(17.., last);
    id
}

#[tokio::test]
async fn a_good_file_lands_whole_with_one_audit_entry() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let mut transfer = TransferServiceClient::new(s.channel.clone());

        // A dry run checks and stores nothing.
        let dry = transfer
            .import_roster(req(&s.admin, import(good_file(), pb::TransferFormat::Csv, true)))
            .await
            .unwrap()
            .into_inner();
        assert!(dry.errors.is_empty(), "{:?}", dry.errors);
        assert_eq!((dry.row_count, dry.cadres_created), (3, 0));

        let done = transfer
            .import_roster(keyed(&s.admin, "import-1", import(good_file(), pb::TransferFormat::Csv, false)))
            .await
            .unwrap()
            .into_inner();
        assert!(done.errors.is_empty(), "{:?}", done.errors);
        assert_eq!((done.row_count, done.cadres_created, done.posts_created), (3, 3, 5));
        assert_eq!(done.checksum.len(), 64);
        // A retry with the same key changes nothing.
        let again = transfer
            .import_roster(keyed(&s.admin, "import-1", import(good_file(), pb::TransferFormat::Csv, false)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(again, done);

        let cadres = cadres_seen_by(&s, &s.admin_pii).await;
        assert_eq!(cadres.len(), 3);
        let bater = cadres.iter().find(|c| c.name == "巴特尔").unwrap();
        assert_eq!(bater.id_number, id_number(11));
        assert_eq!(bater.education, pb::Education::Bachelor as i32);
        assert!(bater.full_time_education);
        assert_eq!(bater.tags, vec![pb::BackgroundTag::Veteran as i32]);
        assert_eq!(bater.current_posts.len(), 2);
        let posts = PostServiceClient::new(s.channel.clone())
            .list_posts(req(&s.admin, pb::ListPostsRequest { page_size: 50, ..Default::default() }))
            .await
            .unwrap()
            .into_inner()
            .posts;
        assert_eq!(posts.len(), 5);

        let audit = audit_entries(&s).await;
        let imports: Vec<_> =
            audit.iter().filter(|e| e.action == "cadre.roster.v1.TransferService/ImportRoster").collect();
        assert_eq!(imports.len(), 1);
        assert!(imports[0].detail.contains(&done.checksum), "{}", imports[0].detail);
        assert!(!imports[0].detail.contains(&id_number(11)), "no PII in audit details");
        s.stop().await;
    }
}

#[tokio::test]
async fn a_file_with_bad_rows_stores_nothing_and_names_every_error() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let mut transfer = TransferServiceClient::new(s.channel.clone());
        // One cadre already in the roster.
        create_cadre(&s, cadre("已在册", 20)).await;
        let file = csv(&[
            line("甲", &id_number(11), VILLAGE, "党支部书记", "2021-04-20"),
            line("乙", &bad_checksum(12), VILLAGE, "村委会委员", "2021-04-20"),
            line("丙", &id_number(11), VILLAGE, "村委会委员", "2021-04-20"),
            line("丁", &id_number(20), VILLAGE, "村委会委员", "2021-04-20"),
            line("戊", &id_number(14), "150525100299", "村委会委员", "2021-04-20"),
            line("己", &id_number(15), VILLAGE, "村长", "2021-04-20"),
            line("庚", &id_number(16), VILLAGE, "村委会委员", "2000-04-20"),
            line("辛", &id_number(17), "150526100201", "村委会委员", "2021-04-20"),
        ]);
        let out = transfer
            .import_roster(req(&s.admin, import(file, pb::TransferFormat::Csv, false)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(out.cadres_created, 0);
        let found: Vec<(i32, &str)> = out.errors.iter().map(|e| (e.row, e.column.as_str())).collect();
        assert_eq!(
            found,
            [
                (3, "公民身份号码"),
                (4, "公民身份号码"),
                (5, "公民身份号码"),
                (6, "所在村(区划代码)"),
                (7, "职务"),
                (8, "任职时间"),
                (9, "所在村(区划代码)"),
            ],
            "{:#?}",
            out.errors
        );
        assert_eq!(out.error_count, 7);
        assert_eq!(out.errors[1].reason, "the same ID number as row 2");
        assert!(out.errors[2].reason.contains("already in the roster"), "{}", out.errors[2].reason);
        assert!(out.errors[6].reason.contains("outside your jurisdiction"), "{}", out.errors[6].reason);
        // Nothing from the file was stored, not even its good row.
        let cadres = cadres_seen_by(&s, &s.admin).await;
        assert_eq!(cadres.len(), 1);
        s.stop().await;
    }
}

#[tokio::test]
async fn unreadable_files_are_invalid_arguments_and_foreign_callers_are_refused() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let mut transfer = TransferServiceClient::new(s.channel.clone());
        let xlsx = transfer
            .export_roster(req(
                &s.admin,
                pb::ExportRosterRequest { format: pb::TransferFormat::Xlsx as i32, ..Default::default() },
            ))
            .await
            .unwrap()
            .into_inner()
            .content;
        let cut = xlsx[..xlsx.len() / 2].to_vec();
        for (content, format, expect) in [
            (cut, pb::TransferFormat::Xlsx, "content: not a readable XLSX"),
            (good_file(), pb::TransferFormat::Xlsx, "content: not a readable XLSX"),
            (xlsx.clone(), pb::TransferFormat::Csv, "content: this is a zip/XLSX file"),
            (good_file(), pb::TransferFormat::Unspecified, "content: format is required"),
            (
                b"\xE5\xA7\x93\xE5\x90\x8D\n".to_vec(),
                pb::TransferFormat::Csv,
                "content: missing required column",
            ),
        ] {
            let err =
                transfer.import_roster(req(&s.admin, import(content, format, false))).await.unwrap_err();
            assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
            assert!(err.message().starts_with(expect), "{}", err.message());
        }
        // The neighbour county may not export this county's roster.
        let err = transfer
            .export_roster(req(
                &s.neighbour,
                pb::ExportRosterRequest { region_code: COUNTY.into(), format: 0 },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        // Its file naming this county's village is refused row by row.
        let out = transfer
            .import_roster(req(&s.neighbour, import(good_file(), pb::TransferFormat::Csv, false)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(out.error_count, 3);
        assert!(out.errors.iter().all(|e| e.reason.contains("outside your jurisdiction")));
        s.stop().await;
    }
}

#[tokio::test]
async fn exports_mask_pii_unless_allowed_and_round_trip_through_xlsx() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let mut transfer = TransferServiceClient::new(s.channel.clone());
        transfer
            .import_roster(req(&s.admin, import(good_file(), pb::TransferFormat::Csv, false)))
            .await
            .unwrap();
        let masked = transfer
            .export_roster(req(&s.admin, pb::ExportRosterRequest::default()))
            .await
            .unwrap()
            .into_inner();
        assert!(masked.pii_masked);
        assert_eq!(masked.row_count, 3);
        let text = String::from_utf8(masked.content).unwrap();
        assert!(text.contains("党支部书记、村委会主任"), "{text}");
        assert!(!text.contains(&id_number(11)) && !text.contains("13912345678"), "{text}");

        let whole = transfer
            .export_roster(req(
                &s.admin_pii,
                pb::ExportRosterRequest {
                    region_code: COUNTY.into(),
                    format: pb::TransferFormat::Xlsx as i32,
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(!whole.pii_masked);
        assert_eq!(whole.file_name, "roster-150525000000.xlsx");
        assert!(
            audit_entries(&s)
                .await
                .iter()
                .any(|e| e.action == "cadre.roster.v1.TransferService/ExportRoster:unmasked")
        );
        s.stop().await;

        // The unmasked workbook imports into a fresh roster as it was.
        let fresh = TestDb::sqlite(cadre_roster::MIGRATIONS).await;
        let s2 = start(&fresh).await;
        seed_regions(&s2).await;
        let mut transfer2 = TransferServiceClient::new(s2.channel.clone());
        let out = transfer2
            .import_roster(req(&s2.admin, import(whole.content, pb::TransferFormat::Xlsx, false)))
            .await
            .unwrap()
            .into_inner();
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!((out.cadres_created, out.posts_created), (3, 5));
        let again = transfer2
            .export_roster(req(&s2.admin_pii, pb::ExportRosterRequest::default()))
            .await
            .unwrap()
            .into_inner();
        assert!(String::from_utf8(again.content).unwrap().contains(&id_number(13)));
        s2.stop().await;
    }
}

/// The file in pieces of `size` bytes (cutting through characters: pieces are bytes).
fn pieces(content: &[u8], size: usize, dry_run: bool) -> Vec<pb::ImportRosterChunk> {
    content
        .chunks(size)
        .enumerate()
        .map(|(i, piece)| pb::ImportRosterChunk {
            // Only the first piece needs the settings.
            format: if i == 0 { pb::TransferFormat::Csv as i32 } else { 0 },
            dry_run: i == 0 && dry_run,
            file_name: if i == 0 { "花名册.csv".into() } else { String::new() },
            content: piece.to_vec(),
        })
        .collect()
}

/// Every progress message of a streamed import, the last one carrying the result.
async fn stream_import(
    transfer: &mut TransferServiceClient<tonic::transport::Channel>,
    request: tonic::Request<Vec<pb::ImportRosterChunk>>,
) -> Result<Vec<pb::ImportRosterProgress>, tonic::Status> {
    let (metadata, extensions, pieces) = request.into_parts();
    let request = tonic::Request::from_parts(metadata, extensions, futures::stream::iter(pieces));
    let mut reports = transfer.import_roster_stream(request).await?.into_inner();
    let mut all = Vec::new();
    while let Some(p) = reports.message().await? {
        all.push(p);
    }
    Ok(all)
}

#[tokio::test]
async fn a_streamed_file_lands_whole_and_reports_each_phase() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let mut transfer = TransferServiceClient::new(s.channel.clone());
        let file = good_file();

        let reports =
            stream_import(&mut transfer, keyed(&s.admin, "stream-1", pieces(&file, 7, false))).await.unwrap();
        let last = reports.last().unwrap();
        let phases: Vec<i32> = reports.iter().map(|p| p.phase).collect();
        assert!(phases.windows(2).all(|w| w[0] <= w[1]), "phases only move forward: {phases:?}");
        assert!(
            reports[..reports.len() - 1].iter().all(|p| p.result.is_none()),
            "only the last has the result"
        );
        assert_eq!(last.phase, pb::ImportPhase::Done as i32);
        assert_eq!(last.bytes_received, file.len() as i64);
        assert_eq!((last.rows_total, last.rows_checked), (3, 3));
        assert_eq!((last.cadres_written, last.posts_written), (3, 5));
        let result = last.result.clone().unwrap();
        assert!(result.errors.is_empty(), "{:?}", result.errors);
        assert_eq!((result.row_count, result.cadres_created, result.posts_created), (3, 3, 5));
        // The same file the unary call would have got: the same checksum.
        let unary = transfer
            .import_roster(req(&s.admin, import(file.clone(), pb::TransferFormat::Csv, true)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(unary.checksum, result.checksum);

        // A retry with the same key gets the first result and stores nothing more.
        let again = stream_import(&mut transfer, keyed(&s.admin, "stream-1", pieces(&file, 1000, false)))
            .await
            .unwrap();
        assert_eq!(again.last().unwrap().result, Some(result));
        let cadres = cadres_seen_by(&s, &s.admin).await;
        assert_eq!(cadres.len(), 3);
        s.stop().await;
    }
}

#[tokio::test]
async fn a_streamed_file_with_a_bad_row_stores_nothing_and_bad_streams_are_refused() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let mut transfer = TransferServiceClient::new(s.channel.clone());
        let file = csv(&[
            line("巴特尔", &id_number(11), VILLAGE, "党支部书记", "2021-04-20"),
            line("其其格", &bad_checksum(12), VILLAGE, "妇联主席", "2021-04-20"),
        ]);
        let reports = stream_import(&mut transfer, req(&s.admin, pieces(&file, 50, false))).await.unwrap();
        let result = reports.last().unwrap().result.clone().unwrap();
        assert_eq!((result.cadres_created, result.error_count), (0, 1));
        assert_eq!((result.errors[0].row, result.errors[0].column.as_str()), (3, "公民身份号码"));
        assert_eq!(reports.last().unwrap().cadres_written, 0, "nothing was written");

        // A stream with no file, a file that is not CSV, a caller who may not write.
        let err = stream_import(&mut transfer, req(&s.admin, Vec::new())).await.unwrap_err();
        assert_eq!((err.code(), err.message()), (Code::InvalidArgument, "content: no file was sent"));
        let err = stream_import(&mut transfer, req(&s.admin, pieces(b"PK\x03\x04 zip", 4, false)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(err.message().starts_with("content: this is a zip/XLSX file"), "{}", err.message());
        let auditor = cadre_kit::auth::issue_dev_token(
            &cadre_kit::config::AuthSettings::default().dev_secret,
            "auditor",
            &[cadre_kit::Role::Auditor],
            &cadre_kit::RegionCode::parse(COUNTY).unwrap(),
            std::time::Duration::from_secs(60),
        )
        .unwrap();
        let err = stream_import(&mut transfer, req(&auditor, pieces(&file, 50, false))).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
        s.stop().await;
    }
}

/// `n` distinct, valid ID numbers of the county.
fn many_ids(n: usize) -> Vec<String> {
    let born = chrono::NaiveDate::from_ymd_opt(1960, 1, 1).unwrap();
    (0..n)
        .map(|i| {
            let birth = born + chrono::Days::new((i / 900) as u64);
            cadre_kit::resident_id::build("150525", birth, (i % 900) as u16 + 1).as_str().to_string()
        })
        .collect()
}

#[tokio::test]
async fn a_bad_row_after_the_first_pieces_were_stored_still_leaves_nothing() {
    // More rows than one piece, so the first piece is written before the problems
    // further down are found (and then rolled back).
    const { assert!(10_040 > cadre_roster::api::transfer::PIECE_ROWS) };
    let ids = many_ids(10_050);
    let mut lines: Vec<String> = ids[..10_040]
        .iter()
        .enumerate()
        .map(|(i, id)| line(&format!("成员{i}"), id, VILLAGE, "", ""))
        .collect();
    lines.push(line("重复", &ids[0], VILLAGE, "", ""));
    lines.push(line("坏号", &bad_checksum(7), VILLAGE, "", ""));
    let file = csv(&lines);
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let mut transfer = TransferServiceClient::new(s.channel.clone());
        let reports = stream_import(&mut transfer, keyed(&s.admin, "big-1", pieces(&file, 1 << 20, false)))
            .await
            .unwrap();
        let last = reports.last().unwrap();
        assert_eq!((last.cadres_written, last.posts_written), (0, 0), "written, then rolled back");
        let result = last.result.clone().unwrap();
        assert_eq!((result.row_count, result.cadres_created, result.error_count), (10_042, 0, 2));
        let found: Vec<(i32, &str)> = result.errors.iter().map(|e| (e.row, e.reason.as_str())).collect();
        assert_eq!(found[0], (10_042, "the same ID number as row 2"));
        assert_eq!(found[1].0, 10_043);

        let cadres = cadres_seen_by(&s, &s.admin).await;
        assert!(cadres.is_empty(), "nothing stored");
        let audit = audit_entries(&s).await;
        assert!(audit.iter().all(|e| !e.action.ends_with("ImportRoster")), "no import was audited");
        // The refusal is the key's result; the chain and feed still verify and resume.
        let again = stream_import(&mut transfer, keyed(&s.admin, "big-1", pieces(&file, 1 << 20, false)))
            .await
            .unwrap();
        assert_eq!(again.last().unwrap().result, Some(result));
        let fixed = csv(&lines[..10_040]);
        let stored =
            stream_import(&mut transfer, req(&s.admin, pieces(&fixed, 1 << 20, false))).await.unwrap();
        let stored = stored.last().unwrap().result.clone().unwrap();
        assert_eq!((stored.cadres_created, stored.error_count), (10_040, 0), "{:?}", stored.errors.first());
        let verified = AuditServiceClient::new(s.channel.clone())
            .verify_audit_chain(req(&s.province, cadre_proto::audit::v1::VerifyAuditChainRequest::default()))
            .await
            .unwrap()
            .into_inner();
        assert!(verified.intact, "{verified:?}");
        // Gap-free feed: the seven regions, then one row per stored cadre.
        let feed =
            cadre_proto::roster::v1::change_service_client::ChangeServiceClient::new(s.channel.clone())
                .list_changes(req(&s.admin, cadre_proto::changes::v1::ListChangesRequest::default()))
                .await
                .unwrap()
                .into_inner();
        assert_eq!(feed.head_position, 7 + 10_040);
        s.stop().await;
    }
}
