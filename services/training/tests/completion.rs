//! Completion and hours: finishing a session evaluates each enrolled trainee against its
//! rule (80 % of three sittings needs all three), credits the course's hours to those who
//! completed in the cadre's ledger for the year and issues a certificate anyone with the
//! number can verify; finishing twice credits once, also when the finishes arrive at
//! once; a reversal is a new entry, never an edit, and revokes the certificate; next
//! door sees nothing.

mod common;

use cadre_kit::Role;
use cadre_proto::roster::v1::PostKind;
use cadre_proto::training::v1 as pb;
use cadre_proto::training::v1::certificate_service_client::CertificateServiceClient;
use cadre_proto::training::v1::change_service_client::ChangeServiceClient;
use cadre_proto::training::v1::completion_service_client::CompletionServiceClient;
use cadre_proto::training::v1::enrolment_service_client::EnrolmentServiceClient;
use cadre_proto::training::v1::session_service_client::SessionServiceClient;
use cadre_proto::training::v1::sign_in_service_client::SignInServiceClient;
use common::*;
use tonic::Code;

const YEAR: i32 = 2026;

/// A county session of an 8-hour course held on three past days, `trainees` enrolled
/// ("trainee-<tag>-<i>" in VILLAGE), the i-th signed in (from the paper sheet) at the
/// first `attended[i]` sittings.
async fn held(
    s: &Suite,
    tag: &str,
    attended: &[usize],
    rule: Option<pb::CompletionRule>,
) -> (pb::Session, Vec<String>) {
    let course = menu(s, YEAR, &[course("发展壮大村集体经济", pb::Topic::CollectiveEconomy, 8.0)]).await;
    let days: Vec<String> = (0..3).map(|i| format!("{YEAR}-11-{:02}", 10 + i)).collect();
    let session = pb::Session {
        title: format!("村党组织书记集中轮训（{tag}）"),
        organiser_level: pb::OrganiserLevel::County as i32,
        organiser_region_code: COUNTY.into(),
        course_id: course[0].clone(),
        capacity: 50,
        sittings: days.iter().map(|d| sitting(d, "09:00", "11:30")).collect(),
        completion_rule: rule,
        ..Default::default()
    };
    let session = SessionServiceClient::new(s.channel.clone())
        .create_session(req(&s.county, pb::CreateSessionRequest { session: Some(session) }))
        .await
        .unwrap()
        .into_inner();
    let mut enrolments = EnrolmentServiceClient::new(s.channel.clone());
    let mut signins = SignInServiceClient::new(s.channel.clone());
    let mut ids = Vec::new();
    for (i, n) in attended.iter().enumerate() {
        let id = format!("trainee-{tag}-{i}");
        s.roster.add(&id, &format!("学员{tag}{i}号"), VILLAGE, PostKind::PartySecretary);
        enrolments
            .enrol(req(&s.county, pb::EnrolRequest { session_id: session.id.clone(), cadre_id: id.clone() }))
            .await
            .unwrap();
        for sitting in session.sittings.iter().take(*n) {
            signins
                .sign_in_by_hand(req(
                    &s.county,
                    pb::SignInByHandRequest {
                        sitting_id: sitting.id.clone(),
                        cadre_id: id.clone(),
                        reason: "纸质签到表核对".into(),
                    },
                ))
                .await
                .unwrap();
        }
        ids.push(id);
    }
    (session, ids)
}

fn finish(session: &pb::Session) -> pb::SetSessionStateRequest {
    pb::SetSessionStateRequest {
        session_id: session.id.clone(),
        state: pb::SessionState::Finished as i32,
        revision: session.revision,
        ..Default::default()
    }
}

async fn completions(s: &Suite, token: &str, session: &str) -> Vec<pb::Completion> {
    CompletionServiceClient::new(s.channel.clone())
        .list_completions(req(
            token,
            pb::ListCompletionsRequest { session_id: session.into(), page_size: 100, ..Default::default() },
        ))
        .await
        .unwrap()
        .into_inner()
        .completions
}

async fn hours(s: &Suite, token: &str, cadre: &str) -> Result<pb::CadreHours, tonic::Status> {
    CompletionServiceClient::new(s.channel.clone())
        .get_cadre_hours(req(token, pb::GetCadreHoursRequest { cadre_id: cadre.into(), year: YEAR }))
        .await
        .map(|r| r.into_inner())
}

