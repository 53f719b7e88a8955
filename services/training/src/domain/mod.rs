//! Training's rules, pure: no I/O, no SQL. What a teacher, a course and a menu must
//! hold; the order lifecycle and who may move it; the ranking of teachers for an order;
//! which orders have waited too long.

pub mod courses;
pub mod labels;
pub mod levels;
pub mod orders;
pub mod suggestions;
pub mod teachers;
pub mod waiting;
