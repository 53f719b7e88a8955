//! Awards against a pool: declared by the township, reviewed and approved by the
//! county, the pool never negative even under 200 concurrent approvals, every movement
//! of money in the ledger, paid by the finance system's confirmation file (all or
//! nothing, never twice), and a reconciliation that balances to the fen.

mod common;

use cadre_proto::changes::v1::ListChangesRequest;
use cadre_proto::incentive::v1 as pb;
use cadre_proto::incentive::v1::change_service_client::ChangeServiceClient;
use common::*;
use futures::future::join_all;
use tonic::Code;

#[tokio::test]
async fn two_hundred_approvals_at_once_against_room_for_a_hundred() {
    for db in backends().await {
        let s = start(&db).await;
        let rule = s.tier_one_rule(1_000_000).await;
        // Room for exactly 100 awards of 10,000 yuan.
        let pool = s.pool(100_000_000).await;
        let mut ids = Vec::new();
        for i in 0..200 {
            let village = format!("150525100{:03}", i + 1);
            ids.push(s.reviewed(&rule, &pool, &village).await.id);
        }
        let approvals = ids.iter().map(|id| {
            let mut awards = s.awards();
            let token = s.county.clone();
            async move { awards.approve_award(req(&token, moved(id))).await }
        });
        let started = std::time::Instant::now();
        let results = join_all(approvals).await;
        let elapsed = started.elapsed();
        eprintln!(
            "{:?}: 200 approvals at once in {elapsed:?} ({:.0}/s)",
            db.backend(),
            200.0 / elapsed.as_secs_f64()
        );
        let approved = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(approved, 100, "exactly the pool's room");
        for refused in results.iter().filter_map(|r| r.as_ref().err()) {
            assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
            assert!(refused.message().contains("balance of 0 fen (0.00 yuan)"), "{}", refused.message());
        }
        let books = s.reconciliation(&pool).await;
        assert!(books.balanced, "{:?}", books.discrepancies);
        assert_eq!((books.available_fen, books.payable_fen, books.pool_balance_fen), (0, 100_000_000, 0));
        // 1 funding entry + 100 approvals.
        assert_eq!(books.entry_count, 101);
        s.stop().await;
    }
}

