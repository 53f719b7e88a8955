//! The roster import template (one row per cadre, Chinese headers as the county
//! offices write them) and the checks every row must pass before anything is stored:
//! cell parsing, post names, terms and dates, duplicates and seat conflicts within
//! the file, and jurisdiction. Pure: the store-side checks feed in their findings.

use std::collections::{BTreeMap, HashMap};

use cadre_kit::RegionCode;
use cadre_kit::resident_id::age_on;
use cadre_proto::roster::v1 as pb;
use chrono::NaiveDate;

use crate::domain::cadre::{self, CadreFields};
use crate::domain::posts;
use crate::domain::term_calendar::TermCalendar;

/// A column of the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    Name,
    IdNumber,
    Ethnicity,
    Phone,
    PoliticalStatus,
    Education,
    FullTime,
    Village,
    Posts,
    Term,
    StartDate,
    Background,
}

impl Column {
    /// In template order (also the export's order).
    pub const ALL: [Column; 12] = [
        Column::Name,
        Column::IdNumber,
        Column::Ethnicity,
        Column::Phone,
        Column::PoliticalStatus,
        Column::Education,
        Column::FullTime,
        Column::Village,
        Column::Posts,
        Column::Term,
        Column::StartDate,
        Column::Background,
    ];

    pub fn header(self) -> &'static str {
        match self {
            Column::Name => "姓名",
            Column::IdNumber => "公民身份号码",
            Column::Ethnicity => "民族",
            Column::Phone => "联系电话",
            Column::PoliticalStatus => "政治面貌",
            Column::Education => "学历",
            Column::FullTime => "全日制",
            Column::Village => "所在村(区划代码)",
            Column::Posts => "职务",
            Column::Term => "届次",
            Column::StartDate => "任职时间",
            Column::Background => "背景",
        }
    }

    /// Other spellings offices use for the same header.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Column::IdNumber => &["身份证号", "身份证号码"],
            Column::Phone => &["手机号码", "电话"],
            Column::Village => &["所在村（区划代码）", "区划代码", "所在村"],
            Column::FullTime => &["是否全日制"],
            _ => &[],
        }
    }

    /// A file without these cannot be imported.
    pub fn required(self) -> bool {
        matches!(
            self,
            Column::Name | Column::IdNumber | Column::PoliticalStatus | Column::Education | Column::Village
        )
    }
}

/// A problem with the file as a whole: the request is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

/// Where each template column sits in the file.
#[derive(Debug, Clone)]
pub struct Layout {
    positions: HashMap<Column, usize>,
}

/// Matches headers by name, in any order; an unknown or repeated header, or a
/// missing required one, is refused naming it.
pub fn layout(headers: &[String]) -> Result<Layout, TemplateError> {
    let mut positions = HashMap::new();
    for (i, raw) in headers.iter().enumerate() {
        let h = raw.trim().trim_start_matches('\u{feff}').trim();
        if h.is_empty() {
            continue;
        }
        let col = Column::ALL.into_iter().find(|c| c.header() == h || c.aliases().contains(&h)).ok_or_else(
            || {
                TemplateError(format!(
                    "unknown column {:?} (the template's columns: {})",
                    shown(h),
                    Column::ALL.map(Column::header).join(", ")
                ))
            },
        )?;
        if positions.insert(col, i).is_some() {
            return Err(TemplateError(format!("column {:?} appears twice", col.header())));
        }
    }
    if let Some(missing) = Column::ALL.into_iter().find(|c| c.required() && !positions.contains_key(c)) {
        return Err(TemplateError(format!("missing required column {:?}", missing.header())));
    }
    Ok(Layout { positions })
}

impl Layout {
    fn cell<'a>(&self, row: &'a [String], col: Column) -> &'a str {
        self.positions.get(&col).and_then(|i| row.get(*i)).map(|s| s.trim()).unwrap_or_default()
    }
}

