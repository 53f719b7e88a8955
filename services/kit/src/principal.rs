//! Who is calling and what they may touch: roles and the jurisdiction (a region
//! code prefix). Every read and write in every service goes through these checks.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::error::ApiError;
use crate::region_code::{RegionCode, RegionLevel};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    ProvinceAdmin,
    CityAdmin,
    CountyAdmin,
    TownshipAdmin,
    /// Scores only the indicators assigned to it (assessment).
    ScoringUnit,
    /// Reads everything in its jurisdiction, writes nothing.
    Auditor,
    /// A machine client (provincial systems).
    Integration,
    /// May see PII (ID numbers, phones) unmasked; each such read is audited.
    Pii,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::ProvinceAdmin,
        Role::CityAdmin,
        Role::CountyAdmin,
        Role::TownshipAdmin,
        Role::ScoringUnit,
        Role::Auditor,
        Role::Integration,
        Role::Pii,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::ProvinceAdmin => "province_admin",
            Role::CityAdmin => "city_admin",
            Role::CountyAdmin => "county_admin",
            Role::TownshipAdmin => "township_admin",
            Role::ScoringUnit => "scoring_unit",
            Role::Auditor => "auditor",
            Role::Integration => "integration",
            Role::Pii => "pii",
        }
    }

    /// The levels of jurisdiction this role is valid at: an administrator only at its
    /// own level (a township administrator with a 9-digit jurisdiction), the other
    /// roles at any level from province to township. No role is valid for one village.
    pub fn valid_at(self, level: RegionLevel) -> bool {
        use RegionLevel as L;
        match self {
            Role::ProvinceAdmin => level == L::Province,
            Role::CityAdmin => level == L::City,
            Role::CountyAdmin => level == L::County,
            Role::TownshipAdmin => level == L::Township,
            Role::ScoringUnit | Role::Auditor | Role::Integration | Role::Pii => level != L::Village,
        }
    }

    /// Administrators and integrations may change data in their jurisdiction.
    pub fn can_write(self) -> bool {
        matches!(
            self,
            Role::ProvinceAdmin
                | Role::CityAdmin
                | Role::CountyAdmin
                | Role::TownshipAdmin
                | Role::Integration
        )
    }
}

impl Role {
    fn level_hint(self) -> &'static str {
        match self {
            Role::ProvinceAdmin => "it needs a province code such as 150000000000",
            Role::CityAdmin => "it needs a city code such as 150500000000",
            Role::CountyAdmin => "it needs a county code such as 150525000000",
            Role::TownshipAdmin => "it needs a township code such as 150525100000",
            _ => "it needs a province, city, county or township code",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| {
            let known: Vec<_> = Role::ALL.iter().map(|r| r.as_str()).collect();
            format!("unknown role {s:?} (known: {})", known.join(", "))
        })
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub roles: BTreeSet<Role>,
    pub jurisdiction: RegionCode,
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether PII may be shown unmasked to this caller: `pii` widens what another
    /// role may read and grants nothing alone.
    pub fn sees_pii(&self) -> bool {
        self.has(Role::Pii) && self.roles.iter().any(|r| *r != Role::Pii)
    }

    /// Whether the roles fit the jurisdiction, and why not: every role must be valid at
    /// the jurisdiction's level, and `pii` needs another role beside it.
    pub fn check_roles(&self) -> Result<(), String> {
        if self.roles.is_empty() {
            return Err("the token carries no role".into());
        }
        if self.roles.iter().all(|r| *r == Role::Pii) {
            return Err("role pii only widens what another role may read; the token has no other role".into());
        }
        let level = self.jurisdiction.level();
        for role in &self.roles {
            if !role.valid_at(level) {
                return Err(format!(
                    "role {role} is not valid for a {} jurisdiction ({}): {}",
                    level.name(),
                    self.jurisdiction,
                    role.level_hint()
                ));
            }
        }
        Ok(())
    }

    pub fn covers(&self, region: &RegionCode) -> bool {
        self.jurisdiction.covers(region)
    }

