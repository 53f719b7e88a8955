//! Who is calling and what they may touch: roles and the jurisdiction (a region
//! code prefix). Every read and write in every service goes through these checks.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::error::ApiError;
use crate::region_code::RegionCode;

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

    /// Administrators and integrations may change roster data in their jurisdiction.
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

    /// Whether PII may be shown unmasked to this caller.
    pub fn sees_pii(&self) -> bool {
        self.has(Role::Pii)
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
    fn roles_parse_from_their_names() {
        assert_eq!("county_admin".parse::<Role>(), Ok(Role::CountyAdmin));
        assert!("root".parse::<Role>().unwrap_err().contains("unknown role"));
    }
}