/// One problem with one cell: `row` counts the header as row 1, as a spreadsheet does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub row: usize,
    pub column: String,
    pub reason: String,
}

impl RowError {
    pub fn new(row: usize, column: Column, reason: impl std::fmt::Display) -> Self {
        Self { row, column: column.header().to_string(), reason: reason.to_string() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowPost {
    pub kind: pb::PostKind,
    pub term: i32,
    pub start: NaiveDate,
}

/// A row that passed every check of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    pub row: usize,
    pub cadre: CadreFields,
    pub posts: Vec<RowPost>,
}

// ------------------------------------------------------------------ vocabularies

/// Post names as offices write them; the first is the one exports use.
const POST_NAMES: &[(pb::PostKind, &[&str])] = &[
    (pb::PostKind::PartySecretary, &["党支部书记", "党组织书记", "党总支书记", "村党组织书记", "书记"]),
    (pb::PostKind::PartyDeputySecretary, &["党支部副书记", "党组织副书记", "副书记"]),
    (pb::PostKind::PartyCommitteeMember, &["党支部委员", "支委委员", "支委"]),
    (pb::PostKind::CommitteeDirector, &["村委会主任", "居委会主任", "嘎查达", "主任"]),
    (pb::PostKind::CommitteeDeputyDirector, &["村委会副主任", "居委会副主任", "副主任"]),
    (pb::PostKind::CommitteeMember, &["村委会委员", "居委会委员", "村委委员"]),
    (pb::PostKind::SupervisionChair, &["村务监督委员会主任", "监委会主任"]),
    (pb::PostKind::RevitalisationSpecialist, &["乡村振兴专干"]),
    (pb::PostKind::YouthLeagueSecretary, &["团支部书记"]),
    (pb::PostKind::WomensFederationChair, &["妇联主席", "妇联主任", "妇女主任"]),
    (pb::PostKind::FinancialDeputyHead, &["金融副村长"]),
    (pb::PostKind::HonoraryHead, &["名誉村长"]),
    (pb::PostKind::FirstSecretary, &["驻村第一书记", "第一书记"]),
    (pb::PostKind::WorkTeamMember, &["驻村工作队员", "工作队员"]),
    (pb::PostKind::SpecialPostSecretary, &["兴村特岗书记"]),
];

const POLITICAL_NAMES: &[(pb::PoliticalStatus, &[&str])] = &[
    (pb::PoliticalStatus::PartyMember, &["中共党员", "党员"]),
    (pb::PoliticalStatus::ProbationaryMember, &["中共预备党员", "预备党员"]),
    (pb::PoliticalStatus::None, &["群众"]),
];

const EDUCATION_NAMES: &[(pb::Education, &[&str])] = &[
    (pb::Education::Postgraduate, &["研究生", "硕士", "博士"]),
    (pb::Education::Bachelor, &["大学本科", "本科"]),
    (pb::Education::College, &["大专", "专科"]),
    (pb::Education::Secondary, &["中专", "高中", "中职", "技校"]),
    (pb::Education::BelowSecondary, &["初中及以下", "初中", "小学"]),
];

const TAG_NAMES: &[(pb::BackgroundTag, &[&str])] = &[
    (pb::BackgroundTag::ReturnedGraduate, &["返乡大学生", "大学毕业生"]),
    (pb::BackgroundTag::Veteran, &["退役军人"]),
    (pb::BackgroundTag::BusinessLeader, &["致富带头人"]),
    (pb::BackgroundTag::ReturnedMigrant, &["外出能人", "返乡能人"]),
    (pb::BackgroundTag::SecondedOfficial, &["机关选派", "机关干部"]),
];

/// A Chinese name from `table`, or the enum's English name with or without its
/// prefix (`PARTY_SECRETARY`, `POST_KIND_PARTY_SECRETARY`), any case.
fn lookup<E: Copy>(
    table: &[(E, &[&str])],
    s: &str,
    english: impl Fn(E) -> &'static str,
    prefix: &str,
) -> Option<E> {
    if let Some((e, _)) = table.iter().find(|(_, names)| names.contains(&s)) {
        return Some(*e);
    }
    let upper = s.to_ascii_uppercase().replace([' ', '-'], "_");
    table.iter().map(|(e, _)| *e).find(|e| {
        let full = english(*e);
        full == upper || full.strip_prefix(prefix) == Some(upper.as_str())
    })
}

fn names<E>(table: &[(E, &[&str])]) -> String {
    table.iter().map(|(_, n)| n[0]).collect::<Vec<_>>().join("/")
}

pub fn post_kind(s: &str) -> Option<pb::PostKind> {
    lookup(POST_NAMES, s, |k: pb::PostKind| k.as_str_name(), "POST_KIND_")
}

pub fn post_name(k: pb::PostKind) -> &'static str {
    POST_NAMES.iter().find(|(e, _)| *e == k).map_or("", |(_, n)| n[0])
}

pub fn political_name(p: pb::PoliticalStatus) -> &'static str {
    POLITICAL_NAMES.iter().find(|(e, _)| *e == p).map_or("", |(_, n)| n[0])
}

