//! The Kubernetes manifests (`k8s/`), rendered as an operator renders them (`kubectl
//! kustomize`) and held to kube-linter's default checks and this project's rules: probes,
//! requests and limits, a hardened pod, headless Services for gRPC, a disruption budget and
//! an autoscaler per part, network policies that deny by default, secrets referenced and
//! never committed. Every rule is also run against a rendering broken on purpose, so a rule
//! that stops catching what it names fails here too.
//!
//! Needs `kubectl` (with its built-in kustomize); without it the tests say so and pass, unless
//! `CADRE_REQUIRE_KUBECTL` is set, as `.ci/run` sets it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize as _;
use serde_json::{Value, json};
use serde_yaml::Deserializer;

/// The Secrets an operator creates before applying an overlay (k8s/README.md, "What an
/// operator provides"); any other Secret a manifest names must be in the rendering, made
/// by CloudNativePG (`<cluster>-app`), or optional.
const PROVIDED_BY_OPERATOR: &[(&str, &[&str])] = &[
    ("dev", &[]),
    ("province", &["cadre-secrets", "cadre-service-key", "cadre-backup-credentials", "cadre-tls"]),
];

/// The longest a call in flight may take once draining ends: the gateway's deadline on each
/// upstream call and the deadline of a call between parts, as the kit defaults them.
fn longest_call_ms() -> u64 {
    let kit = cadre_kit::config::Settings::default();
    kit.gateway.default_deadline_ms.max(kit.client.default_deadline_ms)
}

/// How long a removed pod's address may still be used by a caller: CoreDNS's TTL (5 s by
/// default) plus the kit client's re-resolution interval.
fn dns_staleness_ms() -> u64 {
    5_000 + cadre_kit::config::Settings::default().client.refresh_ms
}

// ---------------------------------------------------------------------------------------
// Rendering

fn k8s_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("k8s")
}

/// `kubectl`, or `None` (with the reason printed) when a developer machine has none.
fn kubectl() -> Option<&'static str> {
    let found =
        Command::new("kubectl").args(["version", "--client"]).output().is_ok_and(|o| o.status.success());
    if found {
        return Some("kubectl");
    }
    if std::env::var_os("CADRE_REQUIRE_KUBECTL").is_some() {
        panic!("CADRE_REQUIRE_KUBECTL is set but kubectl was not found: install kubectl (it renders k8s/)");
    }
    eprintln!("SKIPPED: kubectl not found, so the manifests under k8s/ were not rendered or checked");
    None
}

fn render(kubectl: &str, dir: &Path) -> Vec<Value> {
    let out = Command::new(kubectl).arg("kustomize").arg(dir).output().expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl kustomize {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    parse(&String::from_utf8(out.stdout).expect("UTF-8 manifests"))
}

fn parse(yaml: &str) -> Vec<Value> {
    Deserializer::from_str(yaml)
        .map(|doc| {
            let value = serde_yaml::Value::deserialize(doc).expect("valid YAML");
            serde_json::to_value(value).expect("YAML that JSON can hold")
        })
        .filter(|v| !v.is_null())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Reading objects

fn kind(o: &Value) -> &str {
    o["kind"].as_str().unwrap_or_default()
}

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or_default()
}

fn id(o: &Value) -> String {
    format!("{}/{}", kind(o), name(o))
}

fn of_kind<'a>(objects: &'a [Value], k: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    objects.iter().filter(move |o| kind(o) == k)
}

fn labels(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default()
}

fn pod_labels(deployment: &Value) -> BTreeMap<String, String> {
    labels(&deployment["spec"]["template"]["metadata"]["labels"])
}

/// Whether a label selector (matchLabels and matchExpressions) selects `pod`.
fn selects(selector: &Value, pod: &BTreeMap<String, String>) -> bool {
    let plain = selector.get("matchLabels").is_none() && selector.get("matchExpressions").is_none();
    let match_labels = if plain { labels(selector) } else { labels(&selector["matchLabels"]) };
    let labels_ok = match_labels.iter().all(|(k, v)| pod.get(k) == Some(v));
    let expressions_ok = selector["matchExpressions"].as_array().into_iter().flatten().all(|e| {
        let key = e["key"].as_str().unwrap_or_default();
        let values: Vec<&str> =
            e["values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        match e["operator"].as_str() {
            Some("Exists") => pod.contains_key(key),
            Some("DoesNotExist") => !pod.contains_key(key),
            Some("In") => pod.get(key).is_some_and(|v| values.contains(&v.as_str())),
            Some("NotIn") => pod.get(key).is_none_or(|v| !values.contains(&v.as_str())),
            _ => false,
        }
    });
    labels_ok && expressions_ok
}

fn component(deployment: &Value) -> String {
    pod_labels(deployment).get("app.kubernetes.io/component").cloned().unwrap_or_default()
}

/// A part of the suite: the gateway or a service part.
fn is_part(deployment: &Value) -> bool {
    matches!(component(deployment).as_str(), "service" | "gateway")
}

fn containers(deployment: &Value) -> Vec<&Value> {
    let spec = &deployment["spec"]["template"]["spec"];
    ["initContainers", "containers"].iter().flat_map(|k| spec[*k].as_array().into_iter().flatten()).collect()
}

fn env_value<'a>(container: &'a Value, var: &str) -> Option<&'a str> {
    container["env"].as_array()?.iter().find(|e| e["name"] == var)?["value"].as_str()
}

fn truthy(v: &Value) -> bool {
    v.as_bool() == Some(true)
}

// ---------------------------------------------------------------------------------------
// The rules

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Violation {
    rule: &'static str,
    object: String,
    detail: String,
}

struct Checker<'a> {
    objects: &'a [Value],
    overlay: &'a str,
    found: Vec<Violation>,
}

impl<'a> Checker<'a> {
    fn flag(&mut self, rule: &'static str, object: &Value, detail: impl Into<String>) {
        self.found.push(Violation { rule, object: id(object), detail: detail.into() });
    }

    fn deployments(&self) -> Vec<&'a Value> {
        of_kind(self.objects, "Deployment").collect()
    }
}

