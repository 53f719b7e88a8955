//! Scenarios of a county's assessment year on both backends: a scheme copied from last
//! year and edited, scoring opened (villages frozen), units submitting their sheets —
//! refused for someone else's indicator, next door's village, a score above the maximum —
//! revising, the county's progress, scoring closed and a late sheet refused naming the
//! phase; a scheme in use changing only by a new version; a move in the roster after
//! opening changing nothing; concurrent submissions applying once; uploads all or nothing.

mod common;

use cadre_kit::Role;
use cadre_kit::testing::permissions;
use cadre_proto::assessment::v1 as pb;
use cadre_proto::assessment::v1::change_service_client::ChangeServiceClient;
use cadre_proto::changes::v1::ListChangesRequest;
use common::*;
use tonic::Code;

async fn feed(s: &Suite) -> Vec<pb::Change> {
    let request = ListChangesRequest { after_position: 0, region_code: String::new(), page_size: 1000 };
    ChangeServiceClient::new(s.channel.clone())
        .list_changes(req(&s.county, request))
        .await
        .unwrap()
        .into_inner()
        .changes
}

#[tokio::test]
async fn a_year_is_scored_from_last_years_scheme_and_closed() {
    for db in backends().await {
        let s = start(&db).await;
        let units = s.units_of_county().await;
        let last_year = s.scheme(&units, 2025).await;
        assert_eq!((last_year.version, last_year.current, last_year.in_use), (1, true, false));

        // This year's draft starts as a copy of last year's, then is edited in place.
        let copy = pb::CopySchemeRequest { from_id: last_year.id.clone(), year: 2026 };
        let mut draft = s.schemes().copy_scheme(req(&s.county, copy)).await.unwrap().into_inner();
        assert_eq!((draft.year, draft.version, draft.copied_from.as_str()), (2026, 1, last_year.id.as_str()));
        draft.name = "2026 年度村党组织书记“双述双评”考核".into();
        let edited = s
            .schemes()
            .update_scheme(req(&s.county, pb::UpdateSchemeRequest { scheme: Some(draft.clone()) }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (edited.id.as_str(), edited.version, edited.revision),
            (draft.id.as_str(), 1, 2),
            "a draft changes in place"
        );

        let year = s.open(2026).await;
        assert_eq!((year.phase, year.village_count), (pb::Phase::ScoringOpen as i32, 3));

        // The townships see only their own villages; the agency the county's.
        let form = |unit: &str, token: &str| {
            let request =
                pb::GetScoringFormRequest { county_code: COUNTY.into(), year: 2026, unit_id: unit.into() };
            let mut sheets = s.sheets();
            let token = token.to_string();
            async move { sheets.get_scoring_form(req(&token, request)).await.unwrap().into_inner() }
        };
        let dqtl = s.unit_token("dqtl");
        let township_form = form(&units.township, &dqtl).await;
        let rows: Vec<(&str, &str, i32)> = township_form
            .rows
            .iter()
            .map(|r| (r.village_code.as_str(), r.indicator_code.as_str(), r.max_points))
            .collect();
        assert_eq!(rows, [(ORDINARY, "A02", 40)], "A02 is left out of the demonstration village");
        let agency_form = form(&units.agency, &s.unit_token("nmj")).await;
        let maxima: Vec<i32> = agency_form.rows.iter().map(|r| r.max_points).collect();
        assert_eq!(maxima, [60, 100, 60], "the demonstration village scores A01 out of 10.0");

        // The township's sheet; refused for the agency's indicator and for next door's village.
        let sheet = s.submit(&dqtl, &units.township, 2026, &[(ORDINARY, "A02", 35)]).await.unwrap();
        assert_eq!((sheet.revision, sheet.scores.len(), sheet.submitted_by.as_str()), (1, 1, "dqtl"));
        let err = s.submit(&dqtl, &units.township, 2026, &[(ORDINARY, "A01", 50)]).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(
            err.message().starts_with("scores[0].indicator_code:") && err.message().contains("another unit"),
            "{err:?}"
        );
        let err = s.submit(&dqtl, &units.township, 2026, &[(KEY_ASSISTANCE, "A02", 30)]).await.unwrap_err();
        assert!(
            err.message().starts_with("scores[0].village_code:") && err.message().contains("scope"),
            "{err:?}"
        );
        let err = s.submit(&dqtl, &units.township, 2026, &[(NEXT_VILLAGE, "A02", 30)]).await.unwrap_err();
        assert!(err.message().starts_with("scores[0].village_code:"), "{err:?}");
        let err = s.submit(&dqtl, &units.township, 2026, &[(ORDINARY, "A02", 41)]).await.unwrap_err();
        assert!(err.message().contains("4.1 is above the maximum 4.0"), "{err:?}");
        // Another unit's token may not submit this unit's sheet.
        let err = s
            .submit(&s.unit_token("bxt"), &units.township, 2026, &[(ORDINARY, "A02", 10)])
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
        // Nothing refused changed the sheet.
        let read =
            pb::GetSheetRequest { county_code: COUNTY.into(), year: 2026, unit_id: units.township.clone() };
        let stored = s.sheets().get_sheet(req(&dqtl, read.clone())).await.unwrap().into_inner();
        assert_eq!((stored.revision, stored.scores[0].points), (1, 35));

        // A revision replaces the sheet whole; the same scores again are no new revision.
        let agency = s.unit_token("nmj");
        let scores = [(ORDINARY, "A01", 55), (DEMONSTRATION, "A01", 92), (KEY_ASSISTANCE, "A01", 48)];
        s.submit(&agency, &units.agency, 2026, &scores[..2]).await.unwrap();
        let revised = s.submit(&agency, &units.agency, 2026, &scores).await.unwrap();
        assert_eq!((revised.revision, revised.scores.len()), (2, 3));
        let again = s.submit(&agency, &units.agency, 2026, &scores).await.unwrap();
        assert_eq!(again.revision, 2);
        // A paper sheet entered by the county on the second township's behalf.
        s.submit(&s.county, &units.township_2, 2026, &[(KEY_ASSISTANCE, "A02", 33)]).await.unwrap();

        let progress = pb::GetProgressRequest { county_code: COUNTY.into(), year: 2026 };
        let p = s.sheets().get_progress(req(&s.county, progress.clone())).await.unwrap().into_inner();
        assert_eq!((p.units_submitted, p.scores), (3, 5));
        let counts: Vec<(i32, i32, i64)> =
            p.units.iter().map(|u| (u.score_count, u.expected_count, u.revision)).collect();
        assert_eq!(counts, [(3, 3, 2), (1, 1, 1), (1, 1, 1)]);

        // Closed: a late sheet is refused naming the phase; the year does not reopen.
        let close = pb::MoveYearRequest { county_code: COUNTY.into(), year: 2026 };
        let closed = s.years().close_scoring(req(&s.county, close.clone())).await.unwrap().into_inner();
        assert_eq!(closed.phase, pb::Phase::ScoringClosed as i32);
        let err = s.submit(&dqtl, &units.township, 2026, &[(ORDINARY, "A02", 40)]).await.unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition);
        assert!(err.message().contains("SCORING_CLOSED"), "{err:?}");
        let err = s.years().open_scoring(req(&s.county, close)).await.unwrap_err();
        assert!(err.message().contains("is SCORING_CLOSED; it cannot move to SCORING_OPEN"), "{err:?}");

        // Every change is in the feed, each with its audit entry.
        let changes = feed(&s).await;
        let sheets = changes.iter().filter(|c| c.entity == pb::Entity::Sheet as i32).count();
        assert_eq!(sheets, 4, "the township's, the agency's twice, the paper sheet");
        assert!(changes.iter().all(|c| c.audit_sequence > 0));
        s.stop().await;
    }
}

