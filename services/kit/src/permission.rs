//! Who may call which RPC, deny by default. Every RPC declares the permission it needs
//! in its proto (`option (cadre.api.v1.permission) = PERMISSION_READ;`); the kit reads
//! the declarations from the descriptor set once and checks each call against them
//! before any handler runs. This file holds the one table of which roles grant which
//! permission. Jurisdiction is checked record by record in the handlers.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use cadre_proto::api::v1::Permission;
use prost_reflect::{DescriptorPool, Value};

use crate::error::ApiError;
use crate::principal::{Principal, Role};

/// Whether `role` grants `permission`. `pii` grants nothing: it only widens what
/// another role may read.
pub fn grants(role: Role, permission: Permission) -> bool {
    use Role as R;
    let admin = matches!(role, R::ProvinceAdmin | R::CityAdmin | R::CountyAdmin | R::TownshipAdmin);
    match permission {
        Permission::Unspecified => false,
        Permission::ReferenceRead => admin || matches!(role, R::ScoringUnit | R::Auditor | R::Integration),
        Permission::Read => admin || matches!(role, R::Auditor | R::Integration),
        Permission::Write => admin || role == R::Integration,
        Permission::AuditRead => admin || role == R::Auditor,
        Permission::AuditVerify => matches!(role, R::Auditor | R::ProvinceAdmin),
        // Scoring units score (each only its own unit's sheet: the handler checks the
        // binding); administrators enter a paper sheet on a unit's behalf.
        Permission::Score => admin || role == R::ScoringUnit,
    }
}

/// The roles that grant `permission`, for messages.
pub fn roles_granting(permission: Permission) -> Vec<&'static str> {
    Role::ALL.into_iter().filter(|r| grants(*r, permission)).map(Role::as_str).collect()
}

/// What the kit knows of one RPC from its declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcInfo {
    /// `cadre.roster.v1.CadreService/GetCadre`: audit actions, idempotency records.
    pub name: String,
    /// `cadre.roster.v1.CadreService`
    pub service: String,
    /// `GetCadre`
    pub method: String,
    pub permission: Permission,
    /// Declared `NO_SIDE_EFFECTS` or `IDEMPOTENT`: safe to retry.
    pub idempotent: bool,
    pub client_streaming: bool,
    pub server_streaming: bool,
}

impl RpcInfo {
    /// The HTTP/2 path of the RPC: `/cadre.roster.v1.CadreService/GetCadre`.
    pub fn path(&self) -> String {
        format!("/{}", self.name)
    }
}

/// Every RPC of the suite's API, by path.
#[derive(Debug, Default)]
pub struct Rpcs {
    by_path: HashMap<String, Arc<RpcInfo>>,
}