/// Every rule over a rendering of `overlay` ("dev", "province", or "base").
fn check(objects: &[Value], overlay: &str) -> Vec<Violation> {
    let mut c = Checker { objects, overlay, found: Vec::new() };
    kube_linter_defaults(&mut c);
    pods_hardened(&mut c);
    probes(&mut c);
    resources(&mut c);
    drain(&mut c);
    rollouts(&mut c);
    grpc_services_headless(&mut c);
    budgets_and_autoscalers(&mut c);
    network_policies(&mut c);
    secrets(&mut c);
    config_maps(&mut c);
    databases(&mut c);
    configuration(&mut c);
    let mut found = c.found;
    found.sort();
    found.dedup();
    found
}

/// kube-linter's checks enabled by default (v0.7), as they apply to these kinds.
fn kube_linter_defaults(c: &mut Checker) {
    let objects = c.objects;
    for o in objects {
        if o["apiVersion"].as_str().is_some_and(|v| v.starts_with("extensions/v1beta")) {
            c.flag("no-extensions-v1beta", o, "deprecated API group");
        }
    }
    let accounts: BTreeSet<&str> = of_kind(objects, "ServiceAccount").map(name).collect();
    for d in c.deployments() {
        let spec = &d["spec"]["template"]["spec"];
        let selector = &d["spec"]["selector"];
        if !selects(selector, &pod_labels(d)) {
            c.flag("mismatching-selector", d, "the selector does not match the pod template's labels");
        }
        if spec.get("serviceAccount").is_some() {
            c.flag("deprecated-service-account-field", d, "serviceAccount is deprecated");
        }
        if let Some(sa) = spec["serviceAccountName"].as_str()
            && sa != "default"
            && !accounts.contains(sa)
        {
            c.flag("non-existent-service-account", d, format!("no ServiceAccount {sa}"));
        }
        for field in ["hostNetwork", "hostPID", "hostIPC"] {
            if truthy(&spec[field]) {
                c.flag("host-namespaces", d, format!("{field} is set"));
            }
        }
        if spec["securityContext"].get("sysctls").is_some() {
            c.flag("unsafe-sysctls", d, "sysctls are set");
        }
        for v in spec["volumes"].as_array().into_iter().flatten() {
            if v.get("hostPath").is_some() {
                c.flag("sensitive-host-mounts", d, format!("volume {} mounts a host path", v["name"]));
            }
        }
        // Replicas may be spread only if they are more than one; every part may be.
        let many = d["spec"]["replicas"].as_u64().is_none_or(|r| r > 1);
        let spread = spec["topologySpreadConstraints"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| t["topologyKey"] == "kubernetes.io/hostname")
            || spec["affinity"]["podAntiAffinity"].is_object();
        if many && !spread {
            c.flag("no-anti-affinity", d, "replicas are not spread across nodes (kubernetes.io/hostname)");
        }
        for k in containers(d) {
            let image = k["image"].as_str().unwrap_or_default();
            let tag = image.rsplit('/').next().unwrap_or_default();
            if !(image.contains('@') || tag.contains(':')) || tag.ends_with(":latest") {
                c.flag("latest-tag", d, format!("image {image:?} has no fixed tag or digest"));
            }
            let mut names = BTreeSet::new();
            for e in k["env"].as_array().into_iter().flatten() {
                let var = e["name"].as_str().unwrap_or_default();
                if !names.insert(var) {
                    c.flag("duplicate-env-var", d, format!("{var} twice"));
                }
                if var.to_lowercase().contains("secret") && e["value"].as_str().is_some_and(|v| !v.is_empty())
                {
                    c.flag("env-var-secret", d, format!("{var} holds a literal secret"));
                }
            }
            let ports: Vec<&Value> = k["ports"].as_array().into_iter().flatten().collect();
            for p in &ports {
                if p["containerPort"] == 22 {
                    c.flag("ssh-port", d, "port 22");
                }
                if let Some(n) = p["name"].as_str()
                    && !valid_port_name(n)
                {
                    c.flag("invalid-target-ports", d, format!("port name {n:?}"));
                }
            }
            for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
                let p = &k[probe];
                let port = p["grpc"]["port"].clone();
                let port = if port.is_null() { p["httpGet"]["port"].clone() } else { port };
                let port = if port.is_null() { p["tcpSocket"]["port"].clone() } else { port };
                if !port.is_null() && !ports.iter().any(|q| q["containerPort"] == port || q["name"] == port) {
                    c.flag(
                        "probe-port",
                        d,
                        format!("{probe} on {port}, which the container does not expose"),
                    );
                }
            }
            let sc = &k["securityContext"];
            if truthy(&sc["privileged"]) {
                c.flag("privileged-container", d, "privileged");
            }
            if sc["allowPrivilegeEscalation"].as_bool() != Some(false) {
                c.flag("privilege-escalation-container", d, "allowPrivilegeEscalation is not false");
            }
            if sc["readOnlyRootFilesystem"].as_bool() != Some(true) {
                c.flag("no-read-only-root-fs", d, "readOnlyRootFilesystem is not true");
            }
            let non_root = sc["runAsNonRoot"].as_bool().or(spec["securityContext"]["runAsNonRoot"].as_bool());
            let user = sc["runAsUser"].as_u64().or(spec["securityContext"]["runAsUser"].as_u64());
            if non_root != Some(true) || user == Some(0) {
                c.flag("run-as-non-root", d, "runAsNonRoot is not true (or the user is root)");
            }
            let dropped: Vec<&str> = sc["capabilities"]["drop"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if !dropped.iter().any(|d| *d == "ALL" || *d == "NET_RAW") {
                c.flag("drop-net-raw-capability", d, "NET_RAW is not dropped");
            }
            for m in k["volumeMounts"].as_array().into_iter().flatten() {
                if m["mountPath"].as_str().is_some_and(|p| p.ends_with("docker.sock")) {
                    c.flag("docker-sock", d, "docker.sock mounted");
                }
            }
        }
    }
    for s in of_kind(objects, "Service") {
        let selector = labels(&s["spec"]["selector"]);
        let pods: Vec<&Value> = of_kind(objects, "Deployment")
            .filter(|d| !selector.is_empty() && selector.iter().all(|(k, v)| pod_labels(d).get(k) == Some(v)))
            .collect();
        if pods.is_empty() {
            c.flag("dangling-service", s, "its selector matches no Deployment's pods");
        }
        for p in s["spec"]["ports"].as_array().into_iter().flatten() {
            if let Some(target) = p["targetPort"].as_str() {
                let exposed = pods
                    .iter()
                    .flat_map(|d| containers(d))
                    .any(|k| k["ports"].as_array().into_iter().flatten().any(|q| q["name"] == target));
                if !valid_port_name(target) || !exposed {
                    c.flag(
                        "invalid-target-ports",
                        s,
                        format!("targetPort {target:?} is no container's port"),
                    );
                }
            }
        }
    }
    for pdb in of_kind(objects, "PodDisruptionBudget") {
        if pdb["spec"]["maxUnavailable"] == 0 || pdb["spec"]["maxUnavailable"] == "0%" {
            c.flag("pdb-max-unavailable", pdb, "maxUnavailable 0 blocks every eviction");
        }
        if pdb["spec"]["minAvailable"] == "100%" {
            c.flag("pdb-min-available", pdb, "minAvailable 100% blocks every eviction");
        }
        if pdb["spec"]["unhealthyPodEvictionPolicy"] != "AlwaysAllow" {
            c.flag("pdb-unhealthy-pod-eviction-policy", pdb, "unhealthyPodEvictionPolicy is not AlwaysAllow");
        }
    }
}