    /// Reads of anything under `region`.
    pub fn ensure_can_read(&self, region: &RegionCode) -> Result<(), ApiError> {
        if self.covers(region) {
            Ok(())
        } else {
            Err(ApiError::permission_denied(format!(
                "region {region} is outside your jurisdiction {}",
                self.jurisdiction
            )))
        }
    }

    /// Reads of a stored record by its region code string.
    pub fn ensure_can_read_code(&self, code: &str) -> Result<(), ApiError> {
        if self.jurisdiction.covers_str(code) {
            Ok(())
        } else {
            Err(ApiError::permission_denied(format!(
                "region {code} is outside your jurisdiction {}",
                self.jurisdiction
            )))
        }
    }

    /// Changes to anything under `region`: jurisdiction plus a role that writes.
    pub fn ensure_can_write(&self, region: &RegionCode) -> Result<(), ApiError> {
        if !self.roles.iter().any(|r| r.can_write()) {
            return Err(ApiError::permission_denied(format!(
                "{} may not change data (roles: {})",
                self.subject,
                self.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        self.ensure_can_read(region)
    }

    /// The scope of a list call: the requested region if given (and allowed), else the
    /// caller's whole jurisdiction. `field` names the request field for errors.
    pub fn scope(&self, field: &str, requested: &str) -> Result<RegionCode, ApiError> {
        if requested.trim().is_empty() {
            return Ok(self.jurisdiction.clone());
        }
        let region = RegionCode::parse(requested).map_err(|e| ApiError::invalid(field, e))?;
        self.ensure_can_read(&region)?;
        Ok(region)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(roles: &[Role], region: &str) -> Principal {
        Principal {
            subject: "t".into(),
            roles: roles.iter().copied().collect(),
            jurisdiction: RegionCode::parse(region).unwrap(),
        }
    }

    #[test]
    fn a_county_admin_is_denied_the_next_county() {
        let p = principal(&[Role::CountyAdmin], "150523000000");
        assert!(p.ensure_can_write(&RegionCode::parse("150523101203").unwrap()).is_ok());
        let err = p.ensure_can_read(&RegionCode::parse("150524101203").unwrap()).unwrap_err();
        assert_eq!(err.code, crate::error::ErrorCode::PermissionDenied);
    }

    #[test]
    fn an_auditor_reads_but_never_writes() {
        let p = principal(&[Role::Auditor], "150000000000");
        let village = RegionCode::parse("150523101203").unwrap();
        assert!(p.ensure_can_read(&village).is_ok());
        assert!(p.ensure_can_write(&village).is_err());
    }

    #[test]
    fn administrators_are_valid_only_at_their_own_level() {
        assert!(principal(&[Role::TownshipAdmin], "150525100000").check_roles().is_ok());
        let err = principal(&[Role::TownshipAdmin], "150000000000").check_roles().unwrap_err();
        assert!(err.contains("township_admin") && err.contains("province"), "{err}");
        assert!(principal(&[Role::CountyAdmin, Role::CityAdmin], "150525000000").check_roles().is_err());
        assert!(principal(&[Role::Auditor], "150525100000").check_roles().is_ok());
        assert!(principal(&[Role::Integration], "150525100201").check_roles().is_err());
    }

    #[test]
    fn pii_alone_or_no_role_grants_nothing() {
        assert!(principal(&[], "150525000000").check_roles().unwrap_err().contains("no role"));
        let alone = principal(&[Role::Pii], "150525000000");
        assert!(alone.check_roles().unwrap_err().contains("pii"));
        assert!(!alone.sees_pii());
        assert!(principal(&[Role::CountyAdmin, Role::Pii], "150525000000").sees_pii());
    }

    #[test]
    fn roles_parse_from_their_names() {
        assert_eq!("county_admin".parse::<Role>(), Ok(Role::CountyAdmin));
        assert!("root".parse::<Role>().unwrap_err().contains("unknown role"));
    }
}
