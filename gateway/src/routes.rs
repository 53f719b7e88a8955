//! HTTP rule path templates (`/v1/regions/{code}`, `/v1/cadres/{cadre.id}`,
//! `/v1/posts/{post_id}:end`) and matching a request to the RPC they declare.

use http::Method;
use prost_reflect::{DescriptorPool, MethodDescriptor, Value};

use crate::GatewayError;

/// The method option that carries a method's HTTP rule (`get`/`put`/`post`/`delete`/
/// `patch` and `body`, as `google.api.http`). The only place its name is spelled.
pub const HTTP_RULE_EXTENSION: &str = "google.api.http";

/// One segment of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// A field path such as `cadre.id`; matches one whole segment.
    Variable(String),
}

/// A parsed path template: segments and an optional `:verb` on the last one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    segments: Vec<Segment>,
    verb: Option<String>,
    source: String,
}

impl PathTemplate {
    pub fn parse(template: &str) -> Result<Self, String> {
        let rest = template.strip_prefix('/').ok_or("must start with '/'")?;
        // A verb follows the last ':' that is outside braces.
        let (path, verb) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('}') => (&rest[..i], Some(rest[i + 1..].to_string())),
            _ => (rest, None),
        };
        if verb.as_deref() == Some("") {
            return Err("empty verb".into());
        }
        let mut segments = Vec::new();
        for part in path.split('/') {
            if let Some(inner) = part.strip_prefix('{') {
                let inner =
                    inner.strip_suffix('}').ok_or_else(|| format!("unclosed variable in '{part}'"))?;
                // `{name=*}` is the same as `{name}`; wider patterns are not supported.
                let name = match inner.split_once('=') {
                    Some((name, "*")) => name,
                    Some(_) => return Err(format!("unsupported variable pattern '{inner}'")),
                    None => inner,
                };
                if name.is_empty() || !name.split('.').all(is_ident) {
                    return Err(format!("bad variable name '{name}'"));
                }
                segments.push(Segment::Variable(name.to_string()));
            } else if part.is_empty() || part.contains(['{', '}']) {
                return Err(format!("bad segment '{part}'"));
            } else {
                segments.push(Segment::Literal(part.to_string()));
            }
        }
        Ok(Self { segments, verb, source: template.to_string() })
    }

    /// The template as written, e.g. `/v1/cadres/{id}` (the metrics label).
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Field paths bound by the path, in order.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Variable(v) => Some(v.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// Binds the variables of a request path (already without query), or `None`.
    pub fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        let rest = path.strip_prefix('/')?;
        let rest = match &self.verb {
            Some(verb) => rest.strip_suffix(verb.as_str())?.strip_suffix(':')?,
            None => rest,
        };
        let parts: Vec<&str> = rest.split('/').collect();
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut bound = Vec::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(lit) if lit == part => {}
                Segment::Literal(_) => return None,
                Segment::Variable(name) => {
                    let value = percent_decode(part)?;
                    if value.is_empty() {
                        return None;
                    }
                    bound.push((name.clone(), value));
                }
            }
        }
        Some(bound)
    }

    /// Whether both templates match exactly the same paths: the same verb, and
    /// segment by segment the same literal or a variable in both (whatever its name).
    fn same_paths_as(&self, other: &Self) -> bool {
        self.verb == other.verb
            && self.segments.len() == other.segments.len()
            && self.segments.iter().zip(&other.segments).all(|pair| match pair {
                (Segment::Literal(a), Segment::Literal(b)) => a == b,
                (Segment::Variable(_), Segment::Variable(_)) => true,
                _ => false,
            })
    }

    /// Higher is more specific: verbs first, then more literal segments.
    fn specificity(&self) -> (bool, usize) {
        let literals = self.segments.iter().filter(|s| matches!(s, Segment::Literal(_))).count();
        (self.verb.is_some(), literals)
    }
}

