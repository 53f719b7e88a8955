//! The whole suite, started as `cadre up` starts it (ports chosen by the OS), driven
//! through the gateway over REST and gRPC: a county administrator's day.

use std::time::Duration;

use cadre::suite::{self, RunningSuite, SuiteOptions};
use cadre_kit::config::Settings;
use cadre_kit::shutdown::Shutdown;
use cadre_kit::testing::TestDb;
use cadre_kit::{RegionCode, Role};
use cadre_proto::roster::v1 as pb;
use serde_json::{Value, json};

const COUNTY: &str = "150525000000";
const NEXT_DOOR: &str = "150526000000";

struct Suite {
    running: Option<RunningSuite>,
    shutdown: Shutdown,
    base: String,
    http: reqwest::Client,
    settings: Settings,
    _dbs: (TestDb, Vec<TestDb>),
}

/// A fresh database for a part beside the roster's, on the roster database's backend.
async fn db_beside(roster: &TestDb, migrations: &[cadre_kit::db::Migration]) -> TestDb {
    match roster.backend() {
        cadre_kit::db::Backend::Sqlite => TestDb::sqlite(migrations).await,
        cadre_kit::db::Backend::Postgres => {
            TestDb::postgres(migrations).await.expect("PostgreSQL is configured")
        }
    }
}

impl Suite {
    async fn start(db: TestDb) -> Suite {
        let (mut settings, others) = settings_over(&db).await;
        settings.demo = false;
        settings.gateway.body_limit_bytes = 64 * 1024;
        let shutdown = Shutdown::new();
        let running = suite::start(&settings, SuiteOptions::everything(), shutdown.clone())
            .await
            .expect("suite starts");
        let base = format!("http://{}", running.http_addr.unwrap());
        Suite {
            running: Some(running),
            shutdown,
            base,
            http: reqwest::Client::new(),
            settings,
            _dbs: (db, others),
        }
    }

    fn token(&self, roles: &[Role], region: &str) -> String {
        cadre_kit::auth::issue_dev_token(
            &self.settings.auth.dev_secret,
            &format!("{}@{region}", roles[0]),
            roles,
            &RegionCode::parse(region).unwrap(),
            Duration::from_secs(600),
        )
        .unwrap()
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("gateway answers");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, Some(token), None).await
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(token), Some(body)).await
    }

    async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(r) = self.running.take() {
            tokio::time::timeout(Duration::from_secs(10), r.wait()).await.expect("drains in time").unwrap();
        }
    }
}

fn id_number(region6: &str, birth: &str, seq: u16) -> String {
    let birth = chrono::NaiveDate::parse_from_str(birth, "%Y-%m-%d").unwrap();
    cadre_kit::resident_id::build(region6, birth, seq).as_str().to_string()
}

fn regions() -> Value {
    json!({ "regions": [
        { "code": "150000000000", "name": "内蒙古自治区" },
        { "code": "150500000000", "name": "通辽市" },
        { "code": COUNTY, "name": "奈曼旗" },
        { "code": "150525100000", "name": "大沁他拉镇" },
        { "code": "150525100201", "name": "白音他拉嘎查", "villageType": "demonstration" },
        { "code": "150525100202", "name": "平安村", "villageType": "key-assistance" },
        { "code": NEXT_DOOR, "name": "扎鲁特旗" },
        { "code": "150526100000", "name": "鲁北镇" },
        { "code": "150526100201", "name": "新村", "villageType": "ordinary" },
    ]})
}

fn cadre_json(village: &str, name: &str, id_number: &str, education: &str) -> Value {
    json!({
        "regionCode": village, "name": name, "idNumber": id_number, "ethnicity": "蒙古族",
        "phone": "13847512345", "politicalStatus": "POLITICAL_STATUS_PARTY_MEMBER",
        "education": education, "fullTimeEducation": true, "tags": ["BACKGROUND_TAG_VETERAN"]
    })
}

