//! A hostile caller against the whole suite (issue 13, finding 1): IDs of 17,000 and
//! 65,000 characters in paths, bodies, queries and headers, over REST and gRPC, through
//! the gateway and straight at the services' port, while other users go on with normal
//! calls. Every hostile request gets a 4xx that names the field and never echoes it;
//! no normal call fails (an oversized error header once made the gateway reset its
//! streams until HTTP/2 dropped the shared connection to the part).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use cadre::suite::{self, RunningSuite, SuiteOptions};
use cadre_kit::config::Settings;
use cadre_kit::shutdown::Shutdown;
use cadre_kit::testing::TestDb;
use cadre_kit::{RegionCode, Role};
use cadre_proto::roster::v1 as pb;
use serde_json::{Value, json};

const COUNTY: &str = "150525000000";
const VILLAGE: &str = "150525100201";

struct Suite {
    running: Option<RunningSuite>,
    shutdown: Shutdown,
    base: String,
    grpc: String,
    http: reqwest::Client,
    token: String,
    _dbs: (TestDb, TestDb),
}

impl Suite {
    async fn start(db: TestDb) -> Suite {
        let training = match db.backend() {
            cadre_kit::db::Backend::Sqlite => TestDb::sqlite(cadre_training::MIGRATIONS).await,
            cadre_kit::db::Backend::Postgres => {
                TestDb::postgres(cadre_training::MIGRATIONS).await.expect("PostgreSQL is configured")
            }
        };
        let mut settings = Settings {
            grpc_addr: "127.0.0.1:0".parse().unwrap(),
            http_addr: "127.0.0.1:0".parse().unwrap(),
            demo: false,
            ..Settings::default()
        };
        // The attacks and the normal users share one token and far outrun a person's
        // rate limit: this test is about connection isolation, so the limit is lifted.
        settings.gateway.rate_limits.default = cadre_kit::config::Rate::UNLIMITED;
        settings.part_mut("roster").database.url = Some(db.url().clone());
        settings.part_mut("training").database.url = Some(training.url().clone());
        let shutdown = Shutdown::new();
        let running = suite::start(&settings, SuiteOptions::everything(), shutdown.clone())
            .await
            .expect("suite starts");
        let token = cadre_kit::auth::issue_dev_token(
            &settings.auth.dev_secret,
            "county-admin",
            &[Role::CountyAdmin],
            &RegionCode::parse(COUNTY).unwrap(),
            Duration::from_secs(600),
        )
        .unwrap();
        Suite {
            base: format!("http://{}", running.http_addr.unwrap()),
            grpc: format!("http://{}", running.grpc_addr.unwrap()),
            running: Some(running),
            shutdown,
            http: reqwest::Client::new(),
            token,
            _dbs: (db, training),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        answer(req).await
    }

    async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(r) = self.running.take() {
            tokio::time::timeout(Duration::from_secs(10), r.wait()).await.expect("drains in time").unwrap();
        }
    }
}

async fn answer(req: reqwest::RequestBuilder) -> (u16, Value) {
    match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
        }
        Err(e) => (0, Value::String(format!("no answer: {e}"))),
    }
}