pub fn education_name(e: pb::Education) -> &'static str {
    EDUCATION_NAMES.iter().find(|(x, _)| *x == e).map_or("", |(_, n)| n[0])
}

pub fn tag_name(t: pb::BackgroundTag) -> &'static str {
    TAG_NAMES.iter().find(|(x, _)| *x == t).map_or("", |(_, n)| n[0])
}

/// The separator of lists within a cell (职务, 背景, and per-post 届次/任职时间).
pub const LIST_SEPARATOR: &str = "、";

fn list(s: &str) -> Vec<&str> {
    s.split(['、', ',', '，', ';', '；', '/']).map(str::trim).filter(|p| !p.is_empty()).collect()
}

fn yes_no(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "" | "否" | "非全日制" | "n" | "no" | "false" | "0" => Some(false),
        "是" | "全日制" | "y" | "yes" | "true" | "1" => Some(true),
        _ => None,
    }
}

/// "2021", "2021届" or "2021年".
fn term(s: &str) -> Option<i32> {
    s.trim_end_matches(['届', '年']).trim().parse().ok()
}

/// A cell as an error shows it: at most 40 characters of it.
fn shown(s: &str) -> String {
    cadre_kit::text::bounded(s, 40)
}

/// "2021-04-20", "2021/4/20", "2021.04.20" or "20210420" (the layouts offices type),
/// within the kit's range of dates; a signed or two-digit year is not a date.
pub fn date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    if !s.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
        .filter(|d| cadre_kit::dates::in_range(*d))
}

// ------------------------------------------------------------------ rows