#[tokio::test]
async fn an_award_goes_declared_reviewed_approved_paid_by_the_right_levels() {
    for db in backends().await {
        let s = start(&db).await;
        let rule = s.tier_one_rule(1_000_000).await;
        let pool = s.pool(2_500_000).await;
        let mut awards = s.awards();

        // The township declares; retried with the same key, one award.
        let first = awards
            .declare_award(keyed(&s.township, "declare-1", declaration(&rule, &pool, VILLAGE)))
            .await
            .unwrap()
            .into_inner();
        let again = awards
            .declare_award(keyed(&s.township, "declare-1", declaration(&rule, &pool, VILLAGE)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(first.id, again.id);
        assert_eq!(first.state, pb::AwardState::Declared as i32);
        assert_eq!(first.amount_fen, 1_000_000);
        assert_eq!(first.payee_account, "***************8901");

        // The township may not review or approve; approval before review names from → to.
        let err = awards.review_award(req(&s.township, moved(&first.id))).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
        let err = awards.approve_award(req(&s.county, moved(&first.id))).await.unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition);
        assert!(
            err.message().contains("AWARD_STATE_DECLARED; it cannot move to AWARD_STATE_APPROVED"),
            "{err:?}"
        );

        // Over-long or malformed fields are refused naming them.
        let mut long = declaration(&rule, &pool, VILLAGE);
        long.award.as_mut().unwrap().reason = "理由".repeat(101);
        let err = awards.declare_award(req(&s.township, long)).await.unwrap_err();
        assert!(err.message().starts_with("award.reason:"), "{err:?}");
        let mut account = declaration(&rule, &pool, VILLAGE);
        account.award.as_mut().unwrap().payee_account = "6228-4800".into();
        let err = awards.declare_award(req(&s.township, account)).await.unwrap_err();
        assert!(err.message().starts_with("award.payee_account:"), "{err:?}");
        let mut town = declaration(&rule, &pool, VILLAGE);
        town.award.as_mut().unwrap().region_code = TOWNSHIP.into();
        let err = awards.declare_award(req(&s.township, town)).await.unwrap_err();
        assert!(err.message().starts_with("award.region_code:"), "{err:?}");

        // Next door sees nothing of it, and cannot draw on our rule.
        let err = awards.review_award(req(&s.neighbour, moved(&first.id))).await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound);
        let err = awards
            .declare_award(req(&s.neighbour, declaration(&rule, &pool, NEXT_VILLAGE)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "our rule is not theirs: {err:?}");

        awards.review_award(req(&s.county, moved(&first.id))).await.unwrap();
        let approved = awards.approve_award(req(&s.county, moved(&first.id))).await.unwrap().into_inner();
        assert_eq!(
            (approved.state, approved.approved_by.as_str()),
            (pb::AwardState::Approved as i32, "county")
        );

        // Two more: one approved then cancelled (its money returns), one rejected.
        let second = s.reviewed(&rule, &pool, VILLAGE_2).await;
        awards.approve_award(req(&s.county, moved(&second.id))).await.unwrap();
        let note =
            |id: &str| pb::MoveAwardRequest { id: id.into(), revision: 0, note: "重复申报".into() };
        let err = awards.cancel_award(req(&s.county, moved(&second.id))).await.unwrap_err();
        assert!(err.message().starts_with("note:"), "a cancellation says why: {err:?}");
        awards.cancel_award(req(&s.county, note(&second.id))).await.unwrap();
        let third = s.declare(&rule, &pool, VILLAGE_2).await;
        awards.reject_award(req(&s.county, note(&third.id))).await.unwrap();
        // The pool had room for two: after the cancellation, a fourth fits, a fifth not.
        let fourth = s.reviewed(&rule, &pool, VILLAGE).await;
        awards.approve_award(req(&s.county, moved(&fourth.id))).await.unwrap();
        let fifth = s.reviewed(&rule, &pool, VILLAGE).await;
        let err = awards.approve_award(req(&s.county, moved(&fifth.id))).await.unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition);
        assert!(err.message().contains("balance of 500000 fen (5000.00 yuan)"), "{err:?}");

        // The payment list: masked for the county, in clear with pii; yuan with two decimals.
        let export = |token: &str| {
            let mut awards = s.awards();
            let request =
                req(token, pb::ExportPaymentListRequest { pool_id: pool.id.clone(), ..Default::default() });
            async move { awards.export_payment_list(request).await.unwrap().into_inner() }
        };
        let masked = export(&s.county).await;
        assert_eq!((masked.row_count, masked.total_fen, masked.pii_masked), (2, 2_000_000, true));
        let text = String::from_utf8(masked.content).unwrap();
        assert!(text.contains("***************8901") && !text.contains(ACCOUNT), "{text}");
        assert!(text.contains(",10000.00,"), "{text}");
        let clear = export(&s.county_pii).await;
        let clear_text = String::from_utf8(clear.content).unwrap();
        assert!(clear_text.contains(ACCOUNT), "{clear_text}");

        // The same list as XLSX, every cell text.
        let xlsx = s
            .awards()
            .export_payment_list(req(
                &s.county,
                pb::ExportPaymentListRequest {
                    pool_id: pool.id.clone(),
                    format: pb::PaymentListFormat::Xlsx as i32,
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(xlsx.file_name.ends_with(".xlsx"), "{}", xlsx.file_name);
        let mut book: calamine::Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx.content)).expect("a workbook");
        use calamine::Reader as _;
        let sheet = book.worksheet_range_at(0).unwrap().unwrap();
        assert_eq!(sheet.height(), 3, "a header and two awards");
        assert_eq!(sheet.get_value((1, 5)).map(|c| c.to_string()).as_deref(), Some("10000.00"));
        assert_eq!(sheet.get_value((1, 4)).map(|c| c.to_string()).as_deref(), Some("***************8901"));

        // Confirmations: one bad row changes nothing, and every bad row is reported.
        let filled = |text: &str, wrong_amount: bool| {
            let mut out = String::new();
            for (i, line) in text.lines().enumerate() {
                if i == 0 {
                    out.push_str(line);
                } else {
                    let line = line.trim_end_matches(",,");
                    let line = if wrong_amount && i == 2 {
                        line.replace(",10000.00,", ",9999.99,")
                    } else {
                        line.to_string()
                    };
                    out.push_str(&format!("{line},2026-12-20,BANK-{i:04}"));
                }
                out.push('\n');
            }
            out
        };
        let upload = |content: String, token: String| {
            let mut awards = s.awards();
            let request = req(
                &token,
                pb::UploadPaymentConfirmationsRequest {
                    pool_id: pool.id.clone(),
                    content: content.into_bytes(),
                },
            );
            async move { awards.upload_payment_confirmations(request).await }
        };
        let refused = upload(filled(&text, true), s.county.clone()).await.unwrap().into_inner();
        assert_eq!(refused.paid_count, 0);
        assert_eq!(refused.errors.len(), 1, "{:?}", refused.errors);
        assert_eq!((refused.errors[0].row, refused.errors[0].field.as_str()), (3, "amount_yuan"));
        let still = awards
            .get_award(req(&s.county, pb::GetAwardRequest { id: first.id.clone() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(still.state, pb::AwardState::Approved as i32, "nothing paid by a refused file");
        // The township may not record payment.
        let err = upload(filled(&text, false), s.township.clone()).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        let paid = upload(filled(&text, false), s.county.clone()).await.unwrap().into_inner();
        assert_eq!((paid.paid_count, paid.paid_fen), (2, 2_000_000), "{:?}", paid.errors);
        // The same file again: both already paid, nothing changes.
        let twice = upload(filled(&text, false), s.county.clone()).await.unwrap().into_inner();
        assert_eq!(twice.paid_count, 0);
        assert!(twice.errors.iter().all(|e| e.message.contains("paid already")), "{:?}", twice.errors);
        let got = awards
            .get_award(req(&s.county, pb::GetAwardRequest { id: first.id.clone() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((got.state, got.paid_on.as_str()), (pb::AwardState::Paid as i32, "2026-12-20"));
        let err = awards.cancel_award(req(&s.county, note(&first.id))).await.unwrap_err();
        assert!(
            err.message().contains("AWARD_STATE_PAID; it cannot move to AWARD_STATE_CANCELLED"),
            "{err:?}"
        );

        // The books after that mixed history: budget = available + payable + paid.
        let books = s.reconciliation(&pool).await;
        assert!(books.balanced, "{:?}", books.discrepancies);
        assert_eq!(
            (books.budget_fen, books.available_fen, books.payable_fen, books.paid_fen),
            (2_500_000, 500_000, 0, 2_000_000)
        );
        assert_eq!(books.paid_awards_fen, 2_000_000);
        // fund, 3 approvals, 1 release, 2 payments.
        assert_eq!(books.entry_count, 7);
        let ledger = s
            .pools()
            .list_ledger_entries(req(
                &s.auditor,
                pb::ListLedgerEntriesRequest { pool_id: pool.id.clone(), ..Default::default() },
            ))
            .await
            .unwrap()
            .into_inner();
        let count = |kind: pb::EntryKind| ledger.entries.iter().filter(|e| e.kind == kind as i32).count();
        assert_eq!((count(pb::EntryKind::Pay), count(pb::EntryKind::Release)), (2, 1));

        // Paying twice is refused by the database itself, not only by the service's check:
        // a second PAY entry for the award violates the ledger's unique index.
        let second_pay = sqlx::query(
            "INSERT INTO incentive_ledger (entry_id, line, pool_id, award_id, kind, account, amount_fen, recorded_at) \
             VALUES ('forged', 1, $1, $2, $3, $4, -1000000, 0)",
        )
        .bind(pool.id.clone())
        .bind(first.id.clone())
        .bind(pb::EntryKind::Pay as i64)
        .bind(pb::Account::Payable as i64)
        .execute(s.node.db("incentive").pool())
        .await
        .unwrap_err();
        assert!(second_pay.as_database_error().is_some_and(|e| e.is_unique_violation()), "{second_pay:?}");

        // Every award and move is in the change feed: 5 declared, 11 moves (2 + 3 + 1 + 2 + 1,
        // and 2 payments).
        let feed = ChangeServiceClient::new(s.channel.clone())
            .list_changes(req(&s.county, ListChangesRequest { page_size: 1000, ..Default::default() }))
            .await
            .unwrap()
            .into_inner();
        let awards_fed = feed.changes.iter().filter(|c| c.entity == pb::Entity::Award as i32).count();
        assert_eq!(awards_fed, 5 + 11, "{:?}", feed.changes.len());
        s.stop().await;
    }
}

#[tokio::test]
async fn the_good_secretary_is_paid_through_the_organisation_only_when_on_a_payroll() {
    for db in backends().await {
        let s = start(&db).await;
        let rule = pb::RewardRule {
            region_code: COUNTY.into(),
            year: 2026,
            name: "好支书奖励".into(),
            trigger: pb::Trigger::NamedHonour as i32,
            honour: "好支书".into(),
            amount_fen: 1_000_000,
            payee: pb::Payee::OrganisationIfOnPayrollElsePerson as i32,
            split: pb::Split::None as i32,
            ..Default::default()
        };
        let rule = s
            .rules()
            .create_reward_rule(req(&s.county, pb::CreateRewardRuleRequest { rule: Some(rule) }))
            .await
            .unwrap()
            .into_inner();
        let pool = s.pool(10_000_000).await;
        let mut awards = s.awards();
        let mut secretary = declaration(&rule, &pool, VILLAGE);
        let err = awards.declare_award(req(&s.township, secretary.clone())).await.unwrap_err();
        assert!(err.message().starts_with("award.cadre_id:"), "{err:?}");
        let a = secretary.award.as_mut().unwrap();
        a.cadre_id = "cadre-bateer".into();
        a.payee_name = "巴特尔".into();
        let person = awards.declare_award(req(&s.township, secretary.clone())).await.unwrap().into_inner();
        assert_eq!(person.payee, pb::Payee::Person as i32);
        secretary.award.as_mut().unwrap().on_government_payroll = true;
        let org = awards.declare_award(req(&s.township, secretary)).await.unwrap().into_inner();
        assert_eq!(org.payee, pb::Payee::VillagePartyOrganisation as i32);
        s.stop().await;
    }
}

#[tokio::test]
async fn the_same_award_approved_or_paid_by_many_at_once_moves_once() {
    for db in backends().await {
        let s = start(&db).await;
        let rule = s.tier_one_rule(1_000_000).await;
        let pool = s.pool(10_000_000).await;
        let award = s.reviewed(&rule, &pool, VILLAGE).await;
        let approvals = (0..10).map(|_| {
            let mut awards = s.awards();
            let (token, id) = (s.county.clone(), award.id.clone());
            async move { awards.approve_award(req(&token, moved(&id))).await }
        });
        let results = join_all(approvals).await;
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "approved once");
        for err in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(
                err.message().contains("AWARD_STATE_APPROVED; it cannot move to AWARD_STATE_APPROVED"),
                "{err:?}"
            );
        }
        // Two finance clerks upload the same confirmation at once: one pays, one is told.
        let file =
            format!("award_id,amount_yuan,paid_on,payment_reference\n{},10000.00,2026-12-20,B-1\n", award.id);
        let uploads = (0..2).map(|_| {
            let mut awards = s.awards();
            let request = req(
                &s.county,
                pb::UploadPaymentConfirmationsRequest {
                    pool_id: pool.id.clone(),
                    content: file.clone().into_bytes(),
                },
            );
            async move { awards.upload_payment_confirmations(request).await.unwrap().into_inner() }
        });
        let paid: Vec<i32> = join_all(uploads).await.iter().map(|r| r.paid_count).collect();
        assert_eq!(paid.iter().sum::<i32>(), 1, "{paid:?}");
        let books = s.reconciliation(&pool).await;
        assert!(books.balanced, "{:?}", books.discrepancies);
        assert_eq!((books.paid_fen, books.available_fen), (1_000_000, 9_000_000));
        s.stop().await;
    }
}