/// One hostile request: what it sends and the field its refusal must name.
struct Attack {
    method: reqwest::Method,
    path: String,
    body: Option<Value>,
    header: Option<(&'static str, String)>,
    field: &'static str,
}

fn attacks(long: &str) -> Vec<Attack> {
    use reqwest::Method as M;
    let a = |method: M, path: String, body: Option<Value>, field| Attack {
        method,
        path,
        body,
        header: None,
        field,
    };
    vec![
        a(M::GET, format!("/v1/cadres/{long}"), None, "id"),
        a(M::GET, format!("/v1/reserves/{long}"), None, "id"),
        a(M::GET, format!("/v1/regions/{long}/structure"), None, "region_code"),
        a(M::PATCH, format!("/v1/cadres/{long}"), Some(json!({ "cadre": { "revision": "1" } })), "cadre.id"),
        a(M::POST, format!("/v1/posts/{long}:end"), Some(json!({ "endDate": "2024-05-01" })), "post_id"),
        a(M::POST, format!("/v1/work-teams/{long}/members"), Some(json!({})), "team_id"),
        a(
            M::POST,
            "/v1/sanctions".into(),
            Some(json!({ "cadreId": long, "kind": 1, "reason": "x", "decidedBy": "x" })),
            "cadre_id",
        ),
        a(
            M::POST,
            "/v1/mentoring/pairings".into(),
            Some(json!({ "mentorCadreId": long, "menteeCadreId": "x", "startDate": "2024-05-01" })),
            "mentor_cadre_id",
        ),
        a(M::POST, "/v1/cadres:batchGet".into(), Some(json!({ "ids": ["c-1", long] })), "ids[1]"),
        a(
            M::POST,
            "/v1/reserves".into(),
            Some(json!({ "cadreId": long, "regionCode": VILLAGE })),
            "reserve.cadre_id",
        ),
        a(M::GET, format!("/v1/cadres?nameContains={long}"), None, "name_contains"),
        Attack {
            method: M::GET,
            path: format!("/v1/regions/{COUNTY}"),
            body: None,
            header: Some(("x-request-id", long.to_string())),
            field: "x-request-id",
        },
    ]
}

async fn a_hostile_caller_among_normal_users(s: &Suite) {
    let province = province_token();
    let (status, body) =
        answer(s.http.post(format!("{}/v1/regions:batchUpsert", s.base)).bearer_auth(&province).json(
            &json!({ "regions": [
                { "code": "150000000000", "name": "内蒙古自治区" },
                { "code": "150500000000", "name": "通辽市" },
                { "code": COUNTY, "name": "奈曼旗" },
                { "code": "150525100000", "name": "大沁他拉镇" },
                { "code": VILLAGE, "name": "白音他拉嘎查", "villageType": "ordinary" },
            ]}),
        ))
        .await;
    assert_eq!(status, 200, "{body}");

    // Normal users: region reads, as fast as they are answered, until the attack ends.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut users = Vec::new();
    for _ in 0..4 {
        let (http, url, token) = (s.http.clone(), format!("{}/v1/regions/{COUNTY}", s.base), s.token.clone());
        let (stop, ok, failed, failures) = (stop.clone(), ok.clone(), failed.clone(), failures.clone());
        users.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (status, body) = answer(http.get(&url).bearer_auth(&token)).await;
                if status == 200 && body["code"] == COUNTY {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                    failures.lock().unwrap().push(format!("{status} {body}"));
                }
            }
        }));
    }

    // The attacker: every hostile request many times over, a few at a time (more than the
    // 1024 locally reset streams after which HTTP/2 drops a connection).
    let mut hostile = 0;
    for len in [17_000, 65_000] {
        let long = "A".repeat(len);
        let attacks = attacks(&long);
        let rounds = if len == 17_000 { 70 } else { 20 };
        for _ in 0..rounds {
            let mut wave = Vec::new();
            for attack in &attacks {
                let mut req = s
                    .http
                    .request(attack.method.clone(), format!("{}{}", s.base, attack.path))
                    .bearer_auth(&s.token);
                if let Some(body) = &attack.body {
                    req = req.json(body);
                }
                if let Some((name, value)) = &attack.header {
                    req = req.header(*name, value);
                }
                wave.push(async move { (attack, answer(req).await) });
            }
            for (attack, (status, body)) in futures::future::join_all(wave).await {
                hostile += 1;
                let text = body.to_string();
                assert!(
                    (400..500).contains(&status),
                    "{} {}: {status} {}",
                    attack.method,
                    &attack.path[..40.min(attack.path.len())],
                    &text[..300.min(text.len())]
                );
                let message = body["message"].as_str().unwrap_or_default();
                assert!(
                    message.contains(attack.field),
                    "{} names {}: {message:.300}",
                    attack.path.len(),
                    attack.field
                );
                assert!(text.len() < 1000, "the refusal echoes the input: {} bytes", text.len());
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for user in users {
        user.await.unwrap();
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!(
        "hostile requests: {hostile}, all refused 4xx naming the field; normal calls: {ok} ok, {failed} failed"
    );
    assert_eq!(
        failed,
        0,
        "normal calls failed during the attack: {:?}",
        &failures.lock().unwrap()[..failed.min(5)]
    );
    assert!(ok > 100, "normal users were served throughout: {ok} calls");

    // gRPC, through the gateway and straight at the services' port: INVALID_ARGUMENT
    // naming the field, without the ID.
    for target in [&s.base, &s.grpc] {
        let mut client = pb::cadre_service_client::CadreServiceClient::connect(target.clone()).await.unwrap();
        for len in [17_000, 65_000] {
            let mut req = tonic::Request::new(pb::GetCadreRequest { id: "A".repeat(len) });
            req.metadata_mut().insert("authorization", format!("Bearer {}", s.token).parse().unwrap());
            let err = client.get_cadre(req).await.unwrap_err();
            assert_eq!(err.code(), tonic::Code::InvalidArgument, "{target}: {err:?}");
            assert!(err.message().starts_with("id:"), "{}", err.message());
            assert!(err.message().len() < 200, "echoes the ID: {} bytes", err.message().len());
        }
        let mut reserves =
            pb::reserve_service_client::ReserveServiceClient::connect(target.clone()).await.unwrap();
        let mut req = tonic::Request::new(pb::CreateReserveRequest {
            reserve: Some(pb::Reserve { cadre_id: "A".repeat(17_000), ..Default::default() }),
        });
        req.metadata_mut().insert("authorization", format!("Bearer {}", s.token).parse().unwrap());
        let err = reserves.create_reserve(req).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{target}: {err:?}");
        assert!(
            err.message().starts_with("reserve.cadre_id:") && err.message().len() < 200,
            "{}",
            err.message()
        );
    }

    statuses_say_what_happened(s).await;

    // A one-line 2.9 MB CSV (one enormous header cell): refused naming the content, the
    // answer small.
    use base64::Engine;
    let csv = "A".repeat(2_900_000); // 3.9 MB in base64, within the body limit
    let body = json!({
        "format": "TRANSFER_FORMAT_CSV",
        "content": base64::engine::general_purpose::STANDARD.encode(csv.as_bytes()),
        "dryRun": true,
        "fileName": "花名册.csv",
    });
    let (status, body) = s.send(reqwest::Method::POST, "/v1/roster:import", Some(body)).await;
    let text = body.to_string();
    assert!((400..500).contains(&status), "{status} {:.300}", text);
    assert!(body["message"].as_str().unwrap_or_default().starts_with("content:"), "{:.300}", text);
    assert!(text.len() < 1000, "the refusal echoes the file: {} bytes", text.len());

    // The service is still whole afterwards.
    let (status, body) = s.send(reqwest::Method::GET, &format!("/v1/regions/{COUNTY}"), None).await;
    assert_eq!(status, 200, "{body}");
}

/// Issue 13, findings 5 to 7: bad dates and repeated JSON keys are 400 naming the field, a
/// reused idempotency key 422, an oversized body 413 saying so, a malformed protobuf message
/// INVALID_ARGUMENT and a deadline already passed DEADLINE_EXCEEDED, over REST, through the
/// gateway's passthrough and straight at the services.
async fn statuses_say_what_happened(s: &Suite) {
    use reqwest::Method as M;
    for bad in ["24-05-01", "-2024-01-01", "%2B2024-05-01", "0000-01-01", "2024-1-1", "%20"] {
        let (status, body) =
            s.send(M::GET, &format!("/v1/regions/{COUNTY}/structure?asOf={bad}"), None).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["message"].as_str().unwrap().starts_with("as_of:"), "{bad}: {body}");
    }
    let (status, body) =
        s.send(M::GET, &format!("/v1/regions/{COUNTY}/structure?asOf=2024-05-01"), None).await;
    assert_eq!(status, 200, "{body}");

    let twice = r#"{"regionCode":"150525100201","name":"A","name":"B"}"#;
    let (status, body) = answer(
        s.http
            .post(format!("{}/v1/cadres", s.base))
            .bearer_auth(&s.token)
            .header("content-type", "application/json")
            .body(twice),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().starts_with("name: given more than once"), "{body}");

    // Finding 8: an ID number from no province, a cadre born in 2020, a region whose parent
    // contradicts its code: each refused by name, not stored or corrected.
    let born = |area: &str, y: i32| {
        cadre_kit::resident_id::build(area, chrono::NaiveDate::from_ymd_opt(y, 3, 1).unwrap(), 11)
            .as_str()
            .to_string()
    };
    for (id_number, expect) in [
        (born("000105", 1985), "cadre.id_number: the area code 000105"),
        (born("150525", 2020), "cadre.id_number: gives a birth date of 2020-03-01"),
    ] {
        let cadre = json!({ "regionCode": VILLAGE, "name": "测试", "idNumber": id_number, "ethnicity": "汉族",
            "politicalStatus": "POLITICAL_STATUS_PARTY_MEMBER", "education": "EDUCATION_COLLEGE" });
        let (status, body) = s.send(M::POST, "/v1/cadres", Some(cadre)).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["message"].as_str().unwrap().starts_with(expect), "{body}");
    }
    let (status, body) = answer(
        s.http.post(format!("{}/v1/regions:batchUpsert", s.base)).bearer_auth(province_token()).json(
            &json!({ "regions": [{ "code": VILLAGE, "name": "白音他拉嘎查", "parentCode": "150525101000" }] }),
        ),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().starts_with("regions[0].parent_code:"), "{body}");

    let sanction = |reason: &str| json!({ "cadreId": "c-1", "kind": 1, "reason": reason, "decidedBy": "x" });
    let keyed = |body: Value| {
        s.http
            .post(format!("{}/v1/sanctions", s.base))
            .bearer_auth(&s.token)
            .header("idempotency-key", "sanction-1")
            .json(&body)
    };
    let (first, body) = answer(keyed(sanction("first"))).await;
    assert_eq!(first, 404, "no such cadre: {body}");
    // A failed call stores nothing under its key; a stored one answers a different body with 422.
    let upsert = |name: &str| {
        s.http
            .post(format!("{}/v1/regions:batchUpsert", s.base))
            .bearer_auth(province_token())
            .header("idempotency-key", "regions-1")
            .json(&json!({ "regions": [{ "code": COUNTY, "name": name }] }))
    };
    let (status, body) = answer(upsert("奈曼旗")).await;
    assert_eq!(status, 200, "{body}");
    let (status, again) = answer(upsert("奈曼旗")).await;
    assert_eq!((status, &again), (200, &body), "a retry gets the first answer");
    let (status, body) = answer(upsert("别的名字")).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["reason"], "IDEMPOTENCY_KEY_REUSED", "{body}");

    let big = json!({ "regions": [{ "code": COUNTY, "name": "A".repeat(5 << 20) }] });
    let (status, body) = answer(
        s.http.post(format!("{}/v1/regions:batchUpsert", s.base)).bearer_auth(province_token()).json(&big),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(
        (body["code"].as_str(), body["reason"].as_str()),
        (Some("RESOURCE_EXHAUSTED"), Some("PAYLOAD_TOO_LARGE"))
    );
    assert!(body["limitBytes"].as_u64().is_some(), "{body}");

    // Raw gRPC (a client library would refuse to send these): a message that is not a
    // GetCadreRequest, and a call whose deadline has already passed.
    let get_cadre = "/cadre.roster.v1.CadreService/GetCadre";
    let auth = ("authorization", format!("Bearer {}", s.token));
    let valid = prost::Message::encode_to_vec(&pb::GetCadreRequest { id: "c-1".into() });
    for target in [&s.base, &s.grpc] {
        let addr = target.trim_start_matches("http://");
        let (code, message) =
            raw_grpc(addr, get_cadre, std::slice::from_ref(&auth), &[0x0a, 0xff, 0x01]).await;
        assert_eq!(code, tonic::Code::InvalidArgument, "{target}: {message}");
        assert!(message.starts_with("request:"), "{message}");
        let late = [auth.clone(), ("grpc-timeout", "0n".to_string())];
        let (code, message) = raw_grpc(addr, get_cadre, &late, &valid).await;
        assert_eq!(code, tonic::Code::DeadlineExceeded, "{target}: {message}");
        let (code, message) = raw_grpc(addr, get_cadre, std::slice::from_ref(&auth), &valid).await;
        assert_eq!(code, tonic::Code::NotFound, "{target}: {message}");
    }
}

/// One unary gRPC call over a fresh HTTP/2 connection, `message` framed as sent: its
/// status and message, from the headers of a trailers-only answer or the trailers.
async fn raw_grpc(
    addr: &str,
    path: &str,
    headers: &[(&str, String)],
    message: &[u8],
) -> (tonic::Code, String) {
    use http_body_util::BodyExt;
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connects");
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .expect("HTTP/2");
    tokio::spawn(connection);
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(message);
    let mut request = http::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let request = request.body(http_body_util::Full::new(bytes::Bytes::from(frame))).unwrap();
    let response = sender.send_request(request).await.expect("an answer");
    let (parts, body) = response.into_parts();
    let trailers = body.collect().await.expect("a body").trailers().cloned().unwrap_or_default();
    let field = |name: &str| {
        parts
            .headers
            .get(name)
            .or_else(|| trailers.get(name))
            .map(|v| v.to_str().unwrap_or_default().to_string())
    };
    let code = field("grpc-status")
        .and_then(|c| c.parse::<i32>().ok())
        .map_or(tonic::Code::Unknown, tonic::Code::from_i32);
    let message = field("grpc-message").unwrap_or_default();
    let message = String::from_utf8_lossy(&percent_decoded(&message)).into_owned();
    (code, message)
}

fn percent_decoded(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn province_token() -> String {
    cadre_kit::auth::issue_dev_token(
        &Settings::default().auth.dev_secret,
        "province-admin",
        &[Role::ProvinceAdmin],
        &RegionCode::parse("150000000000").unwrap(),
        Duration::from_secs(600),
    )
    .unwrap()
}

#[tokio::test]
async fn a_hostile_caller_gets_4xx_and_normal_users_are_served_on_every_backend() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = Suite::start(db).await;
        a_hostile_caller_among_normal_users(&s).await;
        s.stop().await;
    }
}