async fn verify(s: &Suite, token: &str, number: &str) -> Result<pb::CertificateCheck, tonic::Status> {
    CertificateServiceClient::new(s.channel.clone())
        .verify_certificate(req(token, pb::VerifyCertificateRequest { number: number.into() }))
        .await
        .map(|r| r.into_inner())
}

/// Training's feed rows of `entity`.
async fn feed(s: &Suite, entity: pb::Entity) -> usize {
    let page = ChangeServiceClient::new(s.channel.clone())
        .list_changes(req(
            &s.county,
            cadre_proto::changes::v1::ListChangesRequest { page_size: 1000, ..Default::default() },
        ))
        .await
        .unwrap()
        .into_inner();
    page.changes.iter().filter(|c| c.entity == entity as i32).count()
}

#[tokio::test]
async fn finishing_credits_the_hours_of_those_who_attended_enough_and_issues_certificates() {
    for db in backends().await {
        let s = start(&db).await;
        // Three sittings at the county's default of 80 %: 3 of 3 completes, 2 of 3 does not.
        let (session, ids) = held(&s, "a", &[3, 2, 0], None).await;
        assert_eq!(session.completion_rule, Some(pb::CompletionRule { min_percent: 80, min_sittings: 0 }));
        let finished = SessionServiceClient::new(s.channel.clone())
            .set_session_state(req(&s.county, finish(&session)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(finished.state, pb::SessionState::Finished as i32);
        assert!(finished.finished_at.is_some());

        let all = completions(&s, &s.county, &session.id).await;
        assert_eq!(all.len(), 3);
        let by = |id: &str| all.iter().find(|c| c.cadre_id == id).unwrap().clone();
        let done = by(&ids[0]);
        assert_eq!((done.state, done.attended, done.required, done.hours_tenths), (1, 3, 3, 80));
        assert!(done.certificate_number.starts_with("TC2026-"), "{done:?}");
        let short = by(&ids[1]);
        assert_eq!(
            (short.state, short.attended, short.hours_tenths),
            (pb::CompletionState::NotCompleted as i32, 2, 0)
        );
        assert_eq!(short.note, "attended 2 of 3 sittings; the rule (80 % of the sittings) needs 3");
        assert!(short.certificate_number.is_empty());
        assert_eq!(by(&ids[2]).attended, 0);

        // The ledger: one credit for the one who completed, none for the others.
        let ledger = hours(&s, &s.township, &ids[0]).await.unwrap();
        assert_eq!((ledger.total_tenths, ledger.entries.len()), (80, 1));
        assert_eq!(ledger.entries[0].kind, pb::HoursEntryKind::Credit as i32);
        assert_eq!(ledger.entries[0].session_title, session.title);
        s.copied(&ids[1], 1).await;
        assert_eq!(hours(&s, &s.county, &ids[1]).await.unwrap().total_tenths, 0);

        // Anyone with the number checks it: a scoring unit's token, no jurisdiction needed.
        let scorer = s.node.token(&[Role::ScoringUnit], NEXT_COUNTY);
        let check = verify(&s, &scorer, &done.certificate_number.to_lowercase()).await.unwrap();
        assert_eq!(check.state, pb::CertificateState::Valid as i32);
        assert_eq!((check.hours_tenths, check.holder.as_str()), (80, "学***号"));
        assert_eq!(check.session_title, session.title);
        // A mistyped number is refused by its check digits; an unknown one is not found.
        let mut typo = done.certificate_number.clone().into_bytes();
        typo[8] = if typo[8] == b'7' { b'8' } else { b'7' };
        let err = verify(&s, &scorer, &String::from_utf8(typo).unwrap()).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        let other = cadre_training::domain::certificates::number(YEAR, 42);
        assert_eq!(verify(&s, &scorer, &other).await.unwrap_err().code(), Code::NotFound);

        // Next door: the session, its completions and our cadres' hours are not there.
        let err = CompletionServiceClient::new(s.channel.clone())
            .list_completions(req(
                &s.neighbour,
                pb::ListCompletionsRequest { session_id: session.id.clone(), ..Default::default() },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound);
        assert_eq!(hours(&s, &s.neighbour, &ids[0]).await.unwrap_err().code(), Code::NotFound);
        assert_eq!(feed(&s, pb::Entity::Completion).await, 3);
        assert_eq!(feed(&s, pb::Entity::HoursEntry).await, 1);
        assert_eq!(feed(&s, pb::Entity::Certificate).await, 1);
        s.stop().await;
    }
}

#[tokio::test]
async fn finishing_twice_credits_once_also_when_the_finishes_arrive_at_once() {
    for db in backends().await {
        let s = start(&db).await;
        let (session, ids) = held(&s, "b", &[3, 3], None).await;
        // Eight organisers press "finish" at once on the session as they read it.
        let calls = (0..8).map(|_| {
            let mut sessions = SessionServiceClient::new(s.channel.clone());
            let request = req(&s.county, finish(&session));
            async move { sessions.set_session_state(request).await }
        });
        let results = futures::future::join_all(calls).await;
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "{results:?}");
        for err in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(matches!(err.code(), Code::Aborted | Code::FailedPrecondition), "{err:?}");
        }
        // A retry with the same key gets the first answer back and writes nothing.
        let (again, _) = held(&s, "c", &[3], None).await;
        let mut sessions = SessionServiceClient::new(s.channel.clone());
        let first = sessions
            .set_session_state(keyed(&s.county, "finish-c", finish(&again)))
            .await
            .unwrap()
            .into_inner();
        let retry = sessions
            .set_session_state(keyed(&s.county, "finish-c", finish(&again)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(first, retry);
        // Finishing again without the key is refused naming the move.
        let mut late = finish(&again);
        late.revision = first.revision;
        let err = sessions.set_session_state(req(&s.county, late)).await.unwrap_err();
        assert!(err.message().ends_with("is FINISHED; it cannot move to FINISHED"), "{err:?}");

        for id in ids.iter().chain(std::iter::once(&"trainee-c-0".to_string())) {
            let ledger = hours(&s, &s.county, id).await.unwrap();
            assert_eq!((ledger.total_tenths, ledger.entries.len()), (80, 1), "{id}");
        }
        assert_eq!(feed(&s, pb::Entity::HoursEntry).await, 3);
        s.stop().await;
    }
}

#[tokio::test]
async fn a_reversal_is_a_new_entry_and_revokes_the_certificate() {
    for db in backends().await {
        let s = start(&db).await;
        let (session, ids) = held(&s, "d", &[3], None).await;
        SessionServiceClient::new(s.channel.clone())
            .set_session_state(req(&s.county, finish(&session)))
            .await
            .unwrap();
        let number = completions(&s, &s.county, &session.id).await[0].certificate_number.clone();
        let mut completion = CompletionServiceClient::new(s.channel.clone());
        let reverse = |token: &str, reason: &str| {
            req(
                token,
                pb::ReverseCompletionRequest {
                    session_id: session.id.clone(),
                    cadre_id: ids[0].clone(),
                    reason: reason.into(),
                },
            )
        };
        let err = completion.reverse_completion(reverse(&s.county, " ")).await.unwrap_err();
        assert!(err.message().starts_with("reason:"), "{err:?}");
        let err = completion.reverse_completion(reverse(&s.township, "签到记录有误")).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "the organiser's: {err:?}");
        let err = completion.reverse_completion(reverse(&s.neighbour, "签到记录有误")).await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound);

        let reversed =
            completion.reverse_completion(reverse(&s.county, "签到记录有误")).await.unwrap().into_inner();
        assert_eq!(
            (reversed.state, reversed.note.as_str()),
            (pb::CompletionState::Reversed as i32, "签到记录有误")
        );
        let again =
            completion.reverse_completion(reverse(&s.county, "签到记录有误")).await.unwrap().into_inner();
        assert_eq!(again.revision, reversed.revision, "reversing again changes nothing");

        let ledger = hours(&s, &s.county, &ids[0]).await.unwrap();
        let amounts: Vec<(i32, i32)> = ledger.entries.iter().map(|e| (e.kind, e.hours_tenths)).collect();
        assert_eq!(amounts, [(1, 80), (2, -80)], "the credit stays; a reversing entry follows");
        assert_eq!(ledger.total_tenths, 0);
        let check = verify(&s, &s.county, &number).await.unwrap();
        assert_eq!(check.state, pb::CertificateState::Revoked as i32);
        assert!(!check.revoked_on.is_empty());
        s.stop().await;
    }
}

#[tokio::test]
async fn the_completion_rule_is_data_set_on_create_by_region_or_changed_before_the_finish() {
    for db in backends().await {
        let s = start(&db).await;
        let mut completion = CompletionServiceClient::new(s.channel.clone());
        let rules = |percent: i32, revision: i64| pb::TrainingRules {
            region_code: COUNTY.into(),
            year: YEAR,
            required_hours: vec![pb::PostHours {
                post_kind: PostKind::PartySecretary as i32,
                hours_tenths: 320,
            }],
            default_min_percent: percent,
            revision,
            ..Default::default()
        };
        let set = completion
            .set_training_rules(req(&s.county, pb::SetTrainingRulesRequest { rules: Some(rules(60, 0)) }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (set.default_min_percent, set.feedback_days, set.feedback_min_answers, set.revision),
            (60, 14, 3, 1)
        );
        // A stale revision, a township, next door and bad values are refused.
        let err = completion
            .set_training_rules(req(&s.county, pb::SetTrainingRulesRequest { rules: Some(rules(70, 0)) }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Aborted, "{err:?}");
        let err = completion
            .set_training_rules(req(&s.township, pb::SetTrainingRulesRequest { rules: Some(rules(70, 1)) }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        let err = completion
            .set_training_rules(req(&s.neighbour, pb::SetTrainingRulesRequest { rules: Some(rules(70, 1)) }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        let err = completion
            .set_training_rules(req(&s.county, pb::SetTrainingRulesRequest { rules: Some(rules(101, 1)) }))
            .await
            .unwrap_err();
        assert!(err.message().starts_with("rules.default_min_percent:"), "{err:?}");
        // A township reads what is in force for it, and where it comes from.
        let got = completion
            .get_training_rules(req(
                &s.township,
                pb::GetTrainingRulesRequest { region_code: TOWNSHIP.into(), year: YEAR },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((got.default_min_percent, got.source_region_code.as_str()), (60, COUNTY));

        // 60 % of 3 is 1.8: two sittings complete.
        let (session, ids) = held(&s, "e", &[2], None).await;
        assert_eq!(session.completion_rule.unwrap().min_percent, 60);
        // The organiser asks for all three before the finish instead.
        let mut sessions = SessionServiceClient::new(s.channel.clone());
        let bad = pb::SetCompletionRuleRequest {
            session_id: session.id.clone(),
            completion_rule: Some(pb::CompletionRule { min_percent: 0, min_sittings: 4 }),
            revision: session.revision,
        };
        let err = sessions.set_completion_rule(req(&s.county, bad)).await.unwrap_err();
        assert!(err.message().starts_with("completion_rule.min_sittings: must be within 1..=3"), "{err:?}");
        let all = pb::SetCompletionRuleRequest {
            session_id: session.id.clone(),
            completion_rule: Some(pb::CompletionRule { min_percent: 0, min_sittings: 3 }),
            revision: session.revision,
        };
        let changed = sessions.set_completion_rule(req(&s.county, all)).await.unwrap().into_inner();
        assert_eq!(changed.completion_rule.unwrap().min_sittings, 3);
        sessions.set_session_state(req(&s.county, finish(&changed))).await.unwrap();
        let c = completions(&s, &s.county, &session.id).await;
        assert_eq!((c[0].cadre_id.as_str(), c[0].state, c[0].required), (ids[0].as_str(), 2, 3));
        let late = pb::SetCompletionRuleRequest {
            session_id: session.id.clone(),
            completion_rule: Some(pb::CompletionRule { min_percent: 50, min_sittings: 0 }),
            revision: changed.revision + 1,
        };
        let err = sessions.set_completion_rule(req(&s.county, late)).await.unwrap_err();
        assert!(err.message().ends_with("its completion rule is final"), "{err:?}");
        // The cadre's hours against the year's requirement: short of all 32 hours.
        s.copied(&ids[0], 1).await;
        let ledger = hours(&s, &s.county, &ids[0]).await.unwrap();
        assert_eq!((ledger.total_tenths, ledger.required_tenths), (0, 320));
        s.stop().await;
    }
}