impl Rpcs {
    /// The RPCs of the suite's own descriptor set, read once per process.
    pub fn suite() -> &'static Rpcs {
        static RPCS: OnceLock<Rpcs> = OnceLock::new();
        RPCS.get_or_init(|| {
            Rpcs::from_descriptors(cadre_proto::FILE_DESCRIPTOR_SET)
                .expect("the suite's own descriptor set decodes (checked by the kit's tests)")
        })
    }

    /// Reads every method of every service in an encoded `FileDescriptorSet`.
    pub fn from_descriptors(bytes: &[u8]) -> Result<Self, String> {
        let pool = DescriptorPool::decode(bytes).map_err(|e| e.to_string())?;
        let extension = pool.get_extension_by_name("cadre.api.v1.permission");
        let mut by_path = HashMap::new();
        for service in pool.services() {
            for rpc in service.methods() {
                let options = rpc.options();
                let permission = extension
                    .as_ref()
                    .filter(|ext| options.has_extension(ext))
                    .and_then(|ext| match options.get_extension(ext).as_ref() {
                        Value::EnumNumber(n) => Permission::try_from(*n).ok(),
                        _ => None,
                    })
                    .unwrap_or(Permission::Unspecified);
                // google.protobuf.MethodOptions.IdempotencyLevel: 1 NO_SIDE_EFFECTS, 2 IDEMPOTENT.
                let idempotent = matches!(
                    options.get_field_by_name("idempotency_level").as_deref(),
                    Some(Value::EnumNumber(1 | 2))
                );
                let info = RpcInfo {
                    name: format!("{}/{}", service.full_name(), rpc.name()),
                    service: service.full_name().to_string(),
                    method: rpc.name().to_string(),
                    permission,
                    idempotent,
                    client_streaming: rpc.is_client_streaming(),
                    server_streaming: rpc.is_server_streaming(),
                };
                by_path.insert(info.path(), Arc::new(info));
            }
        }
        Ok(Self { by_path })
    }

    /// The RPC at an HTTP/2 path, if the suite declares one.
    pub fn get(&self, path: &str) -> Option<&Arc<RpcInfo>> {
        self.by_path.get(path)
    }

    /// Every declared RPC of services whose full name starts with `prefix`
    /// (`cadre.roster.` for one part), sorted by name.
    pub fn under(&self, prefix: &str) -> Vec<Arc<RpcInfo>> {
        let mut out: Vec<_> =
            self.by_path.values().filter(|r| r.service.starts_with(prefix)).cloned().collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

/// Whether `principal` may call `rpc` at all (its records' jurisdiction is the
/// handler's to check). The message names the RPC, what it needs and what the caller has.
pub fn check(principal: &Principal, rpc: &RpcInfo) -> Result<(), ApiError> {
    if principal.roles.iter().any(|r| grants(*r, rpc.permission)) {
        return Ok(());
    }
    if rpc.permission == Permission::Unspecified {
        return Err(ApiError::permission_denied(format!(
            "{} declares no permission, so nobody may call it",
            rpc.name
        )));
    }
    let has: Vec<&str> = principal.roles.iter().map(|r| r.as_str()).collect();
    Err(ApiError::permission_denied(format!(
        "{} needs permission {} (roles: {}); the token has {}",
        rpc.name,
        rpc.permission.as_str_name(),
        roles_granting(rpc.permission).join(", "),
        has.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region_code::RegionCode;

    fn principal(roles: &[Role], region: &str) -> Principal {
        Principal {
            subject: "t".into(),
            roles: roles.iter().copied().collect(),
            jurisdiction: RegionCode::parse(region).unwrap(),
        }
    }

    #[test]
    fn every_rpc_of_the_suite_declares_a_permission() {
        let rpcs = Rpcs::suite().under("cadre.");
        assert!(rpcs.len() >= 50, "{} RPCs", rpcs.len());
        let undeclared: Vec<_> =
            rpcs.iter().filter(|r| r.permission == Permission::Unspecified).map(|r| r.name.clone()).collect();
        assert!(undeclared.is_empty(), "RPCs without a permission: {undeclared:?}");
    }

    #[test]
    fn declarations_are_read_with_their_idempotency() {
        let get = Rpcs::suite().get("/cadre.roster.v1.CadreService/GetCadre").unwrap();
        assert_eq!((get.permission, get.idempotent), (Permission::Read, true));
        let create = Rpcs::suite().get("/cadre.roster.v1.CadreService/CreateCadre").unwrap();
        assert_eq!((create.permission, create.idempotent), (Permission::Write, false));
        assert!(Rpcs::suite().get("/cadre.roster.v1.CadreService/Nothing").is_none());
    }

    #[test]
    fn readers_do_not_write_and_scoring_units_read_only_reference_data() {
        let auditor = principal(&[Role::Auditor], "150000000000");
        let write = RpcInfo {
            name: "x.S/M".into(),
            service: "x.S".into(),
            method: "M".into(),
            permission: Permission::Write,
            idempotent: false,
            client_streaming: false,
            server_streaming: false,
        };
        let err = check(&auditor, &write).unwrap_err();
        assert!(err.message.contains("PERMISSION_WRITE") && err.message.contains("auditor"), "{err}");
        let unit = principal(&[Role::ScoringUnit], "150525000000");
        assert!(check(&unit, &RpcInfo { permission: Permission::Read, ..write.clone() }).is_err());
        assert!(check(&unit, &RpcInfo { permission: Permission::ReferenceRead, ..write.clone() }).is_ok());
        assert!(check(&unit, &RpcInfo { permission: Permission::Score, ..write.clone() }).is_ok());
        assert!(check(&auditor, &RpcInfo { permission: Permission::Score, ..write.clone() }).is_err());
        let integration = principal(&[Role::Integration], "150000000000");
        assert!(check(&integration, &RpcInfo { permission: Permission::Score, ..write.clone() }).is_err());
        let undeclared = RpcInfo { permission: Permission::Unspecified, ..write };
        let err = check(&principal(&[Role::ProvinceAdmin], "150000000000"), &undeclared).unwrap_err();
        assert!(err.message.contains("declares no permission"), "{err}");
    }
}