/// RFC 6335 service names, as Kubernetes port names must be.
fn valid_port_name(n: &str) -> bool {
    (1..=15).contains(&n.len())
        && n.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
        && n.chars().any(|ch| ch.is_ascii_lowercase())
        && !n.starts_with('-')
        && !n.ends_with('-')
        && !n.contains("--")
}

/// Beyond kube-linter: seccomp, no capability at all, no service-account token, and the
/// same image for every part.
fn pods_hardened(c: &mut Checker) {
    let mut images = BTreeSet::new();
    for d in c.deployments() {
        let spec = &d["spec"]["template"]["spec"];
        if spec["automountServiceAccountToken"].as_bool() != Some(false) {
            c.flag("service-account-token", d, "automountServiceAccountToken is not false");
        }
        for k in containers(d) {
            let sc = &k["securityContext"];
            let seccomp = sc["seccompProfile"]["type"]
                .as_str()
                .or(spec["securityContext"]["seccompProfile"]["type"].as_str());
            if seccomp != Some("RuntimeDefault") {
                c.flag("seccomp", d, "seccompProfile is not RuntimeDefault");
            }
            let dropped: Vec<&str> = sc["capabilities"]["drop"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if !dropped.contains(&"ALL") || sc["capabilities"].get("add").is_some() {
                c.flag("capabilities", d, "not every capability is dropped");
            }
            if is_part(d) {
                images.insert(k["image"].as_str().unwrap_or_default().to_string());
                let args: Vec<&str> =
                    k["args"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                if args.first() != Some(&"serve") || args.get(1) != Some(&name(d)) {
                    c.flag("serve-the-part", d, format!("runs {args:?}, not [serve, {}]", name(d)));
                }
            }
        }
    }
    if images.len() > 1 {
        let first = c.deployments().into_iter().find(|d| is_part(d)).expect("a part").clone();
        c.flag("one-image", &first, format!("the parts run different images: {images:?}"));
    }
}

/// Every container: readiness, liveness and startup probes; the service parts' on
/// grpc.health.v1 (the gRPC port), the gateway's readiness on /readyz.
fn probes(c: &mut Checker) {
    for d in c.deployments() {
        for k in containers(d) {
            for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
                if !k[probe].is_object() {
                    c.flag("probes", d, format!("container {} has no {probe}", k["name"]));
                    continue;
                }
                match component(d).as_str() {
                    "service" if k[probe]["grpc"]["port"] != 50051 => {
                        c.flag("probes", d, format!("{probe} is not grpc.health.v1 on port 50051"))
                    }
                    "gateway" if probe == "readinessProbe" && k[probe]["httpGet"]["path"] != "/readyz" => {
                        c.flag("probes", d, "the gateway's readiness is not /readyz")
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Requests and limits, CPU and memory, with requests within limits.
fn resources(c: &mut Checker) {
    for d in c.deployments() {
        for k in containers(d) {
            let r = &k["resources"];
            for (what, res) in
                [("requests", "cpu"), ("requests", "memory"), ("limits", "cpu"), ("limits", "memory")]
            {
                if r[what][res].is_null() {
                    c.flag("resources", d, format!("{} has no {what}.{res}", k["name"]));
                }
            }
            for res in ["cpu", "memory"] {
                if let (Some(req), Some(lim)) = (quantity(&r["requests"][res]), quantity(&r["limits"][res]))
                    && req > lim
                {
                    c.flag("resources", d, format!("{res} request above its limit"));
                }
            }
        }
    }
}

/// A Kubernetes quantity as a number (cores or bytes).
fn quantity(v: &Value) -> Option<f64> {
    let s = match v {
        Value::Number(n) => return n.as_f64(),
        Value::String(s) => s.as_str(),
        _ => return None,
    };
    let units = [
        ("Ki", 1024f64),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("m", 0.001),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
    ];
    for (suffix, factor) in units {
        if let Some(n) = s.strip_suffix(suffix) {
            return n.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    s.parse().ok()
}

/// terminationGracePeriodSeconds covers the kit's drain grace plus the longest call in
/// flight, and the drain grace outlasts stale DNS answers in the callers.
fn drain(c: &mut Checker) {
    for d in c.deployments() {
        if !is_part(d) {
            continue;
        }
        let grace_s = d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"].as_u64().unwrap_or(30);
        let Some(drain_ms) = containers(d)
            .iter()
            .find_map(|k| env_value(k, "CADRE__DRAIN_GRACE_MS"))
            .and_then(|v| v.parse::<u64>().ok())
        else {
            c.flag("drain", d, "CADRE__DRAIN_GRACE_MS is not set (the production default is 5 s)");
            continue;
        };
        if grace_s * 1000 < drain_ms + longest_call_ms() {
            c.flag(
                "drain",
                d,
                format!(
                    "terminationGracePeriodSeconds {grace_s} s < drain {drain_ms} ms + longest call {} ms",
                    longest_call_ms()
                ),
            );
        }
        if drain_ms < dns_staleness_ms() {
            c.flag(
                "drain",
                d,
                format!("drain {drain_ms} ms < DNS TTL + client.refresh_ms {} ms", dns_staleness_ms()),
            );
        }
    }
}

/// A rollout starts a new pod and waits for it to be ready before it stops an old one.
fn rollouts(c: &mut Checker) {
    for d in c.deployments().into_iter().filter(|d| is_part(d)) {
        let strategy = &d["spec"]["strategy"];
        let unavailable = &strategy["rollingUpdate"]["maxUnavailable"];
        if strategy["type"] != "RollingUpdate" || !(unavailable == 0 || unavailable == "0%") {
            c.flag("rolling-update", d, "not a RollingUpdate with maxUnavailable 0");
        }
    }
}

/// Services in front of gRPC parts are headless (a ClusterIP pins each HTTP/2 connection to
/// one pod), and every service part has one.
fn grpc_services_headless(c: &mut Checker) {
    let objects = c.objects;
    for d in c.deployments().into_iter().filter(|d| component(d) == "service") {
        let fronting: Vec<&Value> = of_kind(objects, "Service")
            .filter(|s| {
                let sel = labels(&s["spec"]["selector"]);
                !sel.is_empty() && sel.iter().all(|(k, v)| pod_labels(d).get(k) == Some(v))
            })
            .collect();
        if fronting.is_empty() {
            c.flag("headless-grpc", d, "no headless Service selects this part");
        }
        for s in fronting {
            if s["spec"]["clusterIP"] != "None" {
                c.flag("headless-grpc", s, "a Service in front of a gRPC part is not headless");
            }
        }
    }
}

/// Each part: a PodDisruptionBudget selecting it and an autoscaling/v2 HPA targeting it,
/// which owns the replica count; three replicas at least in the province.
fn budgets_and_autoscalers(c: &mut Checker) {
    let objects = c.objects;
    for d in c.deployments().into_iter().filter(|d| is_part(d)) {
        let pods = pod_labels(d);
        if !of_kind(objects, "PodDisruptionBudget").any(|p| selects(&p["spec"]["selector"], &pods)) {
            c.flag("pdb-per-part", d, "no PodDisruptionBudget selects it");
        }
        let hpa = of_kind(objects, "HorizontalPodAutoscaler").find(|h| {
            h["spec"]["scaleTargetRef"]["kind"] == "Deployment"
                && h["spec"]["scaleTargetRef"]["name"] == name(d)
        });
        let Some(hpa) = hpa else {
            c.flag("hpa-per-part", d, "no HorizontalPodAutoscaler targets it");
            continue;
        };
        if hpa["apiVersion"] != "autoscaling/v2" {
            c.flag("hpa-per-part", hpa, "not autoscaling/v2");
        }
        let (min, max) = (
            hpa["spec"]["minReplicas"].as_u64().unwrap_or(1),
            hpa["spec"]["maxReplicas"].as_u64().unwrap_or(0),
        );
        if min > max {
            c.flag("hpa-per-part", hpa, format!("minReplicas {min} > maxReplicas {max}"));
        }
        if d["spec"].get("replicas").is_some() {
            c.flag("hpa-per-part", d, "spec.replicas is set: each apply would fight the autoscaler");
        }
        if c.overlay == "province" && min < 3 {
            c.flag("province-replicas", hpa, format!("minReplicas {min} < 3"));
        }
    }
}

/// Deny by default; DNS for all; gateway → service parts; service parts reached only by the
/// gateway and their callers; each service part → its own database; every pod covered.
fn network_policies(c: &mut Checker) {
    let objects = c.objects;
    let policies: Vec<&Value> = of_kind(objects, "NetworkPolicy").collect();
    let types = |p: &Value| -> BTreeSet<String> {
        p["spec"]["policyTypes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect()
    };
    let deny_all = policies.iter().any(|p| {
        p["spec"]["podSelector"].as_object().is_some_and(|m| m.is_empty())
            && types(p) == BTreeSet::from(["Ingress".to_string(), "Egress".to_string()])
            && p["spec"]["ingress"].is_null()
            && p["spec"]["egress"].is_null()
    });
    let anchor = c.deployments().into_iter().next().cloned().unwrap_or(json!({}));
    if !deny_all {
        c.flag("network-default-deny", &anchor, "no policy denies ingress and egress to every pod");
    }
    let dns = policies.iter().any(|p| {
        p["spec"]["podSelector"].as_object().is_some_and(|m| m.is_empty())
            && p["spec"]["egress"].as_array().into_iter().flatten().any(|r| {
                r["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|port| port["port"] == 53 && port["protocol"] == "UDP")
            })
    });
    if !dns {
        c.flag("network-dns", &anchor, "no policy lets every pod reach DNS");
    }
    let selecting = |pods: &BTreeMap<String, String>| -> Vec<&Value> {
        policies.iter().copied().filter(|p| selects(&p["spec"]["podSelector"], pods)).collect()
    };
    // A peer: which pods of this namespace it admits (`None`: any address at all).
    let admits = |peer: &Value, pods: &BTreeMap<String, String>| -> Option<bool> {
        if peer.get("ipBlock").is_some() || peer.get("namespaceSelector").is_some() {
            return None;
        }
        Some(selects(&peer["podSelector"], pods))
    };
    let gateway = c.deployments().into_iter().find(|d| component(d) == "gateway").map(pod_labels);
    for d in c.deployments() {
        let pods = pod_labels(d);
        let mine = selecting(&pods);
        // Its own policy: one that names it (app.kubernetes.io/name) and says who may reach it.
        let own = mine.iter().any(|p| {
            p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"].as_str()
                == pods.get("app.kubernetes.io/name").map(String::as_str)
                && types(p).contains("Ingress")
        });
        if !own {
            c.flag("network-coverage", d, "no policy of its own says who may reach it");
        }
        if component(d) != "service" {
            continue;
        }
        let part = name(d).to_string();
        // Ingress: from the gateway and pods labelled as its callers, on the gRPC port only.
        for p in &mine {
            for rule in p["spec"]["ingress"].as_array().into_iter().flatten() {
                for peer in rule["from"].as_array().into_iter().flatten() {
                    let caller_key = format!("calls.cadre.io/{part}");
                    let ok = match admits(peer, &BTreeMap::new()) {
                        None => {
                            peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                                == "monitoring"
                                && rule["ports"]
                                    .as_array()
                                    .into_iter()
                                    .flatten()
                                    .all(|port| port["port"] != 50051)
                        }
                        Some(_) => {
                            let sel = &peer["podSelector"];
                            let is_gateway = gateway.as_ref().is_some_and(|g| selects(sel, g))
                                && labels(&sel["matchLabels"])
                                    .get("app.kubernetes.io/name")
                                    .is_some_and(|n| n == "gateway");
                            let is_caller = sel["matchExpressions"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .any(|e| e["key"] == caller_key.as_str());
                            is_gateway || is_caller
                        }
                    };
                    if !ok {
                        c.flag("network-service-ingress", p, format!("admits {peer} to {part}"));
                    }
                }
                if rule["from"].is_null() {
                    c.flag("network-service-ingress", p, format!("admits anyone to {part}"));
                }
            }
        }
        // Egress: its own database.
        let db = format!("{part}-db");
        let reaches_db = mine.iter().any(|p| {
            p["spec"]["egress"].as_array().into_iter().flatten().any(|r| {
                r["to"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|peer| peer["podSelector"]["matchLabels"]["cnpg.io/cluster"] == db.as_str())
                    && r["ports"].as_array().into_iter().flatten().any(|port| port["port"] == 5432)
            })
        });
        if !reaches_db {
            c.flag("network-service-database", d, format!("no policy lets {part} reach {db}"));
        }
        // Gateway → this part.
        if let Some(g) = &gateway {
            let reaches = selecting(g).iter().any(|p| {
                p["spec"]["egress"].as_array().into_iter().flatten().any(|r| {
                    r["to"].as_array().into_iter().flatten().any(|peer| admits(peer, &pods) == Some(true))
                        && r["ports"].as_array().into_iter().flatten().any(|port| port["port"] == 50051)
                })
            });
            if !reaches {
                c.flag("network-gateway-egress", d, format!("no policy lets the gateway reach {part}"));
            }
        }
    }
}

/// Every Secret named is in the rendering, made by CloudNativePG, optional, or one the
/// operator provides; a Secret that is in the rendering says it is fake.
fn secrets(c: &mut Checker) {
    let objects = c.objects;
    let provided: BTreeSet<&str> = PROVIDED_BY_OPERATOR
        .iter()
        .find(|(o, _)| *o == c.overlay)
        .map(|(_, s)| s.iter().copied().collect())
        .unwrap_or_default();
    let rendered: BTreeSet<&str> = of_kind(objects, "Secret").map(name).collect();
    let generated: BTreeSet<String> =
        of_kind(objects, "Cluster").map(|k| format!("{}-app", name(k))).collect();
    let mut referenced: Vec<(&Value, String, bool)> = Vec::new();
    for d in c.deployments() {
        let spec = &d["spec"]["template"]["spec"];
        for v in spec["volumes"].as_array().into_iter().flatten() {
            if let Some(s) = v["secret"]["secretName"].as_str() {
                referenced.push((d, s.into(), truthy(&v["secret"]["optional"])));
            }
        }
        for k in containers(d) {
            for e in k["env"].as_array().into_iter().flatten() {
                if let Some(s) = e["valueFrom"]["secretKeyRef"]["name"].as_str() {
                    referenced.push((d, s.into(), truthy(&e["valueFrom"]["secretKeyRef"]["optional"])));
                }
            }
            for e in k["envFrom"].as_array().into_iter().flatten() {
                if let Some(s) = e["secretRef"]["name"].as_str() {
                    referenced.push((d, s.into(), truthy(&e["secretRef"]["optional"])));
                }
            }
        }
    }
    for o in of_kind(objects, "ObjectStore") {
        for key in ["accessKeyId", "secretAccessKey"] {
            if let Some(s) = o["spec"]["configuration"]["s3Credentials"][key]["name"].as_str() {
                referenced.push((o, s.into(), false));
            }
        }
    }
    for i in of_kind(objects, "Ingress") {
        for t in i["spec"]["tls"].as_array().into_iter().flatten() {
            if let Some(s) = t["secretName"].as_str() {
                referenced.push((i, s.into(), false));
            }
        }
    }
    for (o, secret, optional) in referenced {
        if !(optional
            || rendered.contains(secret.as_str())
            || generated.contains(&secret)
            || provided.contains(secret.as_str()))
        {
            c.flag(
                "secret-references",
                o,
                format!("Secret {secret} is neither rendered, generated, optional nor provided"),
            );
        }
    }
    for s in of_kind(objects, "Secret") {
        let values = s["stringData"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()));
        let data = s["data"].as_object().into_iter().flatten().map(|(k, v)| {
            use base64::Engine;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap_or_default())
                .unwrap_or_default();
            (k.clone(), String::from_utf8_lossy(&raw).into_owned())
        });
        for (key, value) in values.chain(data) {
            // A base64 key is fake when what it encodes says so.
            let decoded = {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(value.trim())
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default()
            };
            if c.overlay == "province" || !(value.contains("FAKE") || decoded.contains("FAKE")) {
                c.flag(
                    "secrets-committed",
                    s,
                    format!("{key} is committed with a value that is not fake on sight"),
                );
            }
        }
    }
}

/// Every ConfigMap a pod reads is in the rendering (kustomize renames generated ones with a
/// hash and must have renamed the references too).
fn config_maps(c: &mut Checker) {
    let objects = c.objects;
    let rendered: BTreeSet<&str> = of_kind(objects, "ConfigMap").map(name).collect();
    for d in c.deployments() {
        let spec = &d["spec"]["template"]["spec"];
        let mut names: Vec<&str> = spec["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["configMap"]["name"].as_str())
            .collect();
        for k in containers(d) {
            names.extend(
                k["envFrom"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e["configMapRef"]["name"].as_str()),
            );
            names.extend(
                k["env"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e["valueFrom"]["configMapKeyRef"]["name"].as_str()),
            );
        }
        for missing in names.into_iter().filter(|n| !rendered.contains(n)) {
            c.flag("configmap-references", d, format!("ConfigMap {missing} is not in the rendering"));
        }
    }
}

/// Each service part: its own CloudNativePG cluster, wired to it through the app Secret;
/// in the province, three instances, WAL archiving and a scheduled backup.
fn databases(c: &mut Checker) {
    let objects = c.objects;
    for d in c.deployments().into_iter().filter(|d| component(d) == "service") {
        let part = name(d);
        let db = format!("{part}-db");
        let Some(cluster) = of_kind(objects, "Cluster").find(|k| name(k) == db) else {
            c.flag("database-per-part", d, format!("no CloudNativePG Cluster {db}"));
            continue;
        };
        let var = format!("CADRE__{part}__DATABASE__URL").to_lowercase();
        let wired = containers(d).iter().any(|k| {
            k["env"].as_array().into_iter().flatten().any(|e| {
                e["name"].as_str().is_some_and(|n| n.to_lowercase() == var)
                    && e["valueFrom"]["secretKeyRef"]["name"] == format!("{db}-app").as_str()
                    && e["valueFrom"]["secretKeyRef"]["key"] == "uri"
            })
        });
        if !wired {
            c.flag("database-per-part", d, format!("{var} does not come from {db}-app's uri"));
        }
        if c.overlay == "province" {
            if cluster["spec"]["instances"].as_u64().unwrap_or(1) < 3 {
                c.flag("province-database", cluster, "fewer than three instances");
            }
            let archiver = cluster["spec"]["plugins"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| truthy(&p["isWALArchiver"]));
            match archiver {
                None => c.flag("province-database", cluster, "no WAL archiving"),
                Some(p) => {
                    let store = p["parameters"]["barmanObjectName"].as_str().unwrap_or_default();
                    if !of_kind(objects, "ObjectStore").any(|o| name(o) == store) {
                        c.flag("province-database", cluster, format!("no ObjectStore {store}"));
                    }
                }
            }
            if !of_kind(objects, "ScheduledBackup").any(|b| b["spec"]["cluster"]["name"] == db.as_str()) {
                c.flag("province-database", cluster, "no ScheduledBackup");
            }
        }
    }
}

/// The configuration every process reads says `profile = "production"`.
fn configuration(c: &mut Checker) {
    let objects = c.objects;
    let Some(config) = of_kind(objects, "ConfigMap").find(|m| name(m).starts_with("cadre-config")) else {
        let anchor = c.deployments().into_iter().next().cloned().unwrap_or(json!({}));
        c.flag("configuration", &anchor, "no ConfigMap cadre-config");
        return;
    };
    let toml = config["data"]["cadre.toml"].as_str().unwrap_or_default();
    if !toml.lines().any(|l| l.trim().replace(' ', "") == "profile=\"production\"") {
        c.flag("configuration", config, "cadre.toml does not say profile = \"production\"");
    }
}

// ---------------------------------------------------------------------------------------
// The tests

fn report(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| format!("  {} {}: {}", v.rule, v.object, v.detail))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_overlay_renders_and_keeps_every_rule() {
    let Some(kubectl) = kubectl() else { return };
    for overlay in ["dev", "province"] {
        let objects = render(kubectl, &k8s_dir().join("overlays").join(overlay));
        let violations = check(&objects, overlay);
        assert!(violations.is_empty(), "k8s/overlays/{overlay} breaks these rules:\n{}", report(&violations));
        // Every part that exists today is there, each with what a part gets.
        for part in ["gateway", "roster", "training", "assessment", "incentive"] {
            assert!(
                of_kind(&objects, "Deployment").any(|d| name(d) == part),
                "{overlay}: no Deployment {part}"
            );
        }
        eprintln!("k8s/overlays/{overlay}: {} objects, every rule kept", objects.len());
    }
}

/// What each overlay configures is a configuration the binary accepts, in production: the
/// rendered cadre.toml, cadre-env, the Deployment's own variables and the secrets (the dev
/// overlay's as generated; the province's as an operator would create them). `cadre token`
/// loads and validates everything before it does anything else.
#[test]
fn the_binary_accepts_each_overlays_configuration() {
    let Some(kubectl) = kubectl() else { return };
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    for overlay in ["dev", "province"] {
        let objects = render(kubectl, &k8s_dir().join("overlays").join(overlay));
        let dir = tempfile::tempdir().unwrap();
        let config = of_kind(&objects, "ConfigMap")
            .find(|m| name(m).starts_with("cadre-config"))
            .expect("cadre-config");
        let toml = dir.path().join("cadre.toml");
        std::fs::write(&toml, config["data"]["cadre.toml"].as_str().unwrap()).unwrap();
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        let cadre_env =
            of_kind(&objects, "ConfigMap").find(|m| name(m).starts_with("cadre-env")).expect("cadre-env");
        for (k, v) in cadre_env["data"].as_object().unwrap() {
            env.insert(k.clone(), v.as_str().unwrap().to_string());
        }
        match of_kind(&objects, "Secret").find(|s| name(s).starts_with("cadre-secrets")) {
            Some(secret) => {
                for (k, v) in secret["data"].as_object().unwrap() {
                    let value = b64.decode(v.as_str().unwrap()).unwrap();
                    env.insert(k.clone(), String::from_utf8(value).unwrap());
                }
            }
            // What k8s/README.md tells the operator to create.
            None => {
                env.insert("CADRE__PII__ENCRYPTION_KEY".into(), b64.encode([7u8; 32]));
                env.insert("CADRE__PII__INDEX_KEY".into(), b64.encode([9u8; 32]));
                env.insert("CADRE__AUTH__JWKS_URL".into(), "https://idp.example.invalid/jwks.json".into());
                env.insert("CADRE__AUTH__ISSUER".into(), "https://idp.example.invalid".into());
            }
        }
        for d in of_kind(&objects, "Deployment").filter(|d| is_part(d)) {
            let mut env = env.clone();
            for e in containers(d)[0]["env"].as_array().unwrap() {
                let var = e["name"].as_str().unwrap().to_string();
                let value = match (e["value"].as_str(), e["valueFrom"]["secretKeyRef"]["key"].as_str()) {
                    (Some(_), _) if var == "CADRE_CONFIG" => toml.display().to_string(),
                    (Some(v), _) => v.to_string(),
                    (None, Some("uri")) => format!("postgresql://{0}:pw@{0}-db-rw.cadre:5432/{0}", name(d)),
                    _ => panic!("{}: {var} comes from an unexpected place", id(d)),
                };
                env.insert(var, value);
            }
            let mut command = Command::new(env!("CARGO_BIN_EXE_cadre"));
            command.args(["token", "--role", "county_admin", "--region", "150525000000"]);
            for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("CADRE")) {
                command.env_remove(key);
            }
            let out = command.envs(&env).output().expect("cadre runs");
            let stderr = String::from_utf8_lossy(&out.stderr);
            match overlay {
                // Development tokens on: the configuration loads and a token is signed.
                "dev" => assert!(out.status.success(), "{overlay} {}: {stderr}", id(d)),
                // Development tokens off: it loads, and refuses only to sign one.
                _ => {
                    assert!(stderr.contains("auth.accept_dev_tokens is off"), "{overlay} {}: {stderr}", id(d))
                }
            }
        }
    }
}

/// Each rule, broken on purpose in a copy of the province's rendering, is reported by name:
/// the checks above cannot pass by checking nothing.
#[test]
fn a_manifest_that_breaks_a_rule_fails_it() {
    let Some(kubectl) = kubectl() else { return };
    let good = render(kubectl, &k8s_dir().join("overlays/province"));
    assert_eq!(check(&good, "province"), Vec::new());

    type Break = fn(&mut Vec<Value>);
    fn roster(objects: &mut [Value]) -> &mut Value {
        objects.iter_mut().find(|o| kind(o) == "Deployment" && name(o) == "roster").expect("roster")
    }
    fn roster_container(objects: &mut [Value]) -> &mut Value {
        &mut roster(objects)["spec"]["template"]["spec"]["containers"][0]
    }
    fn remove(v: &mut Value, key: &str) {
        v.as_object_mut().expect("an object").remove(key);
    }
    fn drop_where(objects: &mut Vec<Value>, k: &str, n: &str) {
        objects.retain(|o| !(kind(o) == k && name(o) == n));
    }
    let cases: &[(&str, Break)] = &[
        ("probes", |o| remove(roster_container(o), "readinessProbe")),
        ("probes", |o| roster_container(o)["livenessProbe"] = json!({"tcpSocket": {"port": 50051}})),
        ("resources", |o| remove(&mut roster_container(o)["resources"], "limits")),
        ("no-read-only-root-fs", |o| {
            roster_container(o)["securityContext"]["readOnlyRootFilesystem"] = json!(false)
        }),
        ("run-as-non-root", |o| {
            remove(&mut roster_container(o)["securityContext"], "runAsNonRoot");
            remove(&mut roster(o)["spec"]["template"]["spec"]["securityContext"], "runAsNonRoot");
        }),
        ("privilege-escalation-container", |o| {
            remove(&mut roster_container(o)["securityContext"], "allowPrivilegeEscalation")
        }),
        ("capabilities", |o| {
            roster_container(o)["securityContext"]["capabilities"] = json!({"drop": ["NET_RAW"]})
        }),
        ("seccomp", |o| {
            remove(&mut roster(o)["spec"]["template"]["spec"]["securityContext"], "seccompProfile")
        }),
        ("service-account-token", |o| {
            remove(&mut roster(o)["spec"]["template"]["spec"], "automountServiceAccountToken")
        }),
        ("latest-tag", |o| {
            roster_container(o)["image"] = json!("registry.example.invalid/cadre/cadre:latest")
        }),
        ("no-anti-affinity", |o| {
            remove(&mut roster(o)["spec"]["template"]["spec"], "topologySpreadConstraints")
        }),
        ("mismatching-selector", |o| {
            roster(o)["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] = json!("rooster")
        }),
        ("drain", |o| roster(o)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = json!(10)),
        ("headless-grpc", |o| {
            let s =
                o.iter_mut().find(|s| kind(s) == "Service" && name(s) == "roster-headless").expect("service");
            remove(&mut s["spec"], "clusterIP");
        }),
        ("headless-grpc", |o| drop_where(o, "Service", "roster-headless")),
        ("pdb-per-part", |o| drop_where(o, "PodDisruptionBudget", "roster")),
        ("pdb-unhealthy-pod-eviction-policy", |o| {
            let p = o.iter_mut().find(|p| kind(p) == "PodDisruptionBudget").expect("a PDB");
            remove(&mut p["spec"], "unhealthyPodEvictionPolicy");
        }),
        ("pdb-max-unavailable", |o| {
            let p = o.iter_mut().find(|p| kind(p) == "PodDisruptionBudget").expect("a PDB");
            p["spec"]["maxUnavailable"] = json!(0);
        }),
        ("hpa-per-part", |o| drop_where(o, "HorizontalPodAutoscaler", "roster")),
        ("hpa-per-part", |o| roster(o)["spec"]["replicas"] = json!(3)),
        ("province-replicas", |o| {
            let h = o.iter_mut().find(|h| kind(h) == "HorizontalPodAutoscaler").expect("an HPA");
            h["spec"]["minReplicas"] = json!(1);
        }),
        ("network-default-deny", |o| drop_where(o, "NetworkPolicy", "default-deny")),
        ("network-dns", |o| drop_where(o, "NetworkPolicy", "allow-dns")),
        ("network-coverage", |o| drop_where(o, "NetworkPolicy", "gateway")),
        ("network-gateway-egress", |o| {
            let p =
                o.iter_mut().find(|p| kind(p) == "NetworkPolicy" && name(p) == "gateway").expect("policy");
            remove(&mut p["spec"], "egress");
        }),
        ("network-service-ingress", |o| {
            let p = o.iter_mut().find(|p| kind(p) == "NetworkPolicy" && name(p) == "roster").expect("policy");
            p["spec"]["ingress"][0]["from"] = json!([{"podSelector": {}}]);
        }),
        ("network-service-database", |o| {
            let p = o.iter_mut().find(|p| kind(p) == "NetworkPolicy" && name(p) == "roster").expect("policy");
            remove(&mut p["spec"], "egress");
        }),
        ("secret-references", |o| {
            roster_container(o)["envFrom"][1]["secretRef"]["name"] = json!("someone-elses-secret");
        }),
        ("secrets-committed", |o| {
            o.push(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cadre-secrets"},
                "stringData": {"CADRE__PII__INDEX_KEY": "a-real-looking-key"}}));
        }),
        ("database-per-part", |o| drop_where(o, "Cluster", "roster-db")),
        ("database-per-part", |o| {
            roster_container(o)["env"][2]["valueFrom"]["secretKeyRef"]["name"] = json!("another-db-app");
        }),
        ("province-database", |o| {
            let k = o.iter_mut().find(|k| kind(k) == "Cluster").expect("a cluster");
            k["spec"]["instances"] = json!(1);
        }),
        ("province-database", |o| drop_where(o, "ScheduledBackup", "roster-db-daily")),
        ("configuration", |o| {
            let m = o
                .iter_mut()
                .find(|m| kind(m) == "ConfigMap" && name(m).starts_with("cadre-config"))
                .expect("config");
            let toml = m["data"]["cadre.toml"].as_str().unwrap().replace("\"production\"", "\"development\"");
            m["data"]["cadre.toml"] = json!(toml);
        }),
        ("serve-the-part", |o| roster_container(o)["args"] = json!(["up"])),
        ("rolling-update", |o| roster(o)["spec"]["strategy"] = json!({"type": "Recreate"})),
        ("rolling-update", |o| roster(o)["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] = json!(1)),
        ("configmap-references", |o| {
            roster_container(o)["envFrom"][0]["configMapRef"]["name"] = json!("cadre-env")
        }),
        ("dangling-service", |o| {
            let s = o.iter_mut().find(|s| kind(s) == "Service" && name(s) == "gateway").expect("service");
            s["spec"]["selector"] = json!({"app.kubernetes.io/name": "gatway"});
        }),
        ("probe-port", |o| roster_container(o)["startupProbe"]["grpc"]["port"] = json!(50052)),
        ("env-var-secret", |o| {
            roster_container(o)["env"]
                .as_array_mut()
                .unwrap()
                .push(json!({"name": "DB_SECRET", "value": "hunter2"}));
        }),
    ];
    let mut missed = Vec::new();
    for (rule, break_it) in cases {
        let mut broken = good.clone();
        break_it(&mut broken);
        let found = check(&broken, "province");
        if !found.iter().any(|v| v.rule == *rule) {
            missed.push(format!("{rule}: not reported; found instead:\n{}", report(&found)));
        }
    }
    assert!(missed.is_empty(), "rules that did not catch what they name:\n{}", missed.join("\n"));
}

/// The fixture under k8s/tests/broken is an overlay as a careless change would write it (a
/// ClusterIP in front of the roster, its readiness probe gone, root allowed): rendered like
/// the real ones, it fails those rules.
#[test]
fn the_broken_fixture_overlay_fails() {
    let Some(kubectl) = kubectl() else { return };
    let objects = render(kubectl, &k8s_dir().join("tests/broken"));
    let rules: BTreeSet<&str> = check(&objects, "dev").iter().map(|v| v.rule).collect();
    for rule in ["headless-grpc", "probes", "run-as-non-root", "no-read-only-root-fs"] {
        assert!(rules.contains(rule), "{rule} not reported for k8s/tests/broken: {rules:?}");
    }
}

/// A part added later needs only its own folder under k8s/base/parts/ (and its line in
/// k8s/base/kustomization.yaml): a copy of the roster's folder, renamed, renders into a
/// complete part that keeps every rule, in both overlays.
#[test]
fn a_new_part_needs_only_its_own_folder() {
    let Some(kubectl) = kubectl() else { return };
    let tree = tempfile::tempdir().unwrap();
    copy_dir(&k8s_dir(), &tree.path().join("k8s"));
    let base = tree.path().join("k8s/base");
    let folder = base.join("parts/reports");
    std::fs::create_dir_all(&folder).unwrap();
    let roster = std::fs::read_to_string(base.join("parts/roster/kustomization.yaml")).unwrap();
    std::fs::write(
        folder.join("kustomization.yaml"),
        roster.replace("roster", "reports").replace("ROSTER", "REPORTS"),
    )
    .unwrap();
    let list = std::fs::read_to_string(base.join("kustomization.yaml")).unwrap();
    assert!(list.contains("  - parts/roster\n"), "the list of parts in k8s/base/kustomization.yaml");
    std::fs::write(
        base.join("kustomization.yaml"),
        list.replace("  - parts/roster\n", "  - parts/roster\n  - parts/reports\n"),
    )
    .unwrap();

    for overlay in ["dev", "province"] {
        let objects = render(kubectl, &tree.path().join("k8s/overlays").join(overlay));
        let violations = check(&objects, overlay);
        assert!(violations.is_empty(), "{overlay} with a new part:\n{}", report(&violations));
        let has = |k: &str, n: &str| objects.iter().any(|o| kind(o) == k && name(o) == n);
        for (k, n) in [
            ("Deployment", "reports"),
            ("Service", "reports-headless"),
            ("PodDisruptionBudget", "reports"),
            ("HorizontalPodAutoscaler", "reports"),
            ("NetworkPolicy", "reports"),
            ("NetworkPolicy", "reports-db"),
            ("Cluster", "reports-db"),
        ] {
            assert!(has(k, n), "{overlay}: no {k} {n}");
        }
        let env =
            of_kind(&objects, "ConfigMap").find(|m| name(m).starts_with("cadre-env")).expect("cadre-env");
        assert_eq!(env["data"]["CADRE__REPORTS__ENDPOINTS"], "dns://reports-headless:50051");
        assert_eq!(env["data"]["CADRE__ROSTER__ENDPOINTS"], "dns://roster-headless:50051");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