/// Checks one data row (`row` is its 1-based line, the header being line 1).
pub fn parse_row(
    layout: &Layout,
    cells: &[String],
    row: usize,
    today: NaiveDate,
    calendar: &TermCalendar,
) -> Result<ImportRow, Vec<RowError>> {
    let mut errors = Vec::new();
    let cell = |c: Column| layout.cell(cells, c);
    let mut err = |c: Column, reason: String| errors.push(RowError::new(row, c, reason));

    let political = match lookup(
        POLITICAL_NAMES,
        cell(Column::PoliticalStatus),
        |e| e.as_str_name(),
        "POLITICAL_STATUS_",
    ) {
        Some(p) => p as i32,
        None if cell(Column::PoliticalStatus).is_empty() => 0,
        None => {
            err(
                Column::PoliticalStatus,
                format!(
                    "{:?} is not one of {}",
                    shown(cell(Column::PoliticalStatus)),
                    names(POLITICAL_NAMES)
                ),
            );
            -1
        }
    };
    let education = match lookup(EDUCATION_NAMES, cell(Column::Education), |e| e.as_str_name(), "EDUCATION_")
    {
        Some(e) => e as i32,
        None if cell(Column::Education).is_empty() => 0,
        None => {
            err(
                Column::Education,
                format!("{:?} is not one of {}", shown(cell(Column::Education)), names(EDUCATION_NAMES)),
            );
            -1
        }
    };
    let full_time = yes_no(cell(Column::FullTime)).unwrap_or_else(|| {
        err(Column::FullTime, format!("{:?} is not 是 or 否", shown(cell(Column::FullTime))));
        false
    });
    let mut tags = Vec::new();
    for t in list(cell(Column::Background)) {
        match lookup(TAG_NAMES, t, |e| e.as_str_name(), "BACKGROUND_TAG_") {
            Some(tag) => tags.push(tag as i32),
            None => err(Column::Background, format!("{:?} is not one of {}", shown(t), names(TAG_NAMES))),
        }
    }
    // The cadre's own fields, by the same rules as CreateCadre; each failure is
    // reported against its column (the field name prefix says which).
    let input = pb::Cadre {
        region_code: cell(Column::Village).to_string(),
        name: cell(Column::Name).to_string(),
        id_number: cell(Column::IdNumber).to_ascii_uppercase(),
        ethnicity: cell(Column::Ethnicity).to_string(),
        phone: cell(Column::Phone).to_string(),
        political_status: political.max(0),
        education: education.max(0),
        full_time_education: full_time,
        tags,
        ..Default::default()
    };
    let fields = cadre_fields(&input, political < 0, education < 0, row, &mut errors);

    let mut row_posts = Vec::new();
    let post_cells = list(cell(Column::Posts));
    let terms = list(cell(Column::Term));
    let starts = list(cell(Column::StartDate));
    let per_post = |values: &[&str], c: Column, i: usize, errors: &mut Vec<RowError>| -> Option<String> {
        match values.len() {
            0 => None,
            1 => Some(values[0].to_string()),
            n if n == post_cells.len() => Some(values[i].to_string()),
            n => {
                if i == 0 {
                    errors.push(RowError::new(
                        row,
                        c,
                        format!(
                            "lists {n} values for {} posts: give one for all or one per post",
                            post_cells.len()
                        ),
                    ));
                }
                None
            }
        }
    };
    for (i, name) in post_cells.iter().enumerate() {
        let Some(kind) = post_kind(name) else {
            errors.push(RowError::new(row, Column::Posts, format!("unknown post {:?}", shown(name))));
            continue;
        };
        if row_posts.iter().any(|p: &RowPost| p.kind == kind) {
            errors.push(RowError::new(row, Column::Posts, format!("{name} is listed twice")));
            continue;
        }
        let Some(start_s) = per_post(&starts, Column::StartDate, i, &mut errors) else {
            if starts.is_empty() {
                errors.push(RowError::new(row, Column::StartDate, format!("is required for {name}")));
            }
            continue;
        };
        let Some(start) = date(&start_s) else {
            errors.push(RowError::new(
                row,
                Column::StartDate,
                format!("{:?} is not a date like 2021-04-20", shown(&start_s)),
            ));
            continue;
        };
        let term = match per_post(&terms, Column::Term, i, &mut errors) {
            None if !terms.is_empty() => continue,
            None => match calendar.term_of(start) {
                Some(t) => t.year,
                None => {
                    errors.push(RowError::new(
                        row,
                        Column::Term,
                        format!("is required for {name}: {start} is before the first term on the calendar"),
                    ));
                    continue;
                }
            },
            Some(t) => match term(&t) {
                Some(t) => t,
                None => {
                    errors.push(RowError::new(
                        row,
                        Column::Term,
                        format!("{:?} is not an election year like 2021", shown(&t)),
                    ));
                    continue;
                }
            },
        };
        if start > today {
            errors.push(RowError::new(row, Column::StartDate, format!("{start} is in the future")));
            continue;
        }
        if let Some(f) = &fields {
            let birth = f.id_number.birth_date();
            if age_on(birth, start) < 18 {
                errors.push(RowError::new(
                    row,
                    Column::StartDate,
                    format!("{start} is before the cadre turned 18 (born {birth})"),
                ));
                continue;
            }
        }
        // The term rules of AppointPost (no other posts: seats are checked file-wide).
        let appointment =
            posts::Appointment { cadre_id: String::new(), region_code: String::new(), kind, term, start };
        if let Err(e) = posts::check_appointment(&appointment, &[], calendar) {
            let column = if e.to_string().starts_with("term") { Column::Term } else { Column::StartDate };
            let reason = e.to_string();
            let reason = reason.split_once(": ").map_or(reason.as_str(), |(_, r)| r).to_string();
            errors.push(RowError::new(row, column, reason));
            continue;
        }
        row_posts.push(RowPost { kind, term, start });
    }
    match fields {
        Some(cadre) if errors.is_empty() => Ok(ImportRow { row, cadre, posts: row_posts }),
        _ => Err(errors),
    }
}

