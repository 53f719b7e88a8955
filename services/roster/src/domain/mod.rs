//! Pure roster rules: validation of cadres, regions and dates, the term calendar,
//! who may hold which post when, vacancies, one-shoulder villages, and structure
//! analytics. No I/O: the api layer loads through the store, decides here, and saves
//! through the store.

pub mod alerts;
pub mod cadre;
pub mod dates;
pub mod exits;
pub mod fields;
pub mod import;
pub mod mentoring;
pub mod posts;
pub mod region;
pub mod reserves;
pub mod staffing;
pub mod structure;
pub mod term_calendar;
pub mod terms;
pub mod work_teams;
