//! Training's rules, pure: no I/O, no SQL. What a teacher, a course and a menu must
//! hold; the order lifecycle and who may move it; the ranking of teachers for an order;
//! which orders have waited too long; sessions, their sittings and clashes; enrolment
//! and the waitlist; sign-in codes and when sign-in is open; completion, training
//! rules, feedback aggregates, certificate numbers and coverage.

pub mod certificates;
pub mod completion;
pub mod courses;
pub mod coverage;
pub mod enrolment;
pub mod feedback;
pub mod forums;
pub mod labels;
pub mod levels;
pub mod orders;
pub mod programmes;
pub mod rules;
pub mod sessions;
pub mod sign_in;
pub mod suggestions;
pub mod teachers;
pub mod waiting;