/// Validates the cadre fields, one column at a time so that every bad cell is named.
fn cadre_fields(
    input: &pb::Cadre,
    political_bad: bool,
    education_bad: bool,
    row: usize,
    errors: &mut Vec<RowError>,
) -> Option<CadreFields> {
    let columns = [
        ("region_code", Column::Village),
        ("name", Column::Name),
        ("id_number", Column::IdNumber),
        ("ethnicity", Column::Ethnicity),
        ("phone", Column::Phone),
        ("political_status", Column::PoliticalStatus),
        ("education", Column::Education),
        ("tags", Column::Background),
    ];
    let mut probe = input.clone();
    // validate_new stops at the first bad field: fix each reported field with a valid
    // placeholder and go on, so every bad column is reported in one pass.
    for _ in 0..columns.len() {
        match cadre::validate_new("c", &probe) {
            Ok(fields) => {
                return if political_bad || education_bad || errors.iter().any(|e| e.row == row) {
                    None
                } else {
                    Some(fields)
                };
            }
            Err(e) => {
                let message = e.to_string();
                let (field, reason) = message.split_once(": ").unwrap_or(("", message.as_str()));
                let field = field.trim_start_matches("c.");
                let field = field.split('[').next().unwrap_or(field);
                let Some((_, column)) = columns.iter().find(|(f, _)| *f == field) else {
                    errors.push(RowError { row, column: String::new(), reason: message.clone() });
                    return None;
                };
                let already = match column {
                    Column::PoliticalStatus => political_bad,
                    Column::Education => education_bad,
                    _ => false,
                };
                if !already {
                    errors.push(RowError::new(row, *column, reason));
                }
                placeholder(&mut probe, *column);
            }
        }
    }
    None
}

fn placeholder(c: &mut pb::Cadre, column: Column) {
    match column {
        Column::Village => c.region_code = "110101001001".into(),
        Column::Name => c.name = "x".into(),
        Column::IdNumber => c.id_number = "11010119900307299X".into(),
        Column::Ethnicity => c.ethnicity = String::new(),
        Column::Phone => c.phone = String::new(),
        Column::PoliticalStatus => c.political_status = pb::PoliticalStatus::None as i32,
        Column::Education => c.education = pb::Education::College as i32,
        Column::Background => c.tags.clear(),
        _ => {}
    }
}

/// Rows a thread checks between two calls of the progress callback.
const ROWS_PER_REPORT: usize = 2_000;

/// Each non-empty row checked alone, on all cores (a province file has 100,000
/// rows), in file order with its row number; `on_checked` hears of every
/// [`ROWS_PER_REPORT`] rows done.
fn parse_rows(
    layout: &Layout,
    rows: &[Vec<String>],
    first_row: usize,
    today: NaiveDate,
    calendar: &TermCalendar,
    on_checked: &(dyn Fn(usize) + Sync),
) -> Vec<(usize, Result<ImportRow, Vec<RowError>>)> {
    cadre_kit::parallel::map_pieces(rows, 1000, |first, part| {
        let mut out = Vec::with_capacity(part.len());
        for (k, piece) in part.chunks(ROWS_PER_REPORT).enumerate() {
            for (i, cells) in piece.iter().enumerate() {
                if cells.iter().any(|c| !c.trim().is_empty()) {
                    let row = first_row + first + k * ROWS_PER_REPORT + i;
                    out.push((row, parse_row(layout, cells, row, today, calendar)));
                }
            }
            on_checked(piece.len());
        }
        out
    })
}

