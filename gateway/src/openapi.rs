//! The OpenAPI 3.0 document of the REST API, generated from the same descriptors and
//! HTTP rules the gateway transcodes with, so the two never disagree.

use std::collections::{BTreeMap, BTreeSet};

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value as Json, json};

use crate::routes::RouteTable;
use crate::upstream::part_of;

/// The suite's version: `info.version` of the document. Each operation carries its own
/// API version (the package's `v1`) and owning service beside it.
pub const SUITE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The whole document.
pub fn document(routes: &RouteTable) -> Json {
    let mut paths: BTreeMap<String, Map<String, Json>> = BTreeMap::new();
    let mut schemas = Schemas::default();
    for route in routes.routes() {
        let rpc = &route.rpc;
        let input = rpc.input();
        let bound: BTreeSet<&str> = route.template.variables().collect();
        let mut parameters: Vec<Json> = route
            .template
            .variables()
            .map(|var| {
                let field = crate::transcode::resolve(&input, var);
                let schema = field
                    .as_ref()
                    .and_then(|f| f.last())
                    .map_or_else(|| json!({"type": "string"}), |f| schemas.field(f));
                json!({"name": var, "in": "path", "required": true, "schema": schema})
            })
            .collect();
        if route.body != "*" {
            for field in input.fields() {
                let top_level_bound = bound.iter().any(|b| b.split('.').next() == Some(field.name()));
                if top_level_bound || field.name() == route.body || !query_capable(&field) {
                    continue;
                }
                let mut param =
                    json!({"name": field.json_name(), "in": "query", "schema": schemas.field(&field)});
                if field.is_list() {
                    param["explode"] = json!(true);
                }
                parameters.push(param);
            }
        }
        let service = rpc.parent_service();
        let package = service.package_name();
        let mut operation = json!({
            // The full name: two services may both have a `Get`, and client generators
            // need operation IDs unique across the whole document.
            "operationId": rpc.full_name(),
            "summary": rpc.full_name(),
            "tags": [service.name()],
            // Who owns it (the part that serves it: its team, its CHANGELOG.md) and which
            // version of its API it belongs to: a break comes as a new version beside it.
            "x-cadre-owner": part_of(service.full_name()).unwrap_or_default(),
            "x-cadre-package": package,
            "x-cadre-api-version": package.rsplit('.').next().unwrap_or_default(),
            "parameters": parameters,
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": schemas.message_ref(&rpc.output())}}
                },
                "default": {
                    "description": "Error",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
                }
            }
        });
        if !route.body.is_empty() {
            let schema = if route.body == "*" {
                schemas.message_ref(&input)
            } else {
                input.get_field_by_name(&route.body).map_or_else(|| json!({}), |f| schemas.field(&f))
            };
            operation["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": schema}}});
        }
        paths
            .entry(route.template.as_str().to_string())
            .or_default()
            .insert(route.method.as_str().to_ascii_lowercase(), operation);
    }
    // Per owning service, the API versions the document serves: {"roster": ["v1"]}.
    let mut api_versions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for route in routes.routes() {
        let service = route.rpc.parent_service();
        if let Some(owner) = part_of(service.full_name()) {
            let version = service.package_name().rsplit('.').next().unwrap_or_default();
            api_versions.entry(owner.to_string()).or_default().insert(version.to_string());
        }
    }
    let mut components = schemas.finish();
    components.insert(
        "Error".into(),
        json!({
            "type": "object",
            "properties": {
                "code": {"type": "string", "example": "INVALID_ARGUMENT"},
                "message": {"type": "string", "example": "cadre.id_number: bad checksum"},
                "status": {"type": "integer", "example": 400}
            }
        }),
    );
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Cadre suite REST API",
            "version": SUITE_VERSION,
            "description": "Transcoded from the gRPC API; proto3 canonical JSON (lowerCamelCase names, 64-bit integers as strings). \
                Each operation names its owning service (`x-cadre-owner`, whose CHANGELOG.md records its changes) and \
                API version (`x-cadre-api-version`, from its package `x-cadre-package`): within a version, fields, \
                routes and enum values are only ever added (a test compares every build with the released API); \
                a breaking change comes as a new version beside the old one.",
            "x-cadre-api-versions": api_versions,
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
        },
        "security": [{"bearerAuth": []}]
    })
}