fn is_ident(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Decodes `%XX` escapes (and, with `plus_as_space`, `+`); `None` on bad escapes or UTF-8.
pub fn decode_component(s: &str, plus_as_space: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn percent_decode(s: &str) -> Option<String> {
    decode_component(s, false)
}

/// A declared REST route: method, template, the RPC and its body selector.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    pub template: PathTemplate,
    pub rpc: MethodDescriptor,
    /// `"*"`, a field name, or empty (no body).
    pub body: String,
}

/// What a request path and method resolve to.
#[derive(Debug)]
pub enum Resolution<'a> {
    Found(&'a Route, Vec<(String, String)>),
    /// The path is known, but not for this method.
    WrongMethod(Vec<Method>),
    NotFound,
}

/// Every REST route of the descriptor pool, most specific first.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    /// Reads the [`HTTP_RULE_EXTENSION`] option of every method in `pool`. Two rules with
    /// the same method and templates that match the same paths are refused: which RPC
    /// got the request would depend on declaration order.
    pub fn from_pool(pool: &DescriptorPool) -> Result<Self, GatewayError> {
        let ext = pool
            .get_extension_by_name(HTTP_RULE_EXTENSION)
            .ok_or_else(|| GatewayError::Descriptor(format!("extension {HTTP_RULE_EXTENSION} is missing")))?;
        let mut routes = Vec::new();
        for service in pool.services() {
            for rpc in service.methods() {
                let options = rpc.options();
                if !options.has_extension(&ext) {
                    continue;
                }
                if rpc.is_client_streaming() || rpc.is_server_streaming() {
                    return Err(GatewayError::Descriptor(format!(
                        "{}: a streaming RPC cannot have an HTTP rule (REST is unary; use gRPC)",
                        rpc.full_name()
                    )));
                }
                let value = options.get_extension(&ext);
                let Some(rule) = value.as_message() else { continue };
                let mut pattern = None;
                for (verb, method) in [
                    ("get", Method::GET),
                    ("put", Method::PUT),
                    ("post", Method::POST),
                    ("delete", Method::DELETE),
                    ("patch", Method::PATCH),
                ] {
                    if rule.has_field_by_name(verb)
                        && let Some(Value::String(p)) = rule.get_field_by_name(verb).as_deref()
                    {
                        pattern = Some((method, p.clone()));
                    }
                }
                let Some((method, path)) = pattern else { continue };
                let body = match rule.get_field_by_name("body").as_deref() {
                    Some(Value::String(b)) => b.clone(),
                    _ => String::new(),
                };
                let template = PathTemplate::parse(&path).map_err(|e| {
                    GatewayError::Descriptor(format!("{}: http rule '{path}': {e}", rpc.full_name()))
                })?;
                if !body.is_empty() && body != "*" && rpc.input().get_field_by_name(&body).is_none() {
                    return Err(GatewayError::Descriptor(format!(
                        "{}: http rule body '{body}' is not a field of {}",
                        rpc.full_name(),
                        rpc.input().full_name()
                    )));
                }
                if let Some(twin) =
                    routes.iter().find(|r: &&Route| r.method == method && r.template.same_paths_as(&template))
                {
                    return Err(GatewayError::Descriptor(format!(
                        "{} ({method} {}) and {} ({method} {path}) match the same requests",
                        twin.rpc.full_name(),
                        twin.template.as_str(),
                        rpc.full_name(),
                    )));
                }
                routes.push(Route { method, template, rpc, body });
            }
        }
        routes.sort_by_key(|r| std::cmp::Reverse(r.template.specificity()));
        Ok(Self { routes })
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn resolve(&self, method: &Method, path: &str) -> Resolution<'_> {
        let mut allowed = Vec::new();
        for route in &self.routes {
            if let Some(bound) = route.template.matches(path) {
                if route.method == method {
                    return Resolution::Found(route, bound);
                }
                allowed.push(route.method.clone());
            }
        }
        if allowed.is_empty() { Resolution::NotFound } else { Resolution::WrongMethod(allowed) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        let pool = DescriptorPool::decode(cadre_proto::FILE_DESCRIPTOR_SET).expect("descriptors");
        RouteTable::from_pool(&pool).expect("routes")
    }

    #[test]
    fn templates_parse_variables_and_verbs() {
        let t = PathTemplate::parse("/v1/posts/{post_id}:end").unwrap();
        assert_eq!(t.variables().collect::<Vec<_>>(), ["post_id"]);
        assert_eq!(t.matches("/v1/posts/p-1:end"), Some(vec![("post_id".into(), "p-1".into())]));
        assert_eq!(t.matches("/v1/posts/p-1"), None);
        let t = PathTemplate::parse("/v1/cadres/{cadre.id}").unwrap();
        assert_eq!(t.matches("/v1/cadres/a%20b"), Some(vec![("cadre.id".into(), "a b".into())]));
        assert_eq!(t.matches("/v1/cadres/a/b"), None);
        assert_eq!(t.matches("/v1/cadres/"), None);
        let t = PathTemplate::parse("/v1/regions:batchUpsert").unwrap();
        assert_eq!(t.matches("/v1/regions:batchUpsert"), Some(vec![]));
        assert_eq!(t.matches("/v1/regions"), None);
        assert!(PathTemplate::parse("v1/x").is_err());
        assert!(PathTemplate::parse("/v1/{x").is_err());
        assert!(PathTemplate::parse("/v1/{x=**}").is_err());
        assert!(PathTemplate::parse("/v1//x").is_err());
    }

    #[test]
    fn decoding_rejects_bad_escapes() {
        assert_eq!(decode_component("a+b%2Fc", true).as_deref(), Some("a b/c"));
        assert_eq!(decode_component("a+b", false).as_deref(), Some("a+b"));
        assert_eq!(decode_component("%zz", false), None);
        assert_eq!(decode_component("%e4%b8", false), None);
        assert_eq!(decode_component("%E8%8B%8F", false).as_deref(), Some("苏"));
    }

    #[test]
    fn every_roster_rule_resolves() {
        let t = table();
        let cases = [
            (Method::GET, "/v1/regions/150525000000", "GetRegion", vec![("code", "150525000000")]),
            (
                Method::GET,
                "/v1/regions/150525000000/children",
                "ListChildRegions",
                vec![("code", "150525000000")],
            ),
            (Method::GET, "/v1/regions:search", "SearchRegions", vec![]),
            (Method::POST, "/v1/regions:batchUpsert", "UpsertRegions", vec![]),
            (Method::PATCH, "/v1/cadres/c1", "UpdateCadre", vec![("cadre.id", "c1")]),
            (Method::POST, "/v1/cadres:lookup", "LookupCadre", vec![]),
            (Method::POST, "/v1/posts/p1:end", "EndPost", vec![("post_id", "p1")]),
            (Method::POST, "/v1/roster/audit:verify", "VerifyAuditChain", vec![]),
        ];
        for (method, path, rpc, vars) in cases {
            match t.resolve(&method, path) {
                Resolution::Found(route, bound) => {
                    assert_eq!(route.rpc.name(), rpc, "{path}");
                    let vars: Vec<(String, String)> =
                        vars.into_iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
                    assert_eq!(bound, vars, "{path}");
                }
                other => panic!("{method} {path}: {other:?}"),
            }
        }
    }

    #[test]
    fn wrong_method_and_unknown_paths_are_told_apart() {
        let t = table();
        assert!(
            matches!(t.resolve(&Method::DELETE, "/v1/cadres/c1"), Resolution::WrongMethod(m) if m.contains(&Method::GET))
        );
        assert!(matches!(t.resolve(&Method::GET, "/v1/nothing"), Resolution::NotFound));
        assert!(matches!(t.resolve(&Method::GET, "/v1/posts/p1:end"), Resolution::WrongMethod(_)));
    }

    #[test]
    fn two_rpcs_on_the_same_route_refuse_to_start() {
        use crate::test_pool::{pool, rpc};
        let clash = [
            rpc("a.v1.Things", "GetThing", "get", "/v1/things/{id}"),
            rpc("b.v1.Others", "FindThing", "get", "/v1/things/{name=*}"),
        ];
        match RouteTable::from_pool(&pool(&clash)) {
            Err(GatewayError::Descriptor(message)) => {
                assert!(message.contains("a.v1.Things.GetThing"), "{message}");
                assert!(message.contains("b.v1.Others.FindThing"), "{message}");
            }
            other => panic!("expected a descriptor error, got {:?}", other.map(|t| t.routes().len())),
        }
        let same_template = [
            rpc("a.v1.Things", "ListThings", "get", "/v1/things"),
            rpc("a.v1.Things", "SearchThings", "get", "/v1/things"),
        ];
        assert!(RouteTable::from_pool(&pool(&same_template)).is_err());
        let same_verb = [
            rpc("a.v1.Things", "EndThing", "post", "/v1/things/{id}:end"),
            rpc("a.v1.Things", "CloseThing", "post", "/v1/things/{name}:end"),
        ];
        assert!(RouteTable::from_pool(&pool(&same_verb)).is_err());
    }

    #[test]
    fn routes_that_differ_in_method_literal_or_verb_coexist() {
        use crate::test_pool::{pool, rpc};
        let distinct = [
            rpc("a.v1.Things", "GetThing", "get", "/v1/things/{id}"),
            rpc("a.v1.Things", "DeleteThing", "delete", "/v1/things/{id}"),
            // A literal where the other has a variable: the literal is more specific.
            rpc("a.v1.Things", "GetDefaultThing", "get", "/v1/things/default"),
            rpc("a.v1.Things", "EndThing", "post", "/v1/things/{id}:end"),
            rpc("a.v1.Things", "StartThing", "post", "/v1/things/{id}:start"),
            rpc("a.v1.Things", "GetThingOwner", "get", "/v1/things/{id}/owner"),
        ];
        let table = RouteTable::from_pool(&pool(&distinct)).expect("no two routes clash");
        assert_eq!(table.routes().len(), distinct.len());
        match table.resolve(&Method::GET, "/v1/things/default") {
            Resolution::Found(route, _) => assert_eq!(route.rpc.name(), "GetDefaultThing"),
            other => panic!("{other:?}"),
        }
    }
}