async fn a_county_administrators_day(s: &Suite) {
    let province = s.token(&[Role::ProvinceAdmin], "150000000000");
    let county = s.token(&[Role::CountyAdmin], COUNTY);
    let county_pii = s.token(&[Role::CountyAdmin, Role::Pii], COUNTY);
    let neighbour = s.token(&[Role::CountyAdmin], NEXT_DOOR);
    let auditor = s.token(&[Role::Auditor], "150000000000");

    // The province imports the hierarchy; a repeat changes nothing.
    let (status, body) = s.post("/v1/regions:batchUpsert", &province, regions()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["created"], 9);
    let (_, body) = s.post("/v1/regions:batchUpsert", &province, regions()).await;
    assert_eq!(body["unchanged"], 9);
    let (status, body) = s.get(&format!("/v1/regions/{COUNTY}/children"), &county).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["regions"][0]["name"], "大沁他拉镇");
    assert_eq!(body["regions"][0]["level"], "REGION_LEVEL_TOWNSHIP");

    // The county adds a cadre, with an idempotency key; the retry returns the same record.
    let secretary_id = id_number("150525", "1980-06-15", 13);
    let created = s
        .http
        .post(format!("{}/v1/cadres", s.base))
        .bearer_auth(&county)
        .header("Idempotency-Key", "add-bateer-1")
        .json(&cadre_json("150525100201", "巴特尔", &secretary_id, "EDUCATION_BACHELOR"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let created: Value = created.json().await.unwrap();
    let retried: Value = s
        .http
        .post(format!("{}/v1/cadres", s.base))
        .bearer_auth(&county)
        .header("Idempotency-Key", "add-bateer-1")
        .json(&cadre_json("150525100201", "巴特尔", &secretary_id, "EDUCATION_BACHELOR"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["id"], retried["id"]);
    let cadre_id = created["id"].as_str().unwrap().to_string();
    // Masked for a caller without the PII role; birth date and sex derived.
    assert_eq!(created["idNumber"], format!("150525********{}", &secretary_id[14..]));
    assert_eq!(created["phone"], "138****2345");
    assert_eq!(created["piiMasked"], true);
    assert_eq!(created["birthDate"], "1980-06-15");
    assert_eq!(created["sex"], "SEX_MALE");

    // A second cadre, a young woman with a college education.
    let (status, member) = s
        .post(
            "/v1/cadres",
            &county,
            cadre_json("150525100201", "其木格", &id_number("150525", "1995-02-01", 24), "EDUCATION_COLLEGE"),
        )
        .await;
    assert_eq!(status, 200, "{member}");

    // Appoint: one shoulder (secretary and director), and a committee member.
    for kind in ["POST_KIND_PARTY_SECRETARY", "POST_KIND_COMMITTEE_DIRECTOR"] {
        let (status, body) = s
            .post(
                "/v1/posts",
                &county,
                json!({ "cadreId": cadre_id, "regionCode": "150525100201", "kind": kind, "term": 2021, "startDate": "2021-04-10" }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = s
        .post(
            "/v1/posts",
            &county,
            json!({ "cadreId": member["id"], "regionCode": "150525100201", "kind": "POST_KIND_COMMITTEE_MEMBER", "term": 2021, "startDate": "2021-04-10" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // The secretary's seat is taken.
    let (status, body) = s
        .post(
            "/v1/posts",
            &county,
            json!({ "cadreId": member["id"], "regionCode": "150525100201", "kind": "POST_KIND_PARTY_SECRETARY", "term": 2021, "startDate": "2022-01-01" }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "FAILED_PRECONDITION");

    // Analytics of the county today.
    let (status, report) = s.get(&format!("/v1/regions/{COUNTY}/structure"), &county).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["headCount"], 2);
    assert_eq!(report["villageCount"], 2);
    assert_eq!(report["oneShoulderVillages"], 1);
    assert_eq!(report["oneShoulderShare"], 0.5);
    assert_eq!(report["collegeOrAboveShare"], 1.0);
    assert_eq!(report["womenShare"], 0.5);
    assert_eq!(report["under35Count"], 1);
    // Before the 2021 election nobody served.
    let (_, before) = s.get(&format!("/v1/regions/{COUNTY}/structure?asOf=2021-01-01"), &county).await;
    assert_eq!(before["headCount"], 0);

    // Vacancies: the second village has every seat open.
    let (_, vacancies) = s.get("/v1/vacancies?regionCode=150525100202", &county).await;
    assert_eq!(vacancies["vacancies"].as_array().unwrap().len(), 5, "{vacancies}");

    // Next door is out of reach, through the gateway and directly.
    let (status, body) = s.get(&format!("/v1/regions/{NEXT_DOOR}/structure"), &county).await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = s.get(&format!("/v1/cadres/{cadre_id}"), &neighbour).await;
    assert_eq!(status, 403);
    let direct = format!("http://{}", s.running.as_ref().unwrap().grpc_addr.unwrap());
    let mut client = pb::analytics_service_client::AnalyticsServiceClient::connect(direct).await.unwrap();
    let mut req =
        tonic::Request::new(pb::GetStructureRequest { region_code: NEXT_DOOR.into(), as_of: String::new() });
    req.metadata_mut().insert("authorization", format!("Bearer {county}").parse().unwrap());
    assert_eq!(client.get_structure(req).await.unwrap_err().code(), tonic::Code::PermissionDenied);
    // Without a token the service itself refuses, even bypassing the gateway.
    let req =
        tonic::Request::new(pb::GetStructureRequest { region_code: COUNTY.into(), as_of: String::new() });
    assert_eq!(client.get_structure(req).await.unwrap_err().code(), tonic::Code::Unauthenticated);

    // gRPC through the gateway's passthrough.
    let mut via_gateway =
        pb::cadre_service_client::CadreServiceClient::connect(s.base.clone()).await.unwrap();
    let mut req = tonic::Request::new(pb::GetCadreRequest { id: cadre_id.clone() });
    req.metadata_mut().insert("authorization", format!("Bearer {county}").parse().unwrap());
    let got = via_gateway.get_cadre(req).await.unwrap().into_inner();
    assert_eq!(got.name, "巴特尔");
    assert!(got.pii_masked);
    assert_eq!(got.current_posts.len(), 2);

    // The change feed: paged over REST, followed over gRPC through the gateway.
    let (status, changes) = s.get("/v1/roster/changes?pageSize=1000", &county).await;
    assert_eq!(status, 200, "{changes}");
    let head: i64 = changes["headPosition"].as_str().unwrap().parse().unwrap();
    let cadre_changes: Vec<&Value> =
        changes["changes"].as_array().unwrap().iter().filter(|c| c["entity"] == "ENTITY_CADRE").collect();
    assert_eq!(cadre_changes.len(), 2, "{changes}");
    let mut feed = pb::change_service_client::ChangeServiceClient::connect(s.base.clone()).await.unwrap();
    let mut req = tonic::Request::new(cadre_proto::changes::v1::WatchChangesRequest {
        after_position: head - 1,
        region_code: String::new(),
    });
    req.metadata_mut().insert("authorization", format!("Bearer {county}").parse().unwrap());
    let mut stream = feed.watch_changes(req).await.unwrap().into_inner();
    let last =
        tokio::time::timeout(Duration::from_secs(5), stream.message()).await.unwrap().unwrap().unwrap();
    assert_eq!(last.position, head);

    // With the PII role the ID number is shown, and the read is audited.
    let (_, revealed) = s.get(&format!("/v1/cadres/{cadre_id}"), &county_pii).await;
    assert_eq!(revealed["idNumber"], secretary_id);
    assert_eq!(revealed["piiMasked"], false);
    let (status, audit) = s.get("/v1/roster/audit?pageSize=100", &auditor).await;
    assert_eq!(status, 200, "{audit}");
    let actions: Vec<&str> =
        audit["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"cadre.roster.v1.CadreService/GetCadre:unmasked"), "{actions:?}");
    assert_eq!(actions.iter().filter(|a| a.ends_with("CreateCadre")).count(), 2, "the retry applied once");
    let (status, verified) = s.post("/v1/roster/audit:verify", &auditor, json!({})).await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["intact"], true);

    // Optimistic concurrency: an update with a stale revision is refused.
    let patch = |revision: i64| json!({ "cadre": { "revision": revision.to_string(), "education": "EDUCATION_POSTGRADUATE" }, "updateMask": "education" });
    let (status, updated) = s
        .call(reqwest::Method::PATCH, &format!("/v1/cadres/{cadre_id}"), Some(&county), Some(patch(1)))
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["education"], "EDUCATION_POSTGRADUATE");
    assert_eq!(updated["revision"], "2");
    let (status, body) = s
        .call(reqwest::Method::PATCH, &format!("/v1/cadres/{cadre_id}"), Some(&county), Some(patch(1)))
        .await;
    assert_eq!(status, 409, "{body}");
}

async fn bad_input_gets_clear_errors_and_stores_nothing(s: &Suite) {
    let province = s.token(&[Role::ProvinceAdmin], "150000000000");
    let county = s.token(&[Role::CountyAdmin], COUNTY);
    s.post("/v1/regions:batchUpsert", &province, regions()).await;

    let mut bad_checksum = id_number("150525", "1985-03-12", 7);
    let last = if bad_checksum.ends_with('1') { '2' } else { '1' };
    bad_checksum.pop();
    bad_checksum.push(last);
    let cases = [
        (cadre_json("150525100201", "甲", &bad_checksum, "EDUCATION_BACHELOR"), "cadre.id_number"),
        (cadre_json("150525100201", "甲", "15052519850230001X", "EDUCATION_BACHELOR"), "cadre.id_number"),
        (
            cadre_json("150525100299", "甲", &id_number("150525", "1985-03-12", 9), "EDUCATION_BACHELOR"),
            "cadre.region_code",
        ),
        (
            cadre_json("150525100201", " ", &id_number("150525", "1985-03-12", 9), "EDUCATION_BACHELOR"),
            "cadre.name",
        ),
        (
            cadre_json("150525100201", "甲", &id_number("150525", "1985-03-12", 9), "EDUCATION_PHD"),
            "education",
        ),
    ];
    for (body, field) in cases {
        let (status, err) = s.post("/v1/cadres", &county, body).await;
        assert_eq!(status, 400, "{err}");
        assert!(err["message"].as_str().unwrap().contains(field), "{field}: {err}");
    }
    // A wrong JSON type names the field.
    let (status, err) = s.get("/v1/cadres?pageSize=lots", &county).await;
    assert_eq!(status, 400, "{err}");
    assert!(err["message"].as_str().unwrap().to_lowercase().contains("page"), "{err}");
    // Oversized pages are refused, not truncated.
    let (status, err) = s.get("/v1/cadres?pageSize=100000", &county).await;
    assert_eq!(status, 400, "{err}");
    assert!(err["message"].as_str().unwrap().contains("page_size"), "{err}");
    // Tokens: missing, garbage, expired.
    let (status, _) = s.call(reqwest::Method::GET, "/v1/cadres", None, None).await;
    assert_eq!(status, 401);
    let (status, _) = s.get("/v1/cadres", "not-a-token").await;
    assert_eq!(status, 401);
    // Nothing was stored by any refused request.
    let (_, list) = s.get("/v1/cadres", &county).await;
    assert_eq!(list["cadres"].as_array().map(Vec::len).unwrap_or(0), 0, "{list}");
    // A region import with one bad row stores none of it.
    let (status, err) = s
        .post(
            "/v1/regions:batchUpsert",
            &province,
            json!({ "regions": [ { "code": "150525100203", "name": "新村" }, { "code": "150525100204", "name": "" } ] }),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    assert!(err["message"].as_str().unwrap().starts_with("regions[1].name"), "{err}");
    let (status, _) = s.get("/v1/regions/150525100203", &county).await;
    assert_eq!(status, 404);
}

/// The rest of the roster through the gateway's REST routes: import, reserves and
/// vacancy ranking, staffing compliance and alerts, a dismissal and its revocation,
/// the term comparison, export with masked PII — and next door refused.
async fn a_season_of_roster_work(s: &Suite) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let province = s.token(&[Role::ProvinceAdmin], "150000000000");
    let county = s.token(&[Role::CountyAdmin], COUNTY);
    let neighbour = s.token(&[Role::CountyAdmin], NEXT_DOOR);
    s.post("/v1/regions:batchUpsert", &province, regions()).await;

    // A spreadsheet of two cadres: a one-shoulder secretary-director and a member.
    let secretary_id = id_number("150525", "1972-04-02", 31);
    let csv = format!(
        "姓名,公民身份号码,民族,联系电话,政治面貌,学历,全日制,所在村(区划代码),职务,届次,任职时间\n\
         巴特尔,{secretary_id},蒙古族,13847500001,中共党员,大专,是,150525100201,党支部书记、村委会主任,2021,2021-04-20\n\
         王芳,{},汉族,13847500002,群众,大学本科,是,150525100201,村委会委员,2021,2021-05-10\n",
        id_number("150525", "1990-08-15", 42)
    );
    let import =
        json!({ "format": "TRANSFER_FORMAT_CSV", "content": b64.encode(&csv), "fileName": "roster.csv" });
    let (status, done) = s.post("/v1/roster:import", &county, import.clone()).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!((done["cadresCreated"].as_i64(), done["postsCreated"].as_i64()), (Some(2), Some(3)), "{done}");
    // The same file again: every row is a duplicate now, and nothing more is stored.
    let (status, again) = s.post("/v1/roster:import", &county, import).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["cadresCreated"], 0, "{again}");
    let duplicate_rows: Vec<i64> = again["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["column"] == "公民身份号码")
        .map(|e| e["row"].as_i64().unwrap())
        .collect();
    assert_eq!(duplicate_rows, [2, 3], "{again}");
    let (_, list) = s.get("/v1/cadres?regionCode=150525100201", &county).await;
    assert_eq!(list["cadres"].as_array().unwrap().len(), 2, "{list}");
    let secretary =
        list["cadres"].as_array().unwrap().iter().find(|c| c["name"] == "巴特尔").unwrap().clone();

    // A reserve through the pipeline, then ranked for the director's seat.
    // (The HTTP rule's body is the reserve itself.)
    let reserve = json!({
        "regionCode": "150525100201", "name": "乌日娜", "idNumber": id_number("150525", "1994-02-11", 52),
        "source": "RESERVE_SOURCE_RETURNEE_PROGRAMME", "politicalStatus": "POLITICAL_STATUS_PARTY_MEMBER",
        "education": "EDUCATION_BACHELOR", "fullTimeEducation": true, "stageDate": "2025-02-01" });
    let (status, created) = s.post("/v1/reserves", &county, reserve).await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let mut revision = created["revision"].as_str().unwrap().to_string();
    for (stage, date) in [
        ("RESERVE_STAGE_SELECTED", "2025-03-01"),
        ("RESERVE_STAGE_EXAMINED", "2025-04-01"),
        ("RESERVE_STAGE_IN_POOL", "2025-05-01"),
    ] {
        let step = json!({ "toStage": stage, "date": date, "note": "按程序", "revision": revision });
        let (status, advanced) = s.post(&format!("/v1/reserves/{id}:advance"), &county, step).await;
        assert_eq!(status, 200, "{advanced}");
        revision = advanced["revision"].as_str().unwrap().to_string();
    }
    let skip = json!({ "toStage": "RESERVE_STAGE_APPOINTED", "revision": revision });
    let (status, refused) = s.post(&format!("/v1/reserves/{id}:advance"), &county, skip).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["code"], "FAILED_PRECONDITION");

    // Staffing compliance and alerts for the county.
    let (status, report) = s.get(&format!("/v1/regions/{COUNTY}/compliance"), &county).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["villages"].as_array().unwrap().len(), 2, "{report}");
    let (status, alerts) = s.get(&format!("/v1/alerts?regionCode={COUNTY}"), &county).await;
    assert_eq!(status, 200, "{alerts}");
    assert!(
        !alerts["alerts"].as_array().unwrap().is_empty(),
        "the second village has no secretary: {alerts}"
    );

    // Dismissal ends both of the secretary's posts; the seats open and the reserve is ranked.
    let dismissal = json!({ "cadreId": secretary["id"], "kind": "SANCTION_KIND_DISMISSAL", "date": "2026-03-01",
        "reason": "年度考核不称职", "decidedBy": "奈曼旗委组织部" });
    let (status, sanction) = s.post("/v1/sanctions", &county, dismissal).await;
    assert_eq!(status, 200, "{sanction}");
    let (_, vacancies) = s.get("/v1/vacancies?regionCode=150525100201", &county).await;
    let kinds: Vec<&str> =
        vacancies["vacancies"].as_array().unwrap().iter().map(|v| v["kind"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"POST_KIND_PARTY_SECRETARY") && kinds.contains(&"POST_KIND_COMMITTEE_DIRECTOR"),
        "{kinds:?}"
    );
    let (status, ranked) =
        s.get("/v1/vacancies/150525100201/candidates?postKind=POST_KIND_COMMITTEE_DIRECTOR", &county).await;
    assert_eq!(status, 200, "{ranked}");
    assert_eq!(ranked["candidates"][0]["name"], "乌日娜", "{ranked}");

    // On appeal the dismissal is revoked with the posts reinstated: the seats close again.
    let revoke = json!({ "revision": sanction["revision"], "date": "2026-04-01",
        "reason": "申诉复核：考核结果有误", "decidedBy": "通辽市委组织部", "reinstatePosts": true });
    let path = format!("/v1/sanctions/{}:revoke", sanction["id"].as_str().unwrap());
    let (status, denied) = s.post(&path, &neighbour, revoke.clone()).await;
    assert_eq!(status, 403, "{denied}");
    let (status, revoked) = s.post(&path, &county, revoke.clone()).await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(
        (&revoked["revoked"], &revoked["revokedDate"]),
        (&json!(true), &json!("2026-04-01")),
        "{revoked}"
    );
    assert_eq!(revoked["reinstatedPostIds"], sanction["endedPostIds"], "{revoked}");
    let (_, vacancies) = s.get("/v1/vacancies?regionCode=150525100201", &county).await;
    let kinds: Vec<&str> =
        vacancies["vacancies"].as_array().unwrap().iter().map(|v| v["kind"].as_str().unwrap()).collect();
    assert!(
        !kinds.contains(&"POST_KIND_PARTY_SECRETARY") && !kinds.contains(&"POST_KIND_COMMITTEE_DIRECTOR"),
        "{kinds:?}"
    );
    let (status, twice) = s
        .post(
            &path,
            &county,
            json!({ "revision": revoked["revision"], "reason": "再次撤销",
        "decidedBy": "通辽市委组织部" }),
        )
        .await;
    assert_eq!((status, &twice["code"]), (400, &json!("FAILED_PRECONDITION")), "{twice}");

    // The term comparison: nobody served before the 2021 term.
    let (status, terms) =
        s.get(&format!("/v1/regions/{COUNTY}/term-comparison?laterAsOf=2025-01-01"), &county).await;
    assert_eq!(status, 200, "{terms}");
    assert_eq!(terms["earlier"]["headCount"], 0, "{terms}");
    assert_eq!(terms["later"]["headCount"], 2, "{terms}");

    // Export: the spreadsheet comes back with ID numbers masked.
    let (status, export) =
        s.get(&format!("/v1/roster:export?regionCode={COUNTY}&format=TRANSFER_FORMAT_CSV"), &county).await;
    assert_eq!(status, 200, "{export}");
    let text = String::from_utf8(b64.decode(export["content"].as_str().unwrap()).unwrap()).unwrap();
    assert!(text.contains("王芳") && !text.contains(&secretary_id), "{text}");

    // Next door, each of these is refused.
    for path in [
        format!("/v1/regions/{COUNTY}/compliance"),
        format!("/v1/reserves/{id}"),
        format!("/v1/regions/{COUNTY}/term-comparison"),
        format!("/v1/roster:export?regionCode={COUNTY}&format=TRANSFER_FORMAT_CSV"),
    ] {
        let (status, body) = s.get(&path, &neighbour).await;
        assert_eq!(status, 403, "{path}: {body}");
    }
}

/// A county's spreadsheet larger than the gateway's request limit, streamed in pieces
/// over gRPC through the gateway: it lands whole, and the last report carries the result.
async fn a_big_file_streamed_through_the_gateway(s: &Suite) {
    let province = s.token(&[Role::ProvinceAdmin], "150000000000");
    let county = s.token(&[Role::CountyAdmin], COUNTY);
    s.post("/v1/regions:batchUpsert", &province, regions()).await;
    let mut csv = String::from(
        "姓名,公民身份号码,民族,联系电话,政治面貌,学历,全日制,所在村(区划代码),职务,届次,任职时间\n",
    );
    let rows = 1200;
    for i in 0..rows {
        let birth = format!("19{}-0{}-1{}", 70 + i % 25, 1 + i % 9, i % 10);
        let village = if i % 2 == 0 { "150525100201" } else { "150525100202" };
        csv.push_str(&format!(
            "成员{i},{},汉族,13847500002,群众,大学本科,是,{village},村委会委员,2021,2021-05-10\n",
            id_number("150525", &birth, (i / 250) as u16 + 1)
        ));
    }
    assert!(csv.len() > s.settings.gateway.body_limit_bytes, "bigger than one request may be");
    let pieces: Vec<pb::ImportRosterChunk> = csv
        .as_bytes()
        .chunks(16 * 1024)
        .map(|piece| pb::ImportRosterChunk {
            format: pb::TransferFormat::Csv as i32,
            content: piece.to_vec(),
            file_name: "全旗花名册.csv".into(),
            ..Default::default()
        })
        .collect();
    let mut request = tonic::Request::new(futures::stream::iter(pieces));
    request.metadata_mut().insert("authorization", format!("Bearer {county}").parse().unwrap());
    let mut transfer =
        pb::transfer_service_client::TransferServiceClient::connect(s.base.clone()).await.unwrap();
    let mut reports = transfer.import_roster_stream(request).await.unwrap().into_inner();
    let mut last = None;
    while let Some(p) = reports.message().await.unwrap() {
        last = Some(p);
    }
    let last = last.unwrap();
    assert_eq!(last.bytes_received, csv.len() as i64);
    let result = last.result.unwrap();
    assert!(result.errors.is_empty(), "{:?}", result.errors.first());
    assert_eq!((result.cadres_created, result.posts_created), (rows, rows));
    let (_, structure) = s.get(&format!("/v1/regions/{COUNTY}/structure"), &county).await;
    assert_eq!(structure["headCount"], rows, "{structure}");
}

/// Several large imports into one county, streamed through the gateway at once, while an
/// administrator next door reads: the imports take slots of the part's bulk pool, one per
/// caller (a second import from the same caller is shed with RESOURCE_EXHAUSTED and
/// `retry-after`), and the reads next door keep answering within a bound.
async fn imports_next_door_do_not_starve_reads(s: &Suite) {
    let province = s.token(&[Role::ProvinceAdmin], "150000000000");
    s.post("/v1/regions:batchUpsert", &province, regions()).await;
    let reader = s.token(&[Role::CountyAdmin], NEXT_DOOR);
    let importer = |n: usize| {
        cadre_kit::auth::issue_dev_token(
            &s.settings.auth.dev_secret,
            &format!("importer-{n}"),
            &[Role::CountyAdmin],
            &RegionCode::parse(COUNTY).unwrap(),
            Duration::from_secs(600),
        )
        .unwrap()
    };
    let file = |n: usize| {
        let mut csv = String::from(
            "姓名,公民身份号码,民族,联系电话,政治面貌,学历,全日制,所在村(区划代码),职务,届次,任职时间\n",
        );
        for i in 0..800 {
            let birth = format!("19{}-0{}-1{}", 70 + i % 25, 1 + i % 9, i % 10);
            let village = if i % 2 == 0 { "150525100201" } else { "150525100202" };
            csv.push_str(&format!(
                "成员{n}-{i},{},汉族,13847500002,群众,大学本科,是,{village},村委会委员,2021,2021-05-10\n",
                id_number("150525", &birth, (n * 100 + i / 250) as u16 + 1)
            ));
        }
        csv.into_bytes()
            .chunks(16 * 1024)
            .map(|piece| pb::ImportRosterChunk {
                format: pb::TransferFormat::Csv as i32,
                content: piece.to_vec(),
                file_name: format!("花名册{n}.csv"),
                ..Default::default()
            })
            .collect::<Vec<_>>()
    };
    let import = |token: String, pieces: Vec<pb::ImportRosterChunk>| {
        let base = s.base.clone();
        async move {
            let mut request = tonic::Request::new(futures::stream::iter(pieces));
            request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
            let mut transfer =
                pb::transfer_service_client::TransferServiceClient::connect(base).await.unwrap();
            let mut reports = transfer.import_roster_stream(request).await?.into_inner();
            while reports.message().await?.is_some() {}
            Ok::<_, tonic::Status>(())
        }
    };
    let importers = 3;
    let imports: Vec<_> = (0..importers).map(|n| tokio::spawn(import(importer(n), file(n)))).collect();
    // A second import from a caller already importing is shed, not queued.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let shed = import(importer(0), file(9)).await;
    if let Err(status) = &shed {
        assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
        assert!(status.metadata().get("retry-after").is_some(), "{status:?}");
    }

    let mut latencies = Vec::new();
    while !imports.iter().all(|i| i.is_finished()) {
        let started = std::time::Instant::now();
        let (status, body) = s.get(&format!("/v1/regions/{NEXT_DOOR}/structure"), &reader).await;
        latencies.push(started.elapsed());
        assert_eq!(status, 200, "{body}");
        // Under a person's rate limit (50 a second).
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    for import in imports {
        import.await.unwrap().expect("each caller's one import runs");
    }
    latencies.sort();
    let max = *latencies.last().expect("read while importing");
    let p99 = latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)];
    eprintln!(
        "reads next door during {importers} imports of 800 rows: {} reads, p99 {p99:?}, max {max:?}; \
         a second import from one caller: {}",
        latencies.len(),
        if shed.is_err() { "shed" } else { "ran (the first had finished)" }
    );
    assert!(max < Duration::from_secs(5), "a read next door took {max:?} during the imports");
}

#[tokio::test]
async fn imports_next_door_do_not_starve_reads_on_every_backend() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = Suite::start(db).await;
        imports_next_door_do_not_starve_reads(&s).await;
        s.stop().await;
    }
}

#[tokio::test]
async fn a_big_file_streamed_through_the_gateway_on_every_backend() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = Suite::start(db).await;
        a_big_file_streamed_through_the_gateway(&s).await;
        s.stop().await;
    }
}

