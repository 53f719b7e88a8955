//! Consumers' contracts run against their producers: the suite started as `cadre up`
//! starts it (every part of the registry, on a fresh SQLite database each), and every
//! case of every contract (`contracts/consumers/*.toml`, `services/*/contracts/*.toml`)
//! called over gRPC through the gateway as the consumer would, with the consumer's
//! identity. A producer change that makes a case fail fails here, in the producer's CI,
//! with the consumer's name. (The descriptor half of each contract is checked in
//! cadre-contracts' tests, without starting anything.)

use std::time::Duration;

use cadre::registry;
use cadre::suite::{self, SuiteOptions};
use cadre_contracts::contract::{self, PreparedCase};
use cadre_kit::config::Settings;
use cadre_kit::shutdown::Shutdown;
use cadre_kit::{RegionCode, Role};
use prost_reflect::{DynamicMessage, MessageDescriptor, SerializeOptions};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;

#[tokio::test]
async fn every_consumer_contract_holds_against_the_running_producer() {
    let root = cadre_contracts::repo_root();
    let pool = cadre_contracts::current().expect("descriptors");
    let mut cases: Vec<PreparedCase> = Vec::new();
    for (path, c) in contract::load_all(&root).expect("contracts parse") {
        for package in c.packages(&pool) {
            let served = package.split('.').nth(1).and_then(registry::find).is_some();
            // A contract on a part that is not in the suite fails cadre-contracts' check.
            if !served {
                continue;
            }
            match contract::cases(&c, &pool, &package) {
                Ok(ready) => cases.extend(ready),
                Err(problems) => panic!("{}: {problems:?}", path.display()),
            }
        }
    }
    assert!(cases.iter().any(|c| c.consumer == "province"), "the province's cases are run");

    let data = tempfile::tempdir().unwrap();
    let settings = Settings {
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.path().to_path_buf(),
        demo: false,
        ..Settings::default()
    };
    let shutdown = Shutdown::new();
    let options = SuiteOptions { seed_demo: false, ..SuiteOptions::everything() };
    let running = suite::start(&settings, options, shutdown.clone()).await.expect("suite starts");
    let gateway = format!("http://{}", running.http_addr.expect("gateway"));
    let channel = Channel::from_shared(gateway).unwrap().connect().await.expect("gateway answers gRPC");

    let mut failures = Vec::new();
    for case in &cases {
        if let Err(why) = run(&settings, channel.clone(), case).await {
            failures.push(case.failure(&why));
        }
    }
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), running.wait()).await.expect("stops").unwrap();
    assert!(failures.is_empty(), "\n{}\n", failures.join("\n"));
}

/// Calls the case's RPC and compares code and response with what the consumer relies on.
async fn run(settings: &Settings, channel: Channel, case: &PreparedCase) -> Result<(), String> {
    let mut request = tonic::Request::new(case.request.clone());
    if let Some(identity) = &case.identity {
        let roles: Vec<Role> = identity
            .roles
            .iter()
            .map(|r| r.parse::<Role>())
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let region = RegionCode::parse(&identity.region).map_err(|e| e.to_string())?;
        let token = cadre_kit::auth::issue_dev_token(
            &settings.auth.dev_secret,
            &format!("contract:{}", case.consumer),
            &roles,
            &region,
            Duration::from_secs(600),
        )
        .map_err(|e| e.to_string())?;
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    let path: PathAndQuery =
        format!("/{}/{}", case.rpc.parent_service().full_name(), case.rpc.name()).parse().unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.map_err(|e| format!("not ready: {e}"))?;
    let codec = DynamicCodec { output: case.rpc.output() };
    let (code, response) = match grpc.unary(request, path, codec).await {
        Ok(response) => ("OK".to_string(), Some(response.into_inner())),
        Err(status) => (code_name(status.code()), None),
    };
    if code != case.code {
        return Err(format!("expected {}, got {code}", case.code));
    }
    if let (Some(expected), Some(response)) = (&case.response, response) {
        let options = SerializeOptions::new().skip_default_fields(false);
        let actual = response.serialize_with_options(serde_json::value::Serializer, &options).unwrap();
        contract::contains(&actual, expected).map_err(|why| format!("response {actual}: {why}"))?;
    }
    Ok(())
}

/// `NOT_FOUND`, as the gateway's error body and the contracts spell codes.
fn code_name(code: tonic::Code) -> String {
    let camel = format!("{code:?}");
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    if out == "O_K" { "OK".into() } else { out }
}

/// Protobuf of any message the descriptors know: a case's request out, its response in.
#[derive(Clone)]
struct DynamicCodec {
    output: MessageDescriptor,
}

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> DynamicEncoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> DynamicDecoder {
        DynamicDecoder(self.output.clone())
    }
}

struct DynamicEncoder;

impl Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: DynamicMessage, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        prost::Message::encode(&item, dst).map_err(|e| Status::internal(e.to_string()))
    }
}

struct DynamicDecoder(MessageDescriptor);

impl Decoder for DynamicDecoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DynamicMessage>, Status> {
        DynamicMessage::decode(self.0.clone(), src).map(Some).map_err(|e| Status::internal(e.to_string()))
    }
}