/// Every row, checked alone and then against the others: duplicate ID numbers,
/// single seats claimed twice, and villages outside `jurisdiction`.
pub fn check_rows(
    layout: &Layout,
    rows: &[Vec<String>],
    jurisdiction: &RegionCode,
    today: NaiveDate,
    calendar: &TermCalendar,
    on_checked: &(dyn Fn(usize) + Sync),
) -> (Vec<ImportRow>, Vec<RowError>) {
    RowChecker::new(layout, jurisdiction, today, calendar).check(rows, 2, on_checked)
}

/// The rows of one file checked piece by piece, in file order, remembering what the
/// pieces before claimed: an import checks one piece while it stores the one before.
pub struct RowChecker<'a> {
    layout: &'a Layout,
    jurisdiction: &'a RegionCode,
    today: NaiveDate,
    calendar: &'a TermCalendar,
    /// ID number → the first row that had it.
    ids: HashMap<String, usize>,
    /// (village, single-seat post) → the first row that claimed it.
    seats: BTreeMap<(String, i32), usize>,
}

impl<'a> RowChecker<'a> {
    pub fn new(
        layout: &'a Layout,
        jurisdiction: &'a RegionCode,
        today: NaiveDate,
        calendar: &'a TermCalendar,
    ) -> Self {
        Self { layout, jurisdiction, today, calendar, ids: HashMap::new(), seats: BTreeMap::new() }
    }

    /// Checks the next piece of the file, whose first row is the file's row
    /// `first_row` (the header is row 1); returns its good rows and its problems.
    pub fn check(
        &mut self,
        rows: &[Vec<String>],
        first_row: usize,
        on_checked: &(dyn Fn(usize) + Sync),
    ) -> (Vec<ImportRow>, Vec<RowError>) {
        let mut good = Vec::with_capacity(rows.len());
        let mut errors = Vec::new();
        for (row, parsed) in parse_rows(self.layout, rows, first_row, self.today, self.calendar, on_checked) {
            match parsed {
                Err(mut e) => errors.append(&mut e),
                Ok(r) => {
                    let before = errors.len();
                    self.check_against_earlier_rows(row, &r, &mut errors);
                    if errors.len() == before {
                        good.push(r);
                    }
                }
            }
        }
        (good, errors)
    }