#[tokio::test]
async fn a_season_of_roster_work_on_every_backend() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = Suite::start(db).await;
        a_season_of_roster_work(&s).await;
        s.stop().await;
    }
}

#[tokio::test]
async fn a_county_administrators_day_on_every_backend() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = Suite::start(db).await;
        a_county_administrators_day(&s).await;
        s.stop().await;
    }
}

#[tokio::test]
async fn bad_input_on_every_backend() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = Suite::start(db).await;
        bad_input_gets_clear_errors_and_stores_nothing(&s).await;
        s.stop().await;
    }
}

#[tokio::test]
async fn the_gateway_serves_openapi_and_health_without_a_token() {
    let s = Suite::start(TestDb::sqlite(cadre_roster::MIGRATIONS).await).await;
    let (status, doc) = s.call(reqwest::Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert!(doc["paths"]["/v1/cadres/{id}"]["get"].is_object(), "{}", doc["paths"]);
    let (status, _) = s.call(reqwest::Method::GET, "/healthz", None, None).await;
    assert_eq!(status, 200);
    let (status, ready) = s.call(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(status, 200, "{ready}");
    let metrics = s.http.get(format!("{}/metrics", s.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("rpc_requests"), "{metrics}");
    s.stop().await;
}

/// Settings of a suite on ports chosen by the OS over `db` as the roster's database and
/// fresh databases beside it for the other parts (kept alive by the caller).
async fn settings_over(db: &TestDb) -> (Settings, Vec<TestDb>) {
    let training = db_beside(db, cadre_training::MIGRATIONS).await;
    let assessment = db_beside(db, cadre_assessment::MIGRATIONS).await;
    let incentive = db_beside(db, cadre_incentive::MIGRATIONS).await;
    let mut settings = Settings {
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        ..Settings::default()
    };
    settings.part_mut("roster").database.url = Some(db.url().clone());
    settings.part_mut("training").database.url = Some(training.url().clone());
    settings.part_mut("assessment").database.url = Some(assessment.url().clone());
    settings.part_mut("incentive").database.url = Some(incentive.url().clone());
    (settings, vec![training, assessment, incentive])
}

#[tokio::test]
async fn a_part_served_alone_never_seeds_even_on_an_empty_database() {
    let db = TestDb::sqlite(cadre_roster::MIGRATIONS).await;
    let (settings, _training) = settings_over(&db).await;
    let settings = Settings { demo: true, ..settings };
    let options = SuiteOptions::serve("roster").expect("roster is a part");
    assert!(!options.seed_demo && !options.gateway);
    let shutdown = Shutdown::new();
    let running = suite::start(&settings, options, shutdown.clone()).await.expect("roster starts");
    assert!(running.seeded.is_empty());
    let regions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM roster_regions")
        .fetch_one(running.database("roster").unwrap().pool())
        .await
        .unwrap();
    assert_eq!(regions, 0, "nothing was seeded");
    shutdown.cancel();
    running.wait().await.unwrap();
    assert!(SuiteOptions::serve("gateway").is_some_and(|o| o.gateway && o.parts.is_empty()));
    assert!(SuiteOptions::serve("nothing").is_none());
}

#[tokio::test]
async fn production_refuses_sqlite_naming_the_setting() {
    let db = TestDb::sqlite(cadre_roster::MIGRATIONS).await;
    let (mut settings, _training) = settings_over(&db).await;
    settings.profile = cadre_kit::config::Profile::Production;
    let err = match suite::start(&settings, SuiteOptions::serve("roster").unwrap(), Shutdown::new()).await {
        Ok(_) => panic!("production started on SQLite"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("roster.database.url") && err.contains("SQLite"), "{err}");
}

#[tokio::test]
async fn draining_says_not_serving_and_unready_while_it_still_answers() {
    let db = TestDb::sqlite(cadre_roster::MIGRATIONS).await;
    let (settings, _training) = settings_over(&db).await;
    let settings = Settings { demo: false, drain_grace_ms: Some(1500), ..settings };
    let shutdown = Shutdown::new();
    let running = suite::start(&settings, SuiteOptions::everything(), shutdown.clone()).await.unwrap();
    let base = format!("http://{}", running.http_addr.unwrap());
    let grpc = format!("http://{}", running.grpc_addr.unwrap());
    let http = reqwest::Client::new();
    let channel = tonic::transport::Channel::from_shared(grpc).unwrap().connect().await.unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let check = || tonic_health::pb::HealthCheckRequest { service: String::new() };
    let serving = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
    let started = std::time::Instant::now();
    while health.check(check()).await.unwrap().into_inner().status != serving {
        assert!(started.elapsed() < Duration::from_secs(5), "never SERVING");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(http.get(format!("{base}/readyz")).send().await.unwrap().status(), 200);

    let began = std::time::Instant::now();
    shutdown.cancel();
    let waited = tokio::spawn(running.wait());
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Unready at once: balancers stop sending here...
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.json::<Value>().await.unwrap()["draining"], true);
    assert_ne!(health.check(check()).await.unwrap().into_inner().status, serving);
    // ...while calls that still arrive are answered, for the grace.
    assert_eq!(http.get(format!("{base}/openapi.json")).send().await.unwrap().status(), 200);
    tokio::time::timeout(Duration::from_secs(10), waited).await.unwrap().unwrap().unwrap();
    assert!(began.elapsed() >= Duration::from_millis(1500), "closed before the grace: {:?}", began.elapsed());
}

/// Training through the gateway against the real roster: the county keeps a menu and a
/// secretary teaches (checked against the roster with the county's token); a township
/// orders, the county matches, schedules and delivers; next door is refused throughout;
/// every move is in training's feed.
async fn training_ordered_from_the_menu(s: &Suite) -> (Value, Value) {
    let province = s.token(&[Role::ProvinceAdmin], "150000000000");
    let county = s.token(&[Role::CountyAdmin], COUNTY);
    let township = s.token(&[Role::TownshipAdmin], "150525100000");
    let neighbour = s.token(&[Role::CountyAdmin], NEXT_DOOR);
    let (status, body) = s.post("/v1/regions:batchUpsert", &province, regions()).await;
    assert_eq!(status, 200, "{body}");
    let (status, secretary) = s
        .post(
            "/v1/cadres",
            &county,
            cadre_json("150525100201", "巴特尔", &id_number("150525", "1978-03-09", 31), "EDUCATION_COLLEGE"),
        )
        .await;
    assert_eq!(status, 200, "{secretary}");

    let course = json!({ "title": "发展壮大村集体经济", "topic": "TOPIC_COLLECTIVE_ECONOMY", "mode": "COURSE_MODE_OFFLINE",
        "creditHours": 4.5, "level": "ORGANISER_LEVEL_COUNTY", "ownerRegionCode": COUNTY });
    let (status, course) = s.post("/v1/training/courses", &county, course).await;
    assert_eq!(status, 200, "{course}");
    let menu = json!({ "courseIds": [course["id"]] });
    let (status, body) = s
        .call(reqwest::Method::PUT, &format!("/v1/training/menus/{COUNTY}/2026"), Some(&county), Some(menu))
        .await;
    assert_eq!(status, 200, "{body}");
    let teacher = json!({ "kind": "TEACHER_KIND_CADRE", "cadreId": secretary["id"], "expertise": ["TOPIC_COLLECTIVE_ECONOMY"],
        "homeRegionCode": COUNTY });
    let (status, teacher) = s.post("/v1/training/teachers", &county, teacher.clone()).await;
    assert_eq!(status, 200, "{teacher}");
    assert_eq!(
        (teacher["name"].as_str(), teacher["affiliation"].as_str()),
        (Some("巴特尔"), Some("白音他拉嘎查"))
    );
    // Next door cannot enrol our secretary in its pool: the roster hides them from it.
    let theirs = json!({ "kind": "TEACHER_KIND_CADRE", "cadreId": secretary["id"], "expertise": ["TOPIC_LAW"],
        "homeRegionCode": NEXT_DOOR });
    let (status, body) = s.post("/v1/training/teachers", &neighbour, theirs).await;
    assert_eq!(status, 400, "{body}");

    let order = json!({ "regionCode": "150525100202", "courseId": course["id"], "year": 2026, "expectedTrainees": 30,
        "preferredDate": "2026-06-10" });
    let (status, order) = s.post("/v1/training/orders", &township, order).await;
    assert_eq!(status, 200, "{order}");
    let id = order["id"].as_str().unwrap().to_string();
    let (status, suggested) = s.get(&format!("/v1/training/orders/{id}/teacher-suggestions"), &county).await;
    assert_eq!(status, 200, "{suggested}");
    assert_eq!(suggested["suggestions"][0]["teacherName"], "巴特尔");
    let (status, matched) = s
        .post(
            &format!("/v1/training/orders/{id}:match"),
            &county,
            json!({ "teacherId": teacher["id"], "revision": "1" }),
        )
        .await;
    assert_eq!(status, 200, "{matched}");
    let slot = json!({ "date": "2026-06-10", "startTime": "09:00", "endTime": "11:00", "place": "平安村党群服务中心", "revision": "2" });
    let (status, scheduled) = s.post(&format!("/v1/training/orders/{id}:schedule"), &county, slot).await;
    assert_eq!(status, 200, "{scheduled}");
    assert_eq!(scheduled["state"], "ORDER_STATE_SCHEDULED");
    let (status, body) = s.get(&format!("/v1/training/orders/{id}"), &neighbour).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = s
        .post(
            &format!("/v1/training/orders/{id}:decline"),
            &neighbour,
            json!({ "reason": "x", "revision": "3" }),
        )
        .await;
    assert_eq!(status, 404, "{body}");

    let (status, feed) = s.get("/v1/training/changes?pageSize=100", &county).await;
    assert_eq!(status, 200, "{feed}");
    let orders: Vec<&Value> =
        feed["changes"].as_array().unwrap().iter().filter(|c| c["entity"] == "ENTITY_ORDER").collect();
    assert_eq!(orders.len(), 3, "submitted, matched, scheduled: {feed}");
    (scheduled, secretary)
}

/// A sitting today around now in China Standard Time (sign-in open); near midnight it
/// waits for the new day.
async fn sitting_now(place: &str) -> Value {
    use chrono::Timelike;
    let local = || (chrono::Utc::now() + chrono::Duration::hours(8)).naive_utc();
    let mut now = local();
    if now.hour() == 23 && now.minute() >= 55 {
        tokio::time::sleep(Duration::from_secs(u64::from(60 - now.minute()) * 60 + 2)).await;
        now = local();
    }
    let (start, wrapped) = now.time().overflowing_sub_signed(chrono::Duration::hours(1));
    let start = if wrapped != 0 { chrono::NaiveTime::MIN } else { start };
    let (end, wrapped) = now.time().overflowing_add_signed(chrono::Duration::hours(1));
    let end = if wrapped != 0 { chrono::NaiveTime::from_hms_opt(23, 59, 0).unwrap() } else { end };
    json!({ "date": now.date().format("%Y-%m-%d").to_string(), "startTime": start.format("%H:%M").to_string(),
        "endTime": end.format("%H:%M").to_string(), "place": place })
}

/// The scheduled order becomes a session; the county enrols the township's secretaries by
/// list from training's copy of the roster (fed by the real roster's feed); they sign in
/// with the room's fresh code, a stale one is refused; a secretary dismissed in the
/// roster is marked as gone within seconds and left out of the next list; next door is
/// refused throughout.
async fn training_sessions_enrolled_by_list_and_signed_in(
    s: &Suite,
    order: &Value,
    secretary: &Value,
) -> Value {
    let county = s.token(&[Role::CountyAdmin], COUNTY);
    let township = s.token(&[Role::TownshipAdmin], "150525100000");
    let neighbour = s.token(&[Role::CountyAdmin], NEXT_DOOR);
    // Two secretaries and a committee member in the township's villages.
    let (status, other) = s
        .post(
            "/v1/cadres",
            &county,
            cadre_json(
                "150525100202",
                "其木格",
                &id_number("150525", "1985-07-21", 42),
                "EDUCATION_BACHELOR",
            ),
        )
        .await;
    assert_eq!(status, 200, "{other}");
    let (status, member) = s
        .post(
            "/v1/cadres",
            &county,
            cadre_json("150525100201", "乌云", &id_number("150525", "1990-01-02", 53), "EDUCATION_COLLEGE"),
        )
        .await;
    assert_eq!(status, 200, "{member}");
    for (cadre, village, kind) in [
        (&secretary["id"], "150525100201", "POST_KIND_PARTY_SECRETARY"),
        (&other["id"], "150525100202", "POST_KIND_PARTY_SECRETARY"),
        (&member["id"], "150525100201", "POST_KIND_COMMITTEE_MEMBER"),
    ] {
        let post = json!({ "cadreId": cadre, "regionCode": village, "kind": kind, "term": 2021, "startDate": "2021-04-10" });
        let (status, body) = s.post("/v1/posts", &county, post).await;
        assert_eq!(status, 200, "{body}");
    }

    let session = json!({ "title": "村集体经济送学上门", "organiserLevel": "ORGANISER_LEVEL_COUNTY", "organiserRegionCode": COUNTY,
        "orderId": order["id"], "capacity": 30, "sittings": [sitting_now("平安村党群服务中心").await] });
    let (status, session) = s.post("/v1/training/sessions", &county, session).await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["courseId"], order["courseId"], "the order's course");
    assert_eq!(session["teacherName"], "巴特尔", "the order's teacher");
    let id = session["id"].as_str().unwrap().to_string();
    let sitting = session["sittings"][0]["id"].as_str().unwrap().to_string();

    // By list: the township's secretaries, as training's copy of the roster has them
    // (503 until its follower's first pages are in).
    let by_list = json!({ "regionCode": "150525100000", "postKinds": ["POST_KIND_PARTY_SECRETARY"] });
    let enrolments = format!("/v1/training/sessions/{id}/enrolments");
    let started = std::time::Instant::now();
    let listed = loop {
        let (status, body) = s.post(&format!("{enrolments}:batchCreate"), &township, by_list.clone()).await;
        assert!(status == 200 || status == 503, "{status} {body}");
        let (_, listed) = s.get(&enrolments, &county).await;
        if listed["enrolments"].as_array().is_some_and(|e| e.len() == 2) {
            break listed;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "never enrolled both: {listed}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut names: Vec<&str> =
        listed["enrolments"].as_array().unwrap().iter().map(|e| e["cadreName"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["其木格", "巴特尔"], "secretaries only: {listed}");
    let (status, body) = s.post(&format!("{enrolments}:batchCreate"), &neighbour, by_list.clone()).await;
    assert_eq!(status, 404, "{body}");

    // The room's code, fresh; a trainee signs in once; a stale code is refused.
    let (status, shown) = s.get(&format!("/v1/training/sittings/{sitting}/sign-in-code"), &county).await;
    assert_eq!(status, 200, "{shown}");
    let sign_in = format!("/v1/training/sittings/{sitting}:signIn");
    let with = |code: &Value| json!({ "cadreId": secretary["id"], "code": code });
    let (status, first) = s.post(&sign_in, &township, with(&shown["code"])).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        (first["method"].as_str(), first["alreadySignedIn"].as_bool()),
        (Some("SIGN_IN_METHOD_CODE"), Some(false)),
        "{first}"
    );
    let (status, again) = s.post(&sign_in, &township, with(&shown["code"])).await;
    assert_eq!((status, again["alreadySignedIn"].as_bool()), (200, Some(true)), "{again}");
    let key = cadre_training::code_key(&cadre_kit::pii::PiiCipher::from_settings(&s.settings.pii).unwrap());
    let stale = cadre_training::domain::sign_in::issue(
        &key,
        &sitting,
        60,
        chrono::Utc::now() - chrono::Duration::minutes(3),
        chrono::Utc::now(),
    );
    let body = json!({ "cadreId": other["id"], "code": stale.code });
    let (status, refused) = s.post(&sign_in, &township, body).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["message"].as_str().unwrap().starts_with("code: expired"), "{refused}");
    let (status, body) = s.post(&sign_in, &neighbour, with(&shown["code"])).await;
    assert_eq!(status, 404, "{body}");
    let (status, attendance) = s.get(&format!("/v1/training/sittings/{sitting}/attendance"), &county).await;
    assert_eq!(status, 200, "{attendance}");
    assert_eq!(
        (attendance["signedIn"].as_i64(), attendance["enrolled"].as_i64()),
        (Some(1), Some(2)),
        "{attendance}"
    );

    // 其木格 is dismissed in the roster: her posts end there, and training's copy, fed by
    // the roster's feed, marks her within seconds; the next list leaves her out.
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).format("%Y-%m-%d").to_string();
    let dismissal = json!({ "cadreId": other["id"], "kind": "SANCTION_KIND_DISMISSAL", "date": today,
        "reason": "严重违纪", "decidedBy": "奈曼旗委组织部" });
    let (status, body) = s.post("/v1/sanctions", &county, dismissal).await;
    assert_eq!(status, 200, "{body}");
    let dismissed = std::time::Instant::now();
    loop {
        let (_, listed) = s.get(&enrolments, &county).await;
        let gone = listed["enrolments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["cadreId"] == other["id"] && e["leftRoster"] == true);
        if gone {
            break;
        }
        assert!(
            dismissed.elapsed() < Duration::from_secs(10),
            "the dismissal never reached training: {listed}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let tomorrow = (chrono::Utc::now() + chrono::Duration::hours(32)).format("%Y-%m-%d").to_string();
    let next = json!({ "title": "村集体经济送学上门（第二期）", "organiserLevel": "ORGANISER_LEVEL_COUNTY", "organiserRegionCode": COUNTY,
        "courseId": order["courseId"], "capacity": 30,
        "sittings": [{ "date": tomorrow, "startTime": "09:00", "endTime": "11:00", "place": "平安村党群服务中心" }] });
    let (status, next) = s.post("/v1/training/sessions", &county, next).await;
    assert_eq!(status, 200, "{next}");
    let path = format!("/v1/training/sessions/{}/enrolments:batchCreate", next["id"].as_str().unwrap());
    let (status, out) = s.post(&path, &county, by_list).await;
    assert_eq!(status, 200, "{out}");
    let enrolled: Vec<&str> =
        out["enrolled"].as_array().unwrap().iter().map(|e| e["cadreName"].as_str().unwrap()).collect();
    assert_eq!(enrolled, ["巴特尔"], "{out}");

    let (status, feed) = s.get("/v1/training/changes?pageSize=500", &county).await;
    assert_eq!(status, 200, "{feed}");
    let count =
        |entity: &str| feed["changes"].as_array().unwrap().iter().filter(|c| c["entity"] == entity).count();
    assert_eq!(
        (count("ENTITY_SESSION"), count("ENTITY_ENROLMENT"), count("ENTITY_ATTENDANCE")),
        (2, 3, 1),
        "{feed}"
    );
    member
}

/// Completion through the gateway: the county's rules require committee members' hours;
/// 乌云 is on the township's catch-all list; she attends both sittings of a session the
/// secretary teaches, the county finishes it, her hours are credited, her certificate
/// verifies (for anyone holding the number), she leaves the catch-all list, and her
/// feedback moves the teacher's rating; next door is refused throughout.
async fn training_completed_credited_and_covered(s: &Suite, order: &Value, member: &Value) {
    let county = s.token(&[Role::CountyAdmin], COUNTY);
    let township = s.token(&[Role::TownshipAdmin], "150525100000");
    let neighbour = s.token(&[Role::CountyAdmin], NEXT_DOOR);
    let local = |days: i64| {
        (chrono::Utc::now() + chrono::Duration::hours(8) - chrono::Duration::days(days)).date_naive()
    };
    let (first, second) = (local(10), local(9));
    let year = chrono::Datelike::year(&first);
    let rules = json!({ "regionCode": COUNTY, "year": year, "requiredHours": [
        { "postKind": "POST_KIND_PARTY_SECRETARY", "hoursTenths": 320 },
        { "postKind": "POST_KIND_COMMITTEE_MEMBER", "hoursTenths": 40 } ] });
    let (status, body) = s.post("/v1/training/rules", &county, rules).await;
    assert_eq!(status, 200, "{body}");
    let coverage = format!("/v1/training/coverage?regionCode=150525100000&year={year}");
    let on_list = |report: &Value| {
        report["catchAll"].as_array().is_some_and(|l| l.iter().any(|c| c["cadreId"] == member["id"]))
    };
    let (status, before) = s.get(&coverage, &township).await;
    assert_eq!(status, 200, "{before}");
    assert!(on_list(&before), "乌云 has no hours yet: {before}");

    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let session = json!({ "title": "村集体经济专题（补训）", "organiserLevel": "ORGANISER_LEVEL_COUNTY", "organiserRegionCode": COUNTY,
        "courseId": order["courseId"], "teacherId": order["teacherId"], "capacity": 30, "sittings": [
            { "date": day(first), "startTime": "09:00", "endTime": "11:00", "place": "白音他拉嘎查党群服务中心" },
            { "date": day(second), "startTime": "09:00", "endTime": "11:00", "place": "白音他拉嘎查党群服务中心" } ] });
    let (status, session) = s.post("/v1/training/sessions", &county, session).await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["completionRule"]["minPercent"], 80, "{session}");
    let id = session["id"].as_str().unwrap().to_string();
    let (status, body) = s
        .post(
            &format!("/v1/training/sessions/{id}/enrolments"),
            &township,
            json!({ "cadreId": member["id"] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for sitting in session["sittings"].as_array().unwrap() {
        let path = format!("/v1/training/sittings/{}:signInByHand", sitting["id"].as_str().unwrap());
        let (status, body) =
            s.post(&path, &county, json!({ "cadreId": member["id"], "reason": "纸质签到表" })).await;
        assert_eq!(status, 200, "{body}");
    }
    let finish = json!({ "state": "SESSION_STATE_FINISHED", "revision": session["revision"] });
    let (status, body) =
        s.post(&format!("/v1/training/sessions/{id}:setState"), &neighbour, finish.clone()).await;
    assert_eq!(status, 404, "{body}");
    let (status, finished) = s.post(&format!("/v1/training/sessions/{id}:setState"), &county, finish).await;
    assert_eq!(status, 200, "{finished}");

    let member_id = member["id"].as_str().unwrap();
    let (status, hours) = s.get(&format!("/v1/training/cadres/{member_id}/hours/{year}"), &township).await;
    assert_eq!(status, 200, "{hours}");
    assert_eq!(
        (hours["totalTenths"].as_i64(), hours["requiredTenths"].as_i64()),
        (Some(45), Some(40)),
        "{hours}"
    );
    let (status, body) = s.get(&format!("/v1/training/cadres/{member_id}/hours/{year}"), &neighbour).await;
    assert_eq!(status, 404, "{body}");
    let (status, completions) = s.get(&format!("/v1/training/sessions/{id}/completions"), &county).await;
    assert_eq!(status, 200, "{completions}");
    let number = completions["completions"][0]["certificateNumber"].as_str().unwrap().to_string();
    // Anyone holding the number checks it, next door too: minimal, the name masked.
    let (status, check) = s.get(&format!("/v1/training/certificates/{number}"), &neighbour).await;
    assert_eq!(status, 200, "{check}");
    assert_eq!(
        (check["state"].as_str(), check["holder"].as_str()),
        (Some("CERTIFICATE_STATE_VALID"), Some("乌*"))
    );

    let (status, after) = s.get(&coverage, &township).await;
    assert_eq!(status, 200, "{after}");
    assert!(!on_list(&after), "4.5 hours cover her 4: {after}");
    let (status, body) = s.get(&coverage, &neighbour).await;
    assert_eq!(status, 403, "{body}");

    let feedback = format!("/v1/training/sessions/{id}/feedback");
    let (status, body) = s.post(&feedback, &township, json!({ "cadreId": member["id"], "score": 5 })).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s.post(&feedback, &neighbour, json!({ "cadreId": member["id"], "score": 1 })).await;
    assert_eq!(status, 404, "{body}");
    let (status, teacher) =
        s.get(&format!("/v1/training/teachers/{}", order["teacherId"].as_str().unwrap()), &county).await;
    assert_eq!(status, 200, "{teacher}");
    assert_eq!(
        (teacher["rating"].as_f64(), teacher["ratingCount"].as_i64()),
        (Some(5.0), Some(1)),
        "{teacher}"
    );
    let (status, summary) = s.get(&feedback, &county).await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(
        (summary["answers"].as_i64(), summary["shown"].as_bool()),
        (Some(1), Some(false)),
        "one answer shows nothing: {summary}"
    );
}

#[tokio::test]
async fn training_ordered_enrolled_and_signed_in_on_every_backend() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = Suite::start(db).await;
        let (order, secretary) = training_ordered_from_the_menu(&s).await;
        let member = training_sessions_enrolled_by_list_and_signed_in(&s, &order, &secretary).await;
        training_completed_credited_and_covered(&s, &order, &member).await;
        s.stop().await;
    }
}

/// Assessment through the gateway against the real roster: the county's units and last
/// year's scheme, this year's copied from it; scoring opens once assessment's copy of the
/// roster has the county's villages (frozen, with their types and secretary); units submit
/// — one refused for an indicator not its own, one for next door's village —, the county
/// reads its progress, closes scoring, and a late sheet is refused naming the phase; every
/// step is in assessment's feed.
async fn assessment_scored_through_the_gateway(s: &Suite) {
    let province = s.token(&[Role::ProvinceAdmin], "150000000000");
    let county = s.token(&[Role::CountyAdmin], COUNTY);
    let neighbour = s.token(&[Role::CountyAdmin], NEXT_DOOR);
    let unit_token = |subject: &str| {
        cadre_kit::auth::issue_dev_token(
            &s.settings.auth.dev_secret,
            subject,
            &[Role::ScoringUnit],
            &RegionCode::parse(COUNTY).unwrap(),
            Duration::from_secs(600),
        )
        .unwrap()
    };
    let (status, body) = s.post("/v1/regions:batchUpsert", &province, regions()).await;
    assert_eq!(status, 200, "{body}");
    let more = json!({ "regions": [
        { "code": "150525101000", "name": "八仙筒镇" },
        { "code": "150525101201", "name": "新丰村", "villageType": "ordinary" },
    ]});
    let (status, body) = s.post("/v1/regions:batchUpsert", &province, more).await;
    assert_eq!(status, 200, "{body}");
    let (status, secretary) = s
        .post(
            "/v1/cadres",
            &county,
            cadre_json("150525100202", "王芳", &id_number("150525", "1985-02-11", 41), "EDUCATION_BACHELOR"),
        )
        .await;
    assert_eq!(status, 200, "{secretary}");
    let post = json!({ "cadreId": secretary["id"], "regionCode": "150525100202",
        "kind": "POST_KIND_PARTY_SECRETARY", "term": 2021, "startDate": "2021-04-10" });
    let (status, body) = s.post("/v1/posts", &county, post).await;
    assert_eq!(status, 200, "{body}");

    // The county's units: an agency and two townships, each bound to its token's subject.
    let mut units = Vec::new();
    for (name, kind, township, subject) in [
        ("旗农牧局", "UNIT_KIND_AGENCY", "", "nmj"),
        ("大沁他拉镇党委", "UNIT_KIND_TOWNSHIP", "150525100000", "dqtl"),
        ("八仙筒镇党委", "UNIT_KIND_TOWNSHIP", "150525101000", "bxt"),
    ] {
        let unit = json!({ "countyCode": COUNTY, "name": name, "kind": kind, "townshipCode": township, "subjects": [subject] });
        let (status, body) = s.post("/v1/assessment/units", &county, unit).await;
        assert_eq!(status, 200, "{body}");
        units.push(body["id"].as_str().unwrap().to_string());
    }
    let (agency, dqtl, bxt) = (&units[0], &units[1], &units[2]);

    // Last year's scheme: the agency scores A01 (6.0; 10.0 in demonstration villages), each
    // township A02 (4.0; left out of demonstration villages). This year's is a copy.
    let variants: Vec<Value> = ["ordinary", "demonstration", "key-assistance"]
        .iter()
        .map(|t| json!({ "villageType": t, "totalPoints": 100 }))
        .collect();
    let scheme = json!({
        "countyCode": COUNTY, "year": 2025, "name": "2025 年度村党组织书记考核", "variants": variants,
        "items": [{ "name": "基层党建", "indicators": [
            { "code": "A01", "name": "落实“三会一课”制度", "maxPoints": 60, "unitId": agency, "evidence": "会议记录",
              "variants": [{ "villageType": "demonstration", "maxPoints": 100 }] },
            { "code": "A02", "name": "村集体经济收入", "maxPoints": 40, "byTownship": true, "evidence": "财务报表",
              "variants": [{ "villageType": "demonstration", "excluded": true }] },
        ]}],
    });
    let (status, last_year) = s.post("/v1/assessment/schemes", &county, scheme).await;
    assert_eq!(status, 200, "{last_year}");
    let copy = format!("/v1/assessment/schemes/{}:copy", last_year["id"].as_str().unwrap());
    let (status, this_year) = s.post(&copy, &county, json!({ "year": 2026 })).await;
    assert_eq!(status, 200, "{this_year}");
    assert_eq!(
        (this_year["year"].as_i64(), this_year["copiedFrom"].as_str()),
        (Some(2026), last_year["id"].as_str())
    );
    let (status, _) = s.post(&copy, &neighbour, json!({ "year": 2027 })).await;
    assert_eq!(status, 404, "next door does not see the scheme");

    // Scoring opens once assessment's copy of the roster holds the villages and secretary.
    let db = s.running.as_ref().unwrap().database("assessment").unwrap().clone();
    let started = std::time::Instant::now();
    loop {
        let copied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM assessment_roster_secretaries")
            .fetch_one(db.pool())
            .await
            .unwrap();
        if copied == 1 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the roster's villages never reached assessment"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let year = format!("/v1/assessment/years/{COUNTY}/2026");
    let (status, opened) = s.post(&format!("{year}:openScoring"), &county, json!({})).await;
    assert_eq!(status, 200, "{opened}");
    assert_eq!(
        (opened["phase"].as_str(), opened["villageCount"].as_i64()),
        (Some("PHASE_SCORING_OPEN"), Some(3))
    );
    let (status, villages) = s.get(&format!("{year}/villages"), &county).await;
    assert_eq!(status, 200, "{villages}");
    assert_eq!(villages["villages"][1]["secretaryName"], "王芳", "{villages}");
    assert_eq!(villages["villages"][1]["villageType"], "key-assistance", "{villages}");

    // Units submit their sheets.
    let put = |token: String, unit: String, scores: Value| async move {
        let response = s
            .http
            .put(format!("{}/v1/assessment/years/{COUNTY}/2026/sheets/{unit}", s.base))
            .bearer_auth(token)
            .json(&json!({ "scores": scores }))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json::<Value>().await.unwrap())
    };
    let score = |village: &str, indicator: &str, points: i32| json!({ "villageCode": village, "indicatorCode": indicator, "points": points });
    let scores = json!([
        score("150525100201", "A01", 95),
        score("150525100202", "A01", 52),
        score("150525101201", "A01", 48)
    ]);
    let (status, body) = put(unit_token("nmj"), agency.clone(), scores).await;
    assert_eq!((status, body["revision"].as_str()), (200, Some("1")), "{body}");
    let (status, body) =
        put(unit_token("dqtl"), dqtl.clone(), json!([score("150525100202", "A02", 35)])).await;
    assert_eq!(status, 200, "{body}");
    // Refused: the agency's indicator, and next door's village (the other township's).
    let (status, err) =
        put(unit_token("dqtl"), dqtl.clone(), json!([score("150525100202", "A01", 30)])).await;
    assert_eq!(status, 400, "{err}");
    assert!(err["message"].as_str().unwrap().starts_with("scores[0].indicator_code:"), "{err}");
    let (status, err) =
        put(unit_token("dqtl"), dqtl.clone(), json!([score("150525101201", "A02", 30)])).await;
    assert_eq!(status, 400, "{err}");
    assert!(err["message"].as_str().unwrap().starts_with("scores[0].village_code:"), "{err}");
    // Another unit's token, and next door's administrator, may not submit it at all.
    let (status, _) = put(unit_token("bxt"), dqtl.clone(), json!([score("150525100202", "A02", 10)])).await;
    assert_eq!(status, 403);
    let (status, _) = put(neighbour.clone(), bxt.clone(), json!([score("150525101201", "A02", 10)])).await;
    assert_eq!(status, 403);
    let (status, body) = put(unit_token("bxt"), bxt.clone(), json!([score("150525101201", "A02", 38)])).await;
    assert_eq!(status, 200, "{body}");

    let (status, progress) = s.get(&format!("{year}/progress"), &county).await;
    assert_eq!(status, 200, "{progress}");
    assert_eq!(
        (progress["unitsSubmitted"].as_i64(), progress["scores"].as_i64()),
        (Some(3), Some(5)),
        "{progress}"
    );
    // The same over gRPC through the gateway's passthrough: a unit reads its own sheet.
    use cadre_proto::assessment::v1 as apb;
    let mut sheets = apb::sheet_service_client::SheetServiceClient::connect(s.base.clone()).await.unwrap();
    let mut request = tonic::Request::new(apb::GetSheetRequest {
        county_code: COUNTY.into(),
        year: 2026,
        unit_id: dqtl.clone(),
    });
    request.metadata_mut().insert("authorization", format!("Bearer {}", unit_token("dqtl")).parse().unwrap());
    let sheet = sheets.get_sheet(request).await.unwrap().into_inner();
    assert_eq!((sheet.revision, sheet.scores.len(), sheet.submitted_by.as_str()), (1, 1, "dqtl"));
    let (status, _) = s.get(&format!("{year}/progress"), &neighbour).await;
    assert_eq!(status, 403);

    // Closed: a late sheet is refused naming the phase.
    let (status, closed) = s.post(&format!("{year}:closeScoring"), &county, json!({})).await;
    assert_eq!((status, closed["phase"].as_str()), (200, Some("PHASE_SCORING_CLOSED")), "{closed}");
    let (status, err) =
        put(unit_token("dqtl"), dqtl.clone(), json!([score("150525100202", "A02", 40)])).await;
    assert_eq!((status, err["code"].as_str()), (400, Some("FAILED_PRECONDITION")), "{err}");
    assert!(err["message"].as_str().unwrap().contains("SCORING_CLOSED"), "{err}");

    let (status, feed) = s.get("/v1/assessment/changes?pageSize=100", &county).await;
    assert_eq!(status, 200, "{feed}");
    let entities: Vec<&str> =
        feed["changes"].as_array().unwrap().iter().map(|c| c["entity"].as_str().unwrap()).collect();
    let count = |e: &str| entities.iter().filter(|x| **x == e).count();
    assert_eq!(
        (count("ENTITY_SCORING_UNIT"), count("ENTITY_SCHEME"), count("ENTITY_YEAR"), count("ENTITY_SHEET")),
        (3, 2, 4, 3),
        "{feed}"
    );

    assessment_results_through_the_gateway(s, &county, &agency.to_string(), &unit_token("nmj")).await;
}

/// After scoring closes: last year (2025) scored by the agency, computed, noticed and final
/// (王芳's village in tier 4); this year computed → notice → the second township's objection
/// upheld by the county moves its village up a tier and 王芳's village down to tier 4 →
/// final (refused while the objection was open) → the consequences: a reward, the
/// rectification list, and 王芳 recommended for dismissal because of last year too → a
/// later correction is a new revision of the result in the feed, and the recommendation is
/// withdrawn.
async fn assessment_results_through_the_gateway(s: &Suite, county: &str, agency: &str, nmj: &str) {
    let rules = json!({
        "lists": [{ "code": "DONT", "name": "十不准", "kind": "negative", "cap": 100,
                    "items": [{ "code": "N1", "name": "违规用地", "points": 5 }] }],
        "results": { "tiers": { "by": "quota", "scope": "county", "percent": [34, 33, 0] },
                     "tie_breakers": ["higher_indicator_total", "fewer_negative_events"] },
        "consequences": [
            { "kind": "reward", "when": "tier", "tier": 1 },
            { "kind": "rectification", "when": "tier", "tier": 4 },
            { "kind": "dismissal_recommended", "subject": "secretary", "when": "tier_two_years", "tier": 4 },
        ],
    });
    let years = format!("/v1/assessment/years/{COUNTY}");
    let put_rules = |y: i32| {
        let body = json!({ "rulesJson": rules.to_string(), "revision": 0 });
        let path = format!("{years}/{y}/rules");
        async move { s.call(reqwest::Method::PUT, &path, Some(county), Some(body)).await }
    };
    let tiers = |y: i32| {
        let path = format!("{years}/{y}/results");
        async move {
            let (status, body) = s.get(&path, county).await;
            assert_eq!(status, 200, "{body}");
            body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| (r["villageCode"].as_str().unwrap().to_string(), r["tier"].as_i64().unwrap()))
                .collect::<Vec<_>>()
        }
    };
    let t = |v: &str, tier: i64| (v.to_string(), tier);
    let today = chrono::Utc::now().date_naive();
    let window = json!({
        "startsOn": (today - chrono::Days::new(1)).format("%Y-%m-%d").to_string(),
        "endsOn": (today + chrono::Days::new(6)).format("%Y-%m-%d").to_string(),
    });

    // Last year, final: the agency's scores put 王芳's village (150525100202) in tier 4.
    let (status, body) = s.post(&format!("{years}/2025:openScoring"), county, json!({})).await;
    assert_eq!(status, 200, "{body}");
    let sheet = json!({ "scores": [
        { "villageCode": "150525100201", "indicatorCode": "A01", "points": 90 },
        { "villageCode": "150525100202", "indicatorCode": "A01", "points": 20 },
        { "villageCode": "150525101201", "indicatorCode": "A01", "points": 50 },
    ]});
    let path = format!("{years}/2025/sheets/{agency}");
    let (status, body) = s.call(reqwest::Method::PUT, &path, Some(nmj), Some(sheet)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s.post(&format!("{years}/2025:closeScoring"), county, json!({})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = put_rules(2025).await;
    assert_eq!(status, 200, "{body}");
    for step in [":compute", ":openNotice", ":finalize"] {
        let body = if step == ":openNotice" { window.clone() } else { json!({}) };
        let (status, body) = s.post(&format!("{years}/2025{step}"), county, body).await;
        assert_eq!(status, 200, "{step}: {body}");
    }
    assert_eq!(tiers(2025).await, [t("150525100201", 1), t("150525100202", 4), t("150525101201", 2)]);

    // This year: computed, explained, noticed.
    let (status, body) = put_rules(2026).await;
    assert_eq!(status, 200, "{body}");
    let (status, computed) = s.post(&format!("{years}/2026:compute"), county, json!({})).await;
    assert_eq!((status, computed["phase"].as_str()), (200, Some("PHASE_COMPUTED")), "{computed}");
    assert_eq!(tiers(2026).await, [t("150525100201", 1), t("150525100202", 2), t("150525101201", 4)]);
    let (status, result) = s.get(&format!("{years}/2026/results/150525101201"), county).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["parts"][0]["name"], "indicators", "{result}");
    assert!(
        result["tierRule"].as_str().unwrap().starts_with("tier 4: rank 3 of 3 in the county"),
        "{result}"
    );
    let (status, body) = s.post(&format!("{years}/2026:openNotice"), county, window.clone()).await;
    assert_eq!(status, 200, "{body}");

    // The second township objects for its village; the county upholds it with the scores.
    let township = s.token(&[Role::TownshipAdmin], "150525101000");
    let objection = json!({ "villageCode": "150525101201", "reason": "A01 漏计两次主题党日" });
    let (status, raised) = s.post(&format!("{years}/2026/objections"), &township, objection.clone()).await;
    assert_eq!((status, raised["state"].as_str()), (200, Some("OBJECTION_STATE_OPEN")), "{raised}");
    let neighbour = s.token(&[Role::CountyAdmin], NEXT_DOOR);
    let (status, _) = s.post(&format!("{years}/2026/objections"), &neighbour, objection).await;
    assert_eq!(status, 403);
    let (status, err) = s.post(&format!("{years}/2026:finalize"), county, json!({})).await;
    assert_eq!((status, err["code"].as_str()), (400, Some("FAILED_PRECONDITION")), "{err}");
    assert!(err["message"].as_str().unwrap().contains("open objection"), "{err}");
    let resolve = json!({ "state": "OBJECTION_STATE_UPHELD", "answer": "经核实，予以更正",
        "scoreChanges": [{ "indicatorCode": "A01", "points": 55 }] });
    let path = format!("/v1/assessment/objections/{}:resolve", raised["id"].as_str().unwrap());
    let (status, resolved) = s.post(&path, county, resolve).await;
    assert_eq!((status, resolved["state"].as_str()), (200, Some("OBJECTION_STATE_UPHELD")), "{resolved}");
    assert_eq!(tiers(2026).await, [t("150525100201", 1), t("150525100202", 4), t("150525101201", 2)]);

    // Final: the consequences, with their rules and the results behind them.
    let (status, body) = s.post(&format!("{years}/2026:finalize"), county, json!({})).await;
    assert_eq!((status, body["phase"].as_str()), (200, Some("PHASE_FINAL")), "{body}");
    let consequences = || async {
        let (status, body) = s.get(&format!("{years}/2026/consequences"), county).await;
        assert_eq!(status, 200, "{body}");
        body["consequences"].as_array().unwrap().clone()
    };
    let c = consequences().await;
    let of = |c: &[Value], kind: &str| {
        c.iter()
            .filter(|c| c["kind"] == kind && c["withdrawn"] != true)
            .map(|c| c["villageCode"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(of(&c, "reward"), ["150525100201"], "{c:?}");
    assert_eq!(of(&c, "rectification"), ["150525100202"], "{c:?}");
    assert_eq!(of(&c, "dismissal_recommended"), ["150525100202"], "{c:?}");
    let dismissal = c.iter().find(|c| c["kind"] == "dismissal_recommended").unwrap();
    assert_eq!(dismissal["secretaryName"], "王芳", "{dismissal}");
    assert!(dismissal["because"][1].as_str().unwrap().contains("/2025/150525100202: tier 4"), "{dismissal}");

    // A later correction: a new revision of the result, with its reason, in the feed.
    let correction =
        json!({ "reason": "复核：会议记录漏登", "scoreChanges": [{ "indicatorCode": "A01", "points": 60 }] });
    let (status, corrected) =
        s.post(&format!("{years}/2026/results/150525100202:correct"), county, correction).await;
    assert_eq!(status, 200, "{corrected}");
    assert_eq!(
        (corrected["tier"].as_i64(), corrected["revision"].as_str()),
        (Some(2), Some("3")),
        "{corrected}"
    );
    assert_eq!(corrected["reason"], "correction: 复核：会议记录漏登", "{corrected}");
    let c = consequences().await;
    assert!(of(&c, "dismissal_recommended").is_empty(), "{c:?}");
    let (status, feed) = s.get("/v1/assessment/changes?pageSize=1000", county).await;
    assert_eq!(status, 200, "{feed}");
    let revisions: Vec<&str> = feed["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["entity"] == "ENTITY_RESULT" && c["key"] == format!("{COUNTY}/2026/150525100202"))
        .map(|c| c["revision"].as_str().unwrap())
        .collect();
    assert_eq!(revisions, ["1", "2", "3"], "{feed}");
}

#[tokio::test]
async fn assessment_scored_through_the_gateway_on_every_backend() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = Suite::start(db).await;
        assessment_scored_through_the_gateway(&s).await;
        s.stop().await;
    }
}

/// Incentives through the gateway over REST: the county's pay scale and a tier-1 rule,
/// a pool with room for two awards; the township declares three, the county reviews and
/// approves (the third refused: the pool has run dry), exports the payment list, the
/// finance system's confirmation file pays both, and the reconciliation balances to the
/// fen. Nonsense is refused naming the field; next door sees nothing.
async fn incentives_declared_approved_and_paid(s: &Suite) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let county = s.token(&[Role::CountyAdmin], COUNTY);
    let township = s.token(&[Role::TownshipAdmin], "150525100000");
    let neighbour = s.token(&[Role::CountyAdmin], NEXT_DOOR);

    // 四岗十五级 for 2026, and a secretary's base pay from it.
    let classes: Vec<Value> = (0..4)
        .map(|c| json!({ "name": format!("{}岗", c + 1), "basePayFen": (0..15).map(|l| 300_000 - c * 50_000 + l * 10_000).collect::<Vec<i64>>() }))
        .collect();
    let (status, scale) = s
        .call(
            reqwest::Method::PUT,
            &format!("/v1/incentive/pay-scales/{COUNTY}/2026"),
            Some(&county),
            Some(json!({ "levelCount": 15, "classes": classes })),
        )
        .await;
    assert_eq!(status, 200, "{scale}");
    let (status, pay) = s
        .get("/v1/incentive/base-pay?regionCode=150525100201&year=2026&postClass=1&level=3", &township)
        .await;
    assert_eq!(status, 200, "{pay}");
    assert_eq!(pay["basePayFen"], "320000");

    // A rule: tier 1 → 10,000 yuan to the village. Unknown triggers, fractional and
    // negative amounts are refused naming the field.
    let rule = json!({
        "regionCode": COUNTY, "year": 2026, "name": "考核一等次村奖励", "trigger": "TRIGGER_ASSESSMENT_TIER",
        "tier": 1, "amountFen": "1000000", "payee": "PAYEE_VILLAGE", "split": "SPLIT_NONE"
    });
    for (field, value, named) in [
        ("trigger", json!("TRIGGER_LUCK"), "trigger"),
        ("amountFen", json!(1.5), "amount"),
        ("amountFen", json!("-100"), "rule.amount_fen"),
    ] {
        let mut bad = rule.clone();
        bad[field] = value;
        let (status, body) = s.post("/v1/incentive/rules", &county, bad).await;
        assert_eq!(status, 400, "{field}: {body}");
        assert!(body.to_string().contains(named), "{field}: {body}");
    }
    let (status, rule) = s.post("/v1/incentive/rules", &county, rule).await;
    assert_eq!(status, 200, "{rule}");

    // A pool with room for two awards.
    let pool = json!({ "regionCode": COUNTY, "year": 2026, "name": "2026年度村干部激励奖金池", "budgetFen": "2000000" });
    let (status, pool) = s.post("/v1/incentive/pools", &county, pool).await;
    assert_eq!(status, 200, "{pool}");
    let pool_id = pool["id"].as_str().unwrap().to_string();

    // The township declares for three villages; the county reviews and approves.
    let mut ids = Vec::new();
    for (i, village) in ["150525100201", "150525100202", "150525100203"].iter().enumerate() {
        let award = json!({
            "poolId": pool_id, "ruleId": rule["id"], "regionCode": village,
            "payeeName": format!("第{}村村民委员会", i + 1), "payeeAccount": format!("622848001234567890{i}"),
        });
        let (status, declared) = s.post("/v1/incentive/awards", &township, award).await;
        assert_eq!(status, 200, "{declared}");
        assert_eq!(declared["state"], "AWARD_STATE_DECLARED");
        ids.push(declared["id"].as_str().unwrap().to_string());
    }
    let (status, body) =
        s.post(&format!("/v1/incentive/awards/{}:approve", ids[0]), &township, json!({})).await;
    assert_eq!(status, 403, "the township declares, the county approves: {body}");
    for id in &ids {
        let (status, body) = s.post(&format!("/v1/incentive/awards/{id}:review"), &county, json!({})).await;
        assert_eq!(status, 200, "{body}");
    }
    for id in &ids[..2] {
        let (status, body) = s.post(&format!("/v1/incentive/awards/{id}:approve"), &county, json!({})).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, dry) = s.post(&format!("/v1/incentive/awards/{}:approve", ids[2]), &county, json!({})).await;
    assert_eq!(status, 400, "{dry}");
    assert!(dry.to_string().contains("balance of 0 fen (0.00 yuan)"), "{dry}");
    let (status, body) = s.get(&format!("/v1/incentive/awards/{}", ids[0]), &neighbour).await;
    assert_eq!(status, 404, "next door: {body}");

    // The payment list, masked; the finance system fills in the date and reference.
    let (status, list) = s.get(&format!("/v1/incentive/pools/{pool_id}/payment-list"), &county).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!((list["rowCount"].as_i64(), list["totalFen"].as_str()), (Some(2), Some("2000000")), "{list}");
    let csv = String::from_utf8(b64.decode(list["content"].as_str().unwrap()).unwrap()).unwrap();
    assert!(csv.contains(",10000.00,") && csv.contains("8900"), "{csv}");
    assert!(!csv.contains("6228480012345678900"), "masked: {csv}");
    let filled: String = csv
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l}\n")
            } else {
                format!("{}2026-12-20,NMQ-{i:04}\n", l.trim_end_matches(",,").to_string() + ",")
            }
        })
        .collect();
    let upload = format!("/v1/incentive/pools/{pool_id}/payments:upload");
    let (status, paid) = s.post(&upload, &county, json!({ "content": b64.encode(filled.as_bytes()) })).await;
    assert_eq!(status, 200, "{paid}");
    assert_eq!((paid["paidCount"].as_i64(), paid["paidFen"].as_str()), (Some(2), Some("2000000")), "{paid}");
    let (_, again) = s.post(&upload, &county, json!({ "content": b64.encode(filled.as_bytes()) })).await;
    assert!(again["paidCount"].is_null() || again["paidCount"] == 0, "never twice: {again}");

    // The books balance to the fen: 2,000,000 budget = 0 available + 0 payable + 2,000,000 paid.
    let (status, books) = s.get(&format!("/v1/incentive/pools/{pool_id}/reconciliation"), &county).await;
    assert_eq!(status, 200, "{books}");
    assert_eq!(books["balanced"], true, "{books}");
    assert_eq!(
        (books["paidFen"].as_str(), books["budgetFen"].as_str()),
        (Some("2000000"), Some("2000000")),
        "{books}"
    );
    let (status, feed) = s.get("/v1/incentive/changes?pageSize=500", &county).await;
    assert_eq!(status, 200, "{feed}");
    let awards_fed =
        feed["changes"].as_array().unwrap().iter().filter(|c| c["entity"] == "ENTITY_AWARD").count();
    // 3 declared, 3 reviewed, 2 approved, 2 paid.
    assert_eq!(awards_fed, 10, "{feed}");
}

#[tokio::test]
async fn incentives_declared_approved_and_paid_on_every_backend() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = Suite::start(db).await;
        incentives_declared_approved_and_paid(&s).await;
        s.stop().await;
    }
}