/// Scalars, enums, well-known types and repeated ones of those fit in a query string.
fn query_capable(field: &FieldDescriptor) -> bool {
    !field.is_map() && !matches!(field.kind(), Kind::Message(m) if m.package_name() != "google.protobuf")
}

/// Component schemas of every message reached, named by full name.
#[derive(Default)]
struct Schemas {
    done: BTreeMap<String, Json>,
    pending: Vec<MessageDescriptor>,
}

impl Schemas {
    fn message_ref(&mut self, message: &MessageDescriptor) -> Json {
        if let Some(wkt) = well_known(message) {
            return wkt;
        }
        if !self.done.contains_key(message.full_name()) {
            self.done.insert(message.full_name().to_string(), Json::Null);
            self.pending.push(message.clone());
        }
        json!({"$ref": format!("#/components/schemas/{}", message.full_name())})
    }

    fn field(&mut self, field: &FieldDescriptor) -> Json {
        if field.is_map() {
            let value = match field.kind() {
                Kind::Message(entry) => entry.map_entry_value_field(),
                _ => return json!({"type": "object"}),
            };
            return json!({"type": "object", "additionalProperties": self.singular(&value)});
        }
        let item = self.singular(field);
        if field.is_list() { json!({"type": "array", "items": item}) } else { item }
    }

    fn singular(&mut self, field: &FieldDescriptor) -> Json {
        scalar(&field.kind()).unwrap_or_else(|| match field.kind() {
            Kind::Message(m) => self.message_ref(&m),
            _ => json!({}),
        })
    }

    fn finish(mut self) -> Map<String, Json> {
        while let Some(message) = self.pending.pop() {
            let mut properties = Map::new();
            for field in message.fields() {
                properties.insert(field.json_name().to_string(), self.field(&field));
            }
            self.done
                .insert(message.full_name().to_string(), json!({"type": "object", "properties": properties}));
        }
        self.done.into_iter().collect()
    }
}

fn scalar(kind: &Kind) -> Option<Json> {
    Some(match kind {
        Kind::Double => json!({"type": "number", "format": "double"}),
        Kind::Float => json!({"type": "number", "format": "float"}),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => json!({"type": "integer", "format": "int32"}),
        Kind::Uint32 | Kind::Fixed32 => json!({"type": "integer", "format": "int64", "minimum": 0}),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => json!({"type": "string", "format": "int64"}),
        Kind::Uint64 | Kind::Fixed64 => json!({"type": "string", "format": "uint64"}),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::String => json!({"type": "string"}),
        Kind::Bytes => json!({"type": "string", "format": "byte"}),
        Kind::Enum(e) => {
            json!({"type": "string", "enum": e.values().map(|v| v.name().to_string()).collect::<Vec<_>>()})
        }
        Kind::Message(_) => return None,
    })
}

/// The JSON form of `google.protobuf` types.
fn well_known(message: &MessageDescriptor) -> Option<Json> {
    if message.package_name() != "google.protobuf" {
        return None;
    }
    Some(match message.name() {
        "Timestamp" => json!({"type": "string", "format": "date-time"}),
        "Duration" => json!({"type": "string", "example": "1.5s"}),
        "FieldMask" => json!({"type": "string", "example": "name,phone"}),
        "Empty" | "Struct" | "Any" => json!({"type": "object"}),
        "ListValue" => json!({"type": "array", "items": {}}),
        "Value" => json!({}),
        _ => message.get_field_by_name("value").and_then(|f| scalar(&f.kind())).unwrap_or_else(|| json!({})),
    })
}

#[cfg(test)]
mod tests {
    use prost_reflect::DescriptorPool;

    use super::*;

    fn doc() -> (DescriptorPool, Json) {
        let pool = DescriptorPool::decode(cadre_proto::FILE_DESCRIPTOR_SET).expect("descriptors");
        let routes = RouteTable::from_pool(&pool).expect("routes");
        (pool.clone(), document(&routes))
    }

