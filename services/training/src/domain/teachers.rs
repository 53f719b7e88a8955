//! What a teacher record must hold: a roster cadre (name from the roster) or an outside
//! expert (name given), what they teach, the region that keeps them and the regions
//! they serve (which must lie under it).

use cadre_kit::RegionCode;
use cadre_kit::fields::{self, FieldError};
use cadre_proto::training::v1 as pb;

use super::levels;
use crate::error::TrainingError;

pub const MAX_SERVED: usize = 50;

/// A teacher's fields, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct TeacherFields {
    pub kind: pb::TeacherKind,
    /// Empty for a cadre until the roster supplies it.
    pub name: String,
    pub cadre_id: String,
    pub affiliation: String,
    pub expertise: Vec<pb::Topic>,
    pub home_region: RegionCode,
    pub serves: Vec<RegionCode>,
    pub active: bool,
}

/// Validates a new teacher; `prefix` names the message ("teacher").
pub fn validate_new(prefix: &str, t: &pb::Teacher) -> Result<TeacherFields, TrainingError> {
    let f = |name: &str| format!("{prefix}.{name}");
    let kind: pb::TeacherKind = fields::required_enum(&f("kind"), t.kind, "teacher kind")?;
    let (name, cadre_id) = match kind {
        pb::TeacherKind::Cadre => {
            (String::new(), fields::required_id(&f("cadre_id"), &t.cadre_id)?.to_string())
        }
        _ => {
            if !t.cadre_id.trim().is_empty() {
                return Err(TrainingError::invalid(
                    &f("cadre_id"),
                    "only a TEACHER_KIND_CADRE teacher links a cadre",
                ));
            }
            (fields::person_name(&f("name"), &t.name)?, String::new())
        }
    };
    let affiliation = fields::text(&f("affiliation"), &t.affiliation, false, 100)?;
    let expertise = fields::enum_set(&f("expertise"), &t.expertise, "topic", true)?;
    let home_region = fields::region(&f("home_region_code"), &t.home_region_code)?;
    levels::keeper(&f("home_region_code"), &home_region)?;
    let serves = served(&f("serves_region_codes"), &t.serves_region_codes, &home_region)?;
    Ok(TeacherFields { kind, name, cadre_id, affiliation, expertise, home_region, serves, active: true })
}

/// The regions a teacher serves: counties or townships under the home region, no
/// repeats; none given means the home region.
pub fn served(field: &str, codes: &[String], home: &RegionCode) -> Result<Vec<RegionCode>, FieldError> {
    if codes.len() > MAX_SERVED {
        return Err(FieldError::new(field, format!("at most {MAX_SERVED} regions, got {}", codes.len())));
    }
    let mut out: Vec<RegionCode> = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let region = fields::region(&at, code)?;
        if !home.covers(&region) {
            return Err(FieldError::new(at, format!("{region} is not under the home region {home}")));
        }
        if region.level() == cadre_kit::RegionLevel::Village {
            return Err(FieldError::new(at, format!("{region} is a village: name its township or county")));
        }
        if !out.contains(&region) {
            out.push(region);
        }
    }
    if out.is_empty() {
        out.push(home.clone());
    }
    out.sort();
    Ok(out)
}

/// `current` with the fields named in `paths` taken from `patch`.
pub fn apply_update(
    mut current: TeacherFields,
    patch: &pb::Teacher,
    paths: &[String],
) -> Result<TeacherFields, TrainingError> {
    for path in paths {
        match path.as_str() {
            "name" if current.kind == pb::TeacherKind::Cadre => {
                return Err(TrainingError::invalid("update_mask", "a cadre teacher's name is the roster's"));
            }
            "name" => current.name = fields::person_name("teacher.name", &patch.name)?,
            "affiliation" => {
                current.affiliation = fields::text("teacher.affiliation", &patch.affiliation, false, 100)?
            }
            "expertise" => {
                current.expertise = fields::enum_set("teacher.expertise", &patch.expertise, "topic", true)?
            }
            "serves_region_codes" => {
                current.serves =
                    served("teacher.serves_region_codes", &patch.serves_region_codes, &current.home_region)?
            }
            "active" => current.active = patch.active,
            other => {
                return Err(TrainingError::invalid(
                    "update_mask",
                    format!(
                        "{:?} cannot be changed (name, affiliation, expertise, serves_region_codes, active)",
                        cadre_kit::text::bounded(other, 40)
                    ),
                ));
            }
        }
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expert() -> pb::Teacher {
        pb::Teacher {
            kind: pb::TeacherKind::Expert as i32,
            name: "王立新".into(),
            affiliation: "奈曼旗农业农村局".into(),
            expertise: vec![pb::Topic::LandTransfer as i32, pb::Topic::LandTransfer as i32],
            home_region_code: "150525000000".into(),
            ..Default::default()
        }
    }

    #[test]
    fn an_expert_serves_the_home_county_unless_told_otherwise() {
        let t = validate_new("teacher", &expert()).unwrap();
        assert_eq!(t.expertise, [pb::Topic::LandTransfer]);
        assert_eq!(t.serves, [RegionCode::parse("150525000000").unwrap()]);
    }

    #[test]
    fn bad_teachers_are_refused_naming_the_field() {
        let cadre_without_id = pb::Teacher { kind: pb::TeacherKind::Cadre as i32, ..expert() };
        let err = validate_new("teacher", &cadre_without_id).unwrap_err().to_string();
        assert!(err.starts_with("teacher.cadre_id:"), "{err}");
        let nothing_taught = pb::Teacher { expertise: vec![], ..expert() };
        assert!(
            validate_new("teacher", &nothing_taught)
                .unwrap_err()
                .to_string()
                .starts_with("teacher.expertise:")
        );
        let outside = pb::Teacher { serves_region_codes: vec!["150526100000".into()], ..expert() };
        let err = validate_new("teacher", &outside).unwrap_err().to_string();
        assert!(err.starts_with("teacher.serves_region_codes[0]:") && err.contains("not under"), "{err}");
        let township_pool = pb::Teacher { home_region_code: "150525100000".into(), ..expert() };
        assert!(
            validate_new("teacher", &township_pool)
                .unwrap_err()
                .to_string()
                .starts_with("teacher.home_region_code:")
        );
    }

    #[test]
    fn a_cadre_teachers_name_cannot_be_edited_here() {
        let cadre = TeacherFields {
            kind: pb::TeacherKind::Cadre,
            name: "巴特尔".into(),
            cadre_id: "c1".into(),
            ..validate_new("teacher", &expert()).unwrap()
        };
        let err = apply_update(cadre, &expert(), &["name".into()]).unwrap_err();
        assert!(err.to_string().contains("roster"), "{err}");
    }
}