#[tokio::test]
async fn a_scheme_in_use_changes_only_by_a_new_version() {
    for db in backends().await {
        let s = start(&db).await;
        let units = s.units_of_county().await;
        let v1 = s.scheme(&units, 2026).await;
        s.open(2026).await;
        let mut edit = v1.clone();
        edit.items[0].indicators[0].name = "落实“三会一课”和主题党日制度".into();
        let v2 = s
            .schemes()
            .update_scheme(req(&s.county, pb::UpdateSchemeRequest { scheme: Some(edit.clone()) }))
            .await
            .unwrap()
            .into_inner();
        assert_ne!(v2.id, v1.id);
        assert_eq!((v2.version, v2.current, v2.in_use), (2, true, true));
        let old = s
            .schemes()
            .get_scheme(req(&s.county, pb::GetSchemeRequest { id: v1.id.clone() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((old.revision, old.current), (1, false));
        assert_eq!(
            old.items[0].indicators[0].name, v1.items[0].indicators[0].name,
            "the version scored under stays"
        );
        let year = s
            .years()
            .get_year(req(&s.county, pb::GetYearRequest { county_code: COUNTY.into(), year: 2026 }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((year.scheme_id.as_str(), year.scheme_version), (v2.id.as_str(), 2));
        // The old version cannot be edited any more.
        let err = s
            .schemes()
            .update_scheme(req(&s.county, pb::UpdateSchemeRequest { scheme: Some(edit) }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
        let created: Vec<String> = feed(&s)
            .await
            .into_iter()
            .filter(|c| c.entity == pb::Entity::Scheme as i32)
            .map(|c| c.key)
            .collect();
        assert_eq!(created, [v1.id, v2.id]);
        s.stop().await;
    }
}

#[tokio::test]
async fn a_move_in_the_roster_after_scoring_opens_does_not_change_who_is_assessed_where() {
    for db in backends().await {
        let s = start(&db).await;
        let units = s.units_of_county().await;
        s.scheme(&units, 2026).await;
        s.open(2026).await;
        // 巴特尔 moves to the key-assistance village; 李强 is dismissed.
        s.roster.dismiss("cadre-liqiang");
        s.roster.move_to("cadre-bateer", KEY_ASSISTANCE);
        s.copied(3, 2).await;
        let list =
            pb::ListYearVillagesRequest { county_code: COUNTY.into(), year: 2026, ..Default::default() };
        let frozen = s.years().list_year_villages(req(&s.county, list)).await.unwrap().into_inner().villages;
        let got: Vec<(&str, &str, &str)> = frozen
            .iter()
            .map(|v| (v.code.as_str(), v.village_type.as_str(), v.secretary_name.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (ORDINARY, "ordinary", "巴特尔"),
                (DEMONSTRATION, "demonstration", "王芳"),
                (KEY_ASSISTANCE, "key-assistance", "李强")
            ]
        );
        // A township administrator reads its own villages only.
        let list =
            pb::ListYearVillagesRequest { county_code: COUNTY.into(), year: 2026, ..Default::default() };
        let own =
            s.years().list_year_villages(req(&s.township_admin, list)).await.unwrap().into_inner().villages;
        assert_eq!(own.len(), 2);
        // Next year's scoring freezes the roster as it is then.
        let mut next = scheme(&units, 2027);
        next.name = "2027".into();
        s.schemes()
            .create_scheme(req(&s.county, pb::CreateSchemeRequest { scheme: Some(next) }))
            .await
            .unwrap();
        s.open(2027).await;
        let list =
            pb::ListYearVillagesRequest { county_code: COUNTY.into(), year: 2027, ..Default::default() };
        let villages =
            s.years().list_year_villages(req(&s.county, list)).await.unwrap().into_inner().villages;
        let secretaries: Vec<&str> = villages.iter().map(|v| v.secretary_name.as_str()).collect();
        assert_eq!(secretaries, ["", "王芳", "巴特尔"]);
        s.stop().await;
    }
}

#[tokio::test]
async fn concurrent_submissions_of_one_sheet_with_one_key_apply_once() {
    for db in backends().await {
        let s = start(&db).await;
        let units = s.units_of_county().await;
        s.scheme(&units, 2026).await;
        s.open(2026).await;
        let token = s.unit_token("nmj");
        let request = pb::SubmitSheetRequest {
            county_code: COUNTY.into(),
            year: 2026,
            unit_id: units.agency.clone(),
            scores: vec![
                pb::Score { village_code: ORDINARY.into(), indicator_code: "A01".into(), points: 50 },
                pb::Score { village_code: DEMONSTRATION.into(), indicator_code: "A01".into(), points: 90 },
            ],
        };
        let calls = (0..8).map(|_| {
            let (mut sheets, request, token) = (s.sheets(), request.clone(), token.clone());
            async move {
                // A retry that arrives while the first is still being handled is told so (409,
                // IDEMPOTENCY_KEY_IN_FLIGHT) and retries; once answered, every retry gets the answer.
                loop {
                    match sheets.submit_sheet(keyed(&token, "sheet-nmj-2026-1", request.clone())).await {
                        Err(e)
                            if e.code() == tonic::Code::Aborted
                                && e.metadata()
                                    .get("cadre-error-reason")
                                    .is_some_and(|r| r == "IDEMPOTENCY_KEY_IN_FLIGHT") =>
                        {
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await
                        }
                        other => break other.map(|r| r.into_inner()),
                    }
                }
            }
        });
        let results = futures::future::join_all(calls).await;
        let revisions: Vec<i64> = results.into_iter().map(|r| r.unwrap().revision).collect();
        assert_eq!(revisions, [1; 8]);
        let sheets = feed(&s).await.into_iter().filter(|c| c.entity == pb::Entity::Sheet as i32).count();
        assert_eq!(sheets, 1, "applied once");
        s.stop().await;
    }
}

fn upload(unit: &str, format: pb::SheetFormat, content: Vec<u8>) -> pb::UploadSheetRequest {
    pb::UploadSheetRequest {
        county_code: COUNTY.into(),
        year: 2026,
        unit_id: unit.into(),
        format: format as i32,
        content,
    }
}

#[tokio::test]
async fn an_upload_with_one_bad_row_changes_nothing() {
    for db in backends().await {
        let s = start(&db).await;
        let units = s.units_of_county().await;
        s.scheme(&units, 2026).await;
        s.open(2026).await;
        let token = s.unit_token("nmj");
        let bad = format!(
            "村名,village_code,indicator_code,points\n白音他拉嘎查,{ORDINARY},A01,5.5\n平安村,{DEMONSTRATION},A01,abc\n\
             新丰村,{KEY_ASSISTANCE},A01,6.5\n,{NEXT_VILLAGE},A01,1\n"
        );
        let response = s
            .sheets()
            .upload_sheet(req(&token, upload(&units.agency, pb::SheetFormat::Csv, bad.into_bytes())))
            .await
            .unwrap()
            .into_inner();
        assert!(!response.applied);
        let errors: Vec<(i32, &str)> = response.errors.iter().map(|e| (e.line, e.column.as_str())).collect();
        assert_eq!(errors, [(3, "points"), (4, "points"), (5, "village_code")]);
        let read =
            pb::GetSheetRequest { county_code: COUNTY.into(), year: 2026, unit_id: units.agency.clone() };
        assert_eq!(s.sheets().get_sheet(req(&token, read.clone())).await.unwrap().into_inner().revision, 0);

        let good = format!("village_code,indicator_code,points\n{ORDINARY},A01,5.5\n{DEMONSTRATION},A01,9\n");
        let response = s
            .sheets()
            .upload_sheet(req(&token, upload(&units.agency, pb::SheetFormat::Csv, good.into_bytes())))
            .await
            .unwrap()
            .into_inner();
        assert!(response.applied && response.errors.is_empty(), "{response:?}");
        assert_eq!(response.sheet.unwrap().revision, 1);

        // The same as a workbook, with the key-assistance village added.
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (c, h) in ["village_code", "indicator_code", "points"].iter().enumerate() {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        for (r, (v, p)) in [(ORDINARY, 5.5), (DEMONSTRATION, 9.0), (KEY_ASSISTANCE, 6.0)].iter().enumerate() {
            sheet.write_string(r as u32 + 1, 0, *v).unwrap();
            sheet.write_string(r as u32 + 1, 1, "A01").unwrap();
            sheet.write_number(r as u32 + 1, 2, *p).unwrap();
        }
        let xlsx = book.save_to_buffer().unwrap();
        let response = s
            .sheets()
            .upload_sheet(req(&token, upload(&units.agency, pb::SheetFormat::Xlsx, xlsx)))
            .await
            .unwrap()
            .into_inner();
        assert!(response.applied, "{response:?}");
        let stored = s.sheets().get_sheet(req(&token, read)).await.unwrap().into_inner();
        let points: Vec<i32> = stored.scores.iter().map(|s| s.points).collect();
        assert_eq!((stored.revision, points), (2, vec![55, 90, 60]));
        s.stop().await;
    }
}

#[tokio::test]
async fn bad_schemes_are_refused_naming_the_field() {
    for db in backends().await {
        let s = start(&db).await;
        let units = s.units_of_county().await;
        let create = |scheme: pb::Scheme| {
            let mut schemes = s.schemes();
            let token = s.county.clone();
            async move {
                schemes
                    .create_scheme(req(&token, pb::CreateSchemeRequest { scheme: Some(scheme) }))
                    .await
                    .unwrap_err()
            }
        };
        let mut bad = scheme(&units, 2026);
        bad.items[0].indicators[1].max_points = 0;
        let err = create(bad).await;
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(err.message().starts_with("items[0].indicators[1].max_points:"), "{err:?}");
        let mut bad = scheme(&units, 2026);
        bad.variants[0].total_points = 90;
        assert!(create(bad).await.message().starts_with("variants[0].total_points:"));
        let mut bad = scheme(&units, 2026);
        bad.items[0].indicators[0].unit_id = "a-unit-of-nowhere".into();
        assert!(create(bad).await.message().starts_with("items[0].indicators[0].unit_id:"));
        let mut bad = scheme(&units, 2026);
        bad.name = "考".repeat(101);
        assert!(create(bad).await.message().starts_with("name:"));
        // Opening needs a variant for every type of village the county has.
        let mut partial = scheme(&units, 2026);
        partial.variants.retain(|v| v.village_type != "key-assistance");
        s.schemes()
            .create_scheme(req(&s.county, pb::CreateSchemeRequest { scheme: Some(partial) }))
            .await
            .unwrap();
        let open = pb::MoveYearRequest { county_code: COUNTY.into(), year: 2026 };
        let err = s.years().open_scoring(req(&s.county, open)).await.unwrap_err();
        assert!(err.message().contains("key-assistance"), "{err:?}");
        s.stop().await;
    }
}

#[tokio::test]
async fn next_door_and_the_unbound_are_refused() {
    for db in backends().await {
        let s = start(&db).await;
        let units = s.units_of_county().await;
        let v1 = s.scheme(&units, 2026).await;
        s.open(2026).await;
        let err = s
            .schemes()
            .get_scheme(req(&s.neighbour, pb::GetSchemeRequest { id: v1.id.clone() }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound);
        let progress = pb::GetProgressRequest { county_code: COUNTY.into(), year: 2026 };
        let err = s.sheets().get_progress(req(&s.neighbour, progress)).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        // A scoring-unit token bound to no unit; a unit bound elsewhere; next door's admin.
        let stranger = s.unit_token("stranger");
        assert_eq!(
            s.submit(&stranger, &units.agency, 2026, &[]).await.unwrap_err().code(),
            Code::PermissionDenied
        );
        let err = s.submit(&s.neighbour, &units.agency, 2026, &[]).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
        // A unit's subject acts for one unit only.
        let taken = pb::ScoringUnit {
            county_code: COUNTY.into(),
            name: "旗委组织部".into(),
            kind: pb::UnitKind::Agency as i32,
            subjects: vec!["zzb".into(), "nmj".into()],
            ..Default::default()
        };
        let err = s
            .units()
            .create_scoring_unit(req(&s.county, pb::CreateScoringUnitRequest { unit: Some(taken) }))
            .await
            .unwrap_err();
        assert!(err.message().starts_with("unit.subjects[1]:"), "{err:?}");
        // Auditors read progress, never write; units cannot read the scheme itself.
        let progress = pb::GetProgressRequest { county_code: COUNTY.into(), year: 2026 };
        s.sheets().get_progress(req(&s.auditor, progress)).await.unwrap();
        let err = s
            .schemes()
            .get_scheme(req(&s.unit_token("nmj"), pb::GetSchemeRequest { id: v1.id }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        s.stop().await;
    }
}

#[tokio::test]
async fn every_rpc_declares_what_it_needs() {
    let db = cadre_kit::testing::TestDb::sqlite(cadre_assessment::MIGRATIONS).await;
    let s = start(&db).await;
    permissions::refuse_tokens_that_grant_nothing(&s.channel, "cadre.assessment.", COUNTY).await;
    let callers: Vec<(Role, String)> = [
        (Role::CountyAdmin, COUNTY),
        (Role::TownshipAdmin, TOWNSHIP),
        (Role::ScoringUnit, COUNTY),
        (Role::Auditor, COUNTY),
        (Role::Integration, "150000000000"),
    ]
    .into_iter()
    .map(|(role, region)| (role, s.node.token(&[role], region)))
    .collect();
    permissions::grant_what_the_table_says(&s.channel, "cadre.assessment.", &callers).await;
    s.stop().await;
}

#[tokio::test]
async fn units_are_kept_by_the_county_and_each_township_sees_its_own() {
    for db in backends().await {
        let s = start(&db).await;
        let units = s.units_of_county().await;
        let get = pb::GetScoringUnitRequest { id: units.township.clone() };
        let unit = s.units().get_scoring_unit(req(&s.county, get.clone())).await.unwrap().into_inner();
        // Rebinding the township's subjects; a stale revision is refused.
        let mut edit = unit.clone();
        edit.subjects = vec!["dqtl".into(), "dqtl-2".into()];
        let updated = s
            .units()
            .update_scoring_unit(req(&s.county, pb::UpdateScoringUnitRequest { unit: Some(edit.clone()) }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((updated.revision, updated.subjects.len()), (2, 2));
        let err = s
            .units()
            .update_scoring_unit(req(&s.county, pb::UpdateScoringUnitRequest { unit: Some(edit) }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Aborted, "{err:?}");
        // A township administrator may not keep units, and sees its own and the agencies.
        let mut edit = updated.clone();
        edit.name = "大沁他拉镇".into();
        let err = s
            .units()
            .update_scoring_unit(req(&s.township_admin, pb::UpdateScoringUnitRequest { unit: Some(edit) }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "the county's record, not the township's: {err:?}");
        let list = pb::ListScoringUnitsRequest { county_code: COUNTY.into(), ..Default::default() };
        let seen =
            s.units().list_scoring_units(req(&s.township_admin, list.clone())).await.unwrap().into_inner();
        let names: Vec<&str> = seen.units.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["旗农牧局", "大沁他拉镇"]);
        let all = s.units().list_scoring_units(req(&s.county, list)).await.unwrap().into_inner();
        assert_eq!(all.units.len(), 3);
        let err = s.units().get_scoring_unit(req(&s.neighbour, get)).await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound);
        s.stop().await;
    }
}

#[tokio::test]
async fn over_long_and_odd_input_is_refused_naming_the_field() {
    for db in backends().await {
        let s = start(&db).await;
        let units = s.units_of_county().await;
        let unit = |name: &str, subject: &str, township: &str| pb::ScoringUnit {
            county_code: COUNTY.into(),
            name: name.into(),
            kind: if township.is_empty() { pb::UnitKind::Agency } else { pb::UnitKind::Township } as i32,
            township_code: township.into(),
            subjects: vec![subject.into()],
            ..Default::default()
        };
        for (u, field) in [
            (unit(&"局".repeat(101), "a", ""), "unit.name:"),
            (unit("旗司法局", "has space", ""), "unit.subjects[0]:"),
            (unit("旗司法局", &"s".repeat(129), ""), "unit.subjects[0]:"),
            (unit("扎鲁特旗鲁北镇", "lb", "150526100000"), "unit.township_code:"),
            (pb::ScoringUnit { kind: 9, ..unit("旗司法局", "sfj", "") }, "unit.kind:"),
        ] {
            let err = s
                .units()
                .create_scoring_unit(req(&s.county, pb::CreateScoringUnitRequest { unit: Some(u) }))
                .await
                .unwrap_err();
            assert_eq!(err.code(), Code::InvalidArgument, "{field} {err:?}");
            assert!(err.message().starts_with(field), "{field} {err:?}");
        }
        let mut odd = scheme(&units, 2026);
        odd.items[0].indicators[0].code = "A 01".into();
        let request = pb::CreateSchemeRequest { scheme: Some(odd) };
        let err = s.schemes().create_scheme(req(&s.county, request)).await.unwrap_err();
        assert!(err.message().starts_with("items[0].indicators[0].code:"), "{err:?}");
        let request = pb::CreateSchemeRequest {
            scheme: Some(pb::Scheme { county_code: TOWNSHIP.into(), ..scheme(&units, 2026) }),
        };
        let err = s.schemes().create_scheme(req(&s.county, request)).await.unwrap_err();
        assert!(err.message().starts_with("scheme.county_code:"), "{err:?}");

        s.scheme(&units, 2026).await;
        s.open(2026).await;
        let long = "1".repeat(5000);
        let err = s
            .submit(&s.unit_token("nmj"), &units.agency, 2026, &[(long.as_str(), "A01", 1)])
            .await
            .unwrap_err();
        assert!(err.message().starts_with("scores[0].village_code:") && err.message().len() < 200, "{err:?}");
        let err =
            s.submit(&s.unit_token("nmj"), &units.agency, 2026, &[(ORDINARY, "A01", -5)]).await.unwrap_err();
        assert!(err.message().starts_with("scores[0].points: must not be negative"), "{err:?}");
        let upload = pb::UploadSheetRequest {
            county_code: COUNTY.into(),
            year: 2026,
            unit_id: units.agency.clone(),
            format: pb::SheetFormat::Csv as i32,
            content: b"village,score\n1,2\n".to_vec(),
        };
        let err = s.sheets().upload_sheet(req(&s.unit_token("nmj"), upload)).await.unwrap_err();
        assert!(err.message().starts_with("content: the header row has no column village_code"), "{err:?}");
        let missing = pb::GetYearRequest { county_code: COUNTY.into(), year: 2030 };
        let err = s.years().get_year(req(&s.county, missing)).await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound);
        assert!(err.message().contains("CreateScheme or CopyScheme"), "{err:?}");
        s.stop().await;
    }
}