    #[test]
    fn every_roster_rpc_has_an_operation() {
        let (pool, doc) = doc();
        let mut operations = BTreeSet::new();
        for path in doc["paths"].as_object().unwrap().values() {
            for op in path.as_object().unwrap().values() {
                operations.insert(op["summary"].as_str().unwrap().to_string());
            }
        }
        let mut count = 0;
        for service in pool.services().filter(|s| s.package_name() == "cadre.roster.v1") {
            // Streaming RPCs are gRPC only.
            for rpc in service.methods().filter(|m| !m.is_client_streaming() && !m.is_server_streaming()) {
                count += 1;
                assert!(operations.contains(rpc.full_name()), "{} missing", rpc.full_name());
            }
        }
        assert!(count >= 15, "{count}");
    }

    #[test]
    fn parameters_bodies_and_schemas() {
        let (_, doc) = doc();
        let get = &doc["paths"]["/v1/cadres/{id}"]["get"];
        assert_eq!(get["parameters"][0]["in"], "path");
        assert_eq!(
            get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/cadre.roster.v1.Cadre"
        );
        let list = &doc["paths"]["/v1/cadres"]["get"]["parameters"];
        let names: Vec<&str> = list.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"pageSize") && names.contains(&"tags"), "{names:?}");
        let create = &doc["paths"]["/v1/cadres"]["post"];
        assert_eq!(
            create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/cadre.roster.v1.Cadre"
        );
        let cadre = &doc["components"]["schemas"]["cadre.roster.v1.Cadre"]["properties"];
        assert_eq!(cadre["revision"]["type"], "string");
        assert_eq!(cadre["createdAt"]["format"], "date-time");
        assert_eq!(cadre["tags"]["type"], "array");
        assert!(cadre["education"]["enum"].as_array().unwrap().contains(&json!("EDUCATION_COLLEGE")));
        assert!(doc["components"]["schemas"]["cadre.roster.v1.Post"].is_object());
        assert!(doc["components"]["schemas"].as_object().unwrap().values().all(|s| !s.is_null()));
        let update = &doc["paths"]["/v1/cadres/{cadre.id}"]["patch"];
        assert_eq!(update["parameters"].as_array().unwrap().len(), 1);
        assert_eq!(doc["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer");
    }

    #[test]
    fn the_document_carries_versions_and_owners() {
        let (_, doc) = doc();
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(doc["info"]["x-cadre-api-versions"]["roster"], json!(["v1"]));
        let get = &doc["paths"]["/v1/cadres/{id}"]["get"];
        assert_eq!(get["x-cadre-owner"], "roster");
        assert_eq!(get["x-cadre-package"], "cadre.roster.v1");
        assert_eq!(get["x-cadre-api-version"], "v1");
        for path in doc["paths"].as_object().unwrap().values() {
            for op in path.as_object().unwrap().values() {
                assert!(!op["x-cadre-owner"].as_str().unwrap().is_empty(), "{}", op["operationId"]);
            }
        }
    }

    fn operation_ids(doc: &Json) -> Vec<String> {
        let paths = doc["paths"].as_object().expect("paths");
        paths
            .values()
            .flat_map(|ops| ops.as_object().expect("operations").values())
            .map(|op| op["operationId"].as_str().expect("operationId").to_string())
            .collect()
    }

    #[test]
    fn operation_ids_are_unique_across_services() {
        use crate::test_pool::{pool, rpc};
        let rpcs = [
            rpc("a.v1.Things", "Get", "get", "/v1/things/{id}"),
            rpc("b.v1.Widgets", "Get", "get", "/v1/widgets/{id}"),
            rpc("b.v1.Widgets", "List", "get", "/v1/widgets"),
        ];
        let ids = operation_ids(&document(&RouteTable::from_pool(&pool(&rpcs)).expect("routes")));
        let unique: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{ids:?}");
        assert!(ids.contains(&"a.v1.Things.Get".to_string()), "{ids:?}");

        let (_, doc) = doc();
        let ids = operation_ids(&doc);
        let unique: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{ids:?}");
    }
}