    fn check_against_earlier_rows(&mut self, row: usize, r: &ImportRow, errors: &mut Vec<RowError>) {
        let jurisdiction = self.jurisdiction;
        if !jurisdiction.covers(&r.cadre.region_code) {
            errors.push(RowError::new(
                row,
                Column::Village,
                format!("{} is outside your jurisdiction {jurisdiction}", r.cadre.region_code),
            ));
        }
        let id = r.cadre.id_number.as_str();
        match self.ids.get(id) {
            Some(first) => errors.push(RowError::new(
                row,
                Column::IdNumber,
                format!("the same ID number as row {first}"),
            )),
            None => {
                self.ids.insert(id.to_string(), row);
            }
        }
        for p in r.posts.iter().filter(|p| posts::is_single_seat(p.kind)) {
            let key = (r.cadre.region_code.to_string(), p.kind as i32);
            if let Some(first) = self.seats.get(&key) {
                errors.push(RowError::new(
                    row,
                    Column::Posts,
                    format!("{} of {} is also given to row {first}", post_name(p.kind), key.0),
                ));
            } else {
                self.seats.insert(key, row);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadre_kit::resident_id::build;

    fn headers() -> Vec<String> {
        Column::ALL.iter().map(|c| c.header().to_string()).collect()
    }

    fn id(seq: u16) -> String {
        build("150525", NaiveDate::from_ymd_opt(1985, 3, 14).unwrap(), seq).as_str().to_string()
    }

    fn row(name: &str, seq: u16, village: &str, posts: &str, start: &str) -> Vec<String> {
        [
            name,
            &id(seq),
            "蒙古族",
            "13912345678",
            "中共党员",
            "大专",
            "否",
            village,
            posts,
            "2021",
            start,
            "退役军人",
        ]
        .map(String::from)
        .to_vec()
    }

    fn province() -> TermCalendar {
        TermCalendar::default()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    fn county() -> RegionCode {
        RegionCode::parse("150525000000").unwrap()
    }

    #[test]
    fn headers_match_by_name_in_any_order_and_missing_ones_are_named() {
        let mut h = headers();
        h.reverse();
        let l = layout(&h).unwrap();
        let mut cells = row("巴特尔", 11, "150525100201", "党支部书记、村委会主任", "2021-04-20");
        cells.reverse();
        let r = parse_row(&l, &cells, 2, today(), &province()).unwrap();
        assert_eq!(r.posts.len(), 2);
        assert_eq!(r.cadre.tags, vec![pb::BackgroundTag::Veteran]);
        let without: Vec<String> = headers().into_iter().filter(|h| h != "公民身份号码").collect();
        assert_eq!(layout(&without).unwrap_err().0, "missing required column \"公民身份号码\"");
        let mut unknown = headers();
        unknown.push("备注".into());
        assert!(layout(&unknown).unwrap_err().0.starts_with("unknown column \"备注\""));
    }

    #[test]
    fn english_enum_names_are_accepted_too() {
        let l = layout(&headers()).unwrap();
        let mut cells =
            row("A", 1, "150525100201", "PARTY_SECRETARY、post_kind_committee_director", "2021-04-20");
        cells[4] = "POLITICAL_STATUS_NONE".into();
        cells[5] = "bachelor".into();
        let r = parse_row(&l, &cells, 2, today(), &province()).unwrap();
        assert_eq!(r.cadre.political_status, pb::PoliticalStatus::None);
        assert_eq!(r.cadre.education, pb::Education::Bachelor);
        assert_eq!(r.posts[1].kind, pb::PostKind::CommitteeDirector);
    }

    #[test]
    fn every_bad_cell_of_a_row_is_reported_with_its_column() {
        let l = layout(&headers()).unwrap();
        let mut cells = row("", 1, "150525100201", "村长", "2021-04-20");
        let mut bad_id = id(1);
        bad_id.replace_range(17.., if bad_id.ends_with('1') { "2" } else { "1" });
        cells[1] = bad_id;
        cells[5] = "幼儿园".into();
        let errors = parse_row(&l, &cells, 7, today(), &province()).unwrap_err();
        let columns: Vec<&str> = errors.iter().map(|e| e.column.as_str()).collect();
        assert_eq!(columns, ["学历", "姓名", "公民身份号码", "职务"], "{errors:?}");
        assert!(errors.iter().all(|e| e.row == 7));
    }

    #[test]
    fn dates_must_follow_the_term_and_the_cadre_s_age() {
        let l = layout(&headers()).unwrap();
        let early =
            parse_row(&l, &row("A", 1, "150525100201", "书记", "1999-01-01"), 2, today(), &province())
                .unwrap_err();
        assert_eq!(early[0].column, "任职时间");
        assert!(early[0].reason.contains("before the cadre turned 18"), "{early:?}");
        let outside =
            parse_row(&l, &row("A", 1, "150525100201", "书记", "2019-05-01"), 2, today(), &province())
                .unwrap_err();
        assert!(outside[0].reason.contains("outside term 2021"), "{outside:?}");
        let mut cells = row("A", 1, "150525100201", "书记、主任", "2021-04-20、2021-05-06");
        cells[9] = String::new();
        let r = parse_row(&l, &cells, 2, today(), &province()).unwrap();
        assert_eq!(r.posts[1].start.to_string(), "2021-05-06");
        assert_eq!(r.posts[1].term, 2021);
    }

    #[test]
    fn a_post_without_a_term_takes_the_one_the_calendar_puts_its_start_in() {
        let l = layout(&headers()).unwrap();
        let mut cells = row("A", 1, "150525100201", "书记", "2026-03-01");
        cells[9] = String::new();
        assert_eq!(parse_row(&l, &cells, 2, today(), &province()).unwrap().posts[0].term, 2026);
        cells[10] = "2018-03-01".into();
        assert_eq!(parse_row(&l, &cells, 2, today(), &province()).unwrap().posts[0].term, 2016);
        // Before the first term the calendar knows, the file must say which term.
        cells[10] = "2015-03-01".into();
        let errors = parse_row(&l, &cells, 2, today(), &province()).unwrap_err();
        assert_eq!(errors[0].column, "届次");
        assert!(errors[0].reason.contains("before the first term on the calendar"), "{errors:?}");
        cells[9] = "2011".into();
        assert_eq!(parse_row(&l, &cells, 2, today(), &province()).unwrap().posts[0].term, 2011);
    }

    #[test]
    fn duplicates_seats_and_other_counties_are_refused_across_the_file() {
        let l = layout(&headers()).unwrap();
        let rows = vec![
            row("A", 1, "150525100201", "书记", "2021-04-20"),
            row("B", 1, "150525100202", "书记", "2021-04-20"),
            row("C", 3, "150525100201", "书记", "2021-04-20"),
            row("D", 4, "150526100201", "主任", "2021-04-20"),
            row("E", 5, "150525100201", "村委会委员", "2021-04-20"),
        ];
        let (good, errors) = check_rows(&l, &rows, &county(), today(), &province(), &|_| {});
        assert_eq!(good.iter().map(|r| r.row).collect::<Vec<_>>(), [2, 6]);
        let found: Vec<(usize, &str)> = errors.iter().map(|e| (e.row, e.column.as_str())).collect();
        assert_eq!(found, [(3, "公民身份号码"), (4, "职务"), (5, "所在村(区划代码)")]);
        assert_eq!(errors[0].reason, "the same ID number as row 2");
    }

    #[test]
    fn a_file_checked_piece_by_piece_finds_what_one_pass_finds_and_counts_every_row() {
        let l = layout(&headers()).unwrap();
        let rows = vec![
            row("A", 1, "150525100201", "书记", "2021-04-20"),
            row("B", 2, "150525100202", "书记", "2021-04-20"),
            row("C", 1, "150525100203", "村委会委员", "2021-04-20"),
            row("D", 4, "150525100202", "书记", "2021-04-20"),
            row("E", 5, "150525100201", "村委会委员", "2021-04-20"),
        ];
        let whole = check_rows(&l, &rows, &county(), today(), &province(), &|_| {});
        let checked = std::sync::atomic::AtomicUsize::new(0);
        let count = |n: usize| {
            checked.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        };
        let county = county();
        let calendar = province();
        let mut checker = RowChecker::new(&l, &county, today(), &calendar);
        let (mut good, mut errors) = checker.check(&rows[..2], 2, &count);
        let (more, more_errors) = checker.check(&rows[2..], 4, &count);
        good.extend(more);
        errors.extend(more_errors);
        assert_eq!(good.iter().map(|r| r.row).collect::<Vec<_>>(), [2, 3, 6]);
        assert_eq!(
            errors.iter().map(|e| (e.row, e.reason.as_str())).collect::<Vec<_>>(),
            [(4, "the same ID number as row 2"), (5, "党支部书记 of 150525100202 is also given to row 3")]
        );
        assert_eq!((good, errors), whole);
        assert_eq!(checked.into_inner(), rows.len());
    }
}
