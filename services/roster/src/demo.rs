//! A deterministic demo county for `cadre up`, benches and tests: 奈曼旗 (Inner Mongolia) with
//! 8 townships, 150 villages and about 1,000 village cadres holding posts of the 2021 term, shaped
//! like the figures banner counties report (average age ≈ 43, ≈ 45% college or above, ≈ 20% under
//! 35, ≈ 85% one-shoulder villages), plus a neighbouring banner for jurisdiction checks.

use std::collections::HashSet;

use cadre_kit::resident_id;
use cadre_proto::roster::v1 as pb;
use chrono::{Days, NaiveDate};
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};

use cadre_proto::roster::v1::PostKind as K;
use cadre_proto::roster::v1::ReserveStage as Stage;

use crate::domain::dates;

pub mod province;

/// 奈曼旗, under 通辽市, 内蒙古自治区.
pub const DEMO_COUNTY: &str = "150525000000";
/// 扎鲁特旗: a second county with a township and two gacha, for jurisdiction denials.
pub const NEIGHBOUR_COUNTY: &str = "150526000000";

#[derive(Debug, Clone, PartialEq)]
pub struct DemoCounty {
    /// Parents before children.
    pub regions: Vec<pb::Region>,
    pub cadres: Vec<DemoCadre>,
    /// Reserves (后备力量), after the cadres they may have become.
    pub reserves: Vec<DemoReserve>,
}

/// A reserve to create (recommended on `reserve.stage_date`) and move through the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoReserve {
    pub reserve: pb::Reserve,
    /// Later steps in order, each dated on or after the one before.
    pub steps: Vec<DemoStep>,
    /// For a reserve appointed to a post: the index in `DemoCounty::cadres` of the
    /// cadre record it became (the same person: same name and ID number).
    pub cadre: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoStep {
    pub stage: pb::ReserveStage,
    pub date: NaiveDate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DemoCadre {
    pub cadre: pb::Cadre,
    pub posts: Vec<DemoPost>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoPost {
    pub kind: pb::PostKind,
    pub term: i32,
    pub start_date: NaiveDate,
}

/// Township code suffix, name, villages (communities included), communities.
const TOWNSHIPS: [(&str, &str, usize, usize); 8] = [
    ("100", "大沁他拉镇", 24, 4),
    ("101", "八仙筒镇", 22, 2),
    ("102", "青龙山镇", 20, 1),
    ("103", "新镇", 18, 1),
    ("104", "治安镇", 18, 1),
    ("200", "土城子乡", 16, 0),
    ("201", "固日班花苏木", 16, 0),
    ("202", "白音他拉苏木", 16, 0),
];
// Word lists, space-separated.
pub(crate) const HAN_PLACE_A: &str = "东 西 南 北 前 后 新 大 小 上 下 中";
pub(crate) const HAN_PLACE_B: &str = "兴隆 太平 永安 富河 双合 胜利 光明 红星 三合 王家 李家 张家 刘家 四家子 六家子 七家子 \
    营子 窝堡 沙沟 柳树 榆树 杏树 土城子 平安";
pub(crate) const MONG_PLACE_A: &str = "巴彦 乌兰 哈日 呼和 查干 敖包 宝力 塔本 伊和 白音 额勒顺 希勃";
pub(crate) const MONG_PLACE_B: &str = "塔拉 敖道 花 他拉 图 昭 浩来 格勒 召 哈达 宝力皋";
const COMMUNITIES: &str = "朝阳 团结 民主 建设 文化 幸福 和平 育新 富康 兴华";
const HAN_SURNAMES: &str =
    "王 李 张 刘 杨 赵 孙 高 于 马 陈 郭 董 孟 宋 白 田 崔 姜 徐 朱 胡 周 吴 韩 邢 杜 曹 冯 任";
const HAN_MALE: &str =
    "国 建 志 宝 军 海 明 伟 春 东 永 金 占 立 玉 文 福 树 德 忠 利 强 鹏 涛 磊 宇 峰 林 辉 彬";
const HAN_FEMALE: &str = "秀 丽 艳 玉 凤 春 霞 红 梅 英 敏 静 娟 芳 兰 华 雪 婷 琳 佳 欣 颖 洁 莉 燕";
const MONG_SURNAMES: &str = "包 白 吴 宝 韩 海 那 齐 陶";
const MONG_MALE: &str =
    "巴特尔 额尔敦 乌力吉 苏和 宝音 那日苏 朝鲁 孟和 特木尔 毕力格 阿拉坦 布和 达来 格日勒图 青格勒";
const MONG_FEMALE: &str = "其其格 萨仁 乌云 斯琴 图雅 娜仁 高娃 塔娜 格日乐 托娅";
const MOBILE_PREFIXES: &str =
    "130 131 132 135 136 138 139 147 150 151 152 155 158 177 180 182 186 187 189 199";

pub(crate) fn region(code: String, name: impl Into<String>, village_type: &str) -> pb::Region {
    pb::Region { code, name: name.into(), village_type: village_type.into(), ..Default::default() }
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// Who a seat is usually filled with: ages (on 2026-01-01), share of women, of Party members.
#[derive(Clone, Copy)]
struct Profile {
    ages: (u32, u32),
    female: f64,
    party: f64,
}

const SECRETARY: Profile = Profile { ages: (40, 58), female: 0.06, party: 1.0 };
const DIRECTOR: Profile = Profile { ages: (30, 56), female: 0.1, party: 0.6 };
const DEPUTY: Profile = Profile { ages: (35, 56), female: 0.1, party: 1.0 };
const WOMEN_CHAIR: Profile = Profile { ages: (33, 50), female: 1.0, party: 1.0 };
const YOUTH: Profile = Profile { ages: (23, 29), female: 0.25, party: 0.35 };
const MEMBER: Profile = Profile { ages: (35, 60), female: 0.08, party: 0.35 };
const SUPERVISOR: Profile = Profile { ages: (44, 60), female: 0.1, party: 0.8 };
const SPECIALIST: Profile = Profile { ages: (24, 32), female: 0.4, party: 0.4 };

pub(crate) struct Gen {
    pub(crate) rng: StdRng,
    pub(crate) ids: HashSet<String>,
    pub(crate) phones: HashSet<String>,
    pub(crate) names: HashSet<String>,
    /// Share of Mongols among the cadres of the township being generated.
    pub(crate) mongol_share: f64,
}

impl Gen {
    pub(crate) fn pick(&mut self, words: &'static str) -> &'static str {
        let words: Vec<&'static str> = words.split_whitespace().collect();
        words.choose(&mut self.rng).expect("non-empty list")
    }

    /// A name not used yet in the county, from `make`.
    pub(crate) fn unique_name(&mut self, mut make: impl FnMut(&mut Self) -> String) -> String {
        loop {
            let name = make(self);
            if self.names.insert(name.clone()) {
                return name;
            }
        }
    }

    pub(crate) fn village_name(&mut self, mongol: bool) -> String {
        self.unique_name(|g| {
            if mongol {
                format!("{}{}嘎查", g.pick(MONG_PLACE_A), g.pick(MONG_PLACE_B))
            } else {
                format!("{}{}村", g.pick(HAN_PLACE_A), g.pick(HAN_PLACE_B))
            }
        })
    }

    pub(crate) fn village_type(&mut self) -> &'static str {
        match self.rng.random_range(0..100) {
            0..7 => "key-assistance",
            7..22 => "lifted-out-of-poverty",
            22..30 => "demonstration",
            _ => "ordinary",
        }
    }

    fn person_name(&mut self, mongol: bool, female: bool) -> String {
        if mongol && self.rng.random_bool(0.7) {
            let given = self.pick(if female { MONG_FEMALE } else { MONG_MALE });
            let surname = if self.rng.random_bool(0.6) { self.pick(MONG_SURNAMES) } else { "" };
            return format!("{surname}{given}");
        }
        let chars = if female { HAN_FEMALE } else { HAN_MALE };
        let surname = self.pick(HAN_SURNAMES);
        let first = self.pick(chars);
        let second = if self.rng.random_bool(0.7) { self.pick(chars) } else { "" };
        format!("{surname}{first}{second}")
    }

    fn id_number(&mut self, region6: &str, birth: NaiveDate, male: bool) -> String {
        loop {
            let seq = self.rng.random_range(0..500u16) * 2 + u16::from(male);
            let id = resident_id::build(region6, birth, seq).as_str().to_string();
            if self.ids.insert(id.clone()) {
                return id;
            }
        }
    }

    fn phone(&mut self) -> String {
        loop {
            let phone =
                format!("{}{:08}", self.pick(MOBILE_PREFIXES), self.rng.random_range(0..100_000_000u32));
            if self.phones.insert(phone.clone()) {
                return phone;
            }
        }
    }

    fn education(&mut self, age: u32) -> (pb::Education, bool) {
        use pb::Education as E;
        let young = age < 35;
        let college_plus = match age {
            0..35 => 0.8,
            35..45 => 0.5,
            _ => 0.25,
        };
        if !self.rng.random_bool(college_plus) {
            return (if self.rng.random_bool(0.7) { E::Secondary } else { E::BelowSecondary }, true);
        }
        let roll: f64 = self.rng.random();
        if roll < 0.03 {
            (E::Postgraduate, self.rng.random_bool(0.8))
        } else if roll < if young { 0.55 } else { 0.3 } {
            (E::Bachelor, self.rng.random_bool(if young { 0.85 } else { 0.4 }))
        } else {
            (E::College, self.rng.random_bool(0.35))
        }
    }

    /// A cadre of `village` fitting `p`, with `posts` started on the given dates.
    fn cadre(&mut self, village: &str, p: Profile, posts: Vec<DemoPost>) -> DemoCadre {
        let female = self.rng.random_bool(p.female);
        let age = self.rng.random_range(p.ages.0..=p.ages.1);
        // Born between 2 January and 31 December of 2025 - age: `age` whole years on 2026-01-01.
        let birth = day(2025 - age as i32, 1, 2) + Days::new(self.rng.random_range(0..364));
        let mongol_share = self.mongol_share;
        let ethnicity = match self.rng.random::<f64>() {
            x if x < mongol_share => "蒙古族",
            x if x < mongol_share + 0.02 => "满族",
            x if x < mongol_share + 0.03 => "回族",
            _ => "汉族",
        };
        let (education, full_time) = self.education(age);
        let political_status = if self.rng.random_bool(p.party) {
            pb::PoliticalStatus::PartyMember
        } else if self.rng.random_bool(0.06) {
            pb::PoliticalStatus::ProbationaryMember
        } else {
            pb::PoliticalStatus::None
        };
        let leads = posts.iter().any(|d| matches!(d.kind, K::PartySecretary | K::CommitteeDirector));
        let mut tags = Vec::new();
        let chances = [
            (
                pb::BackgroundTag::ReturnedGraduate,
                if age < 35 && education <= pb::Education::College { 0.3 } else { 0.0 },
            ),
            (pb::BackgroundTag::Veteran, if female { 0.0 } else { 0.07 }),
            (pb::BackgroundTag::BusinessLeader, if leads { 0.2 } else { 0.04 }),
            (pb::BackgroundTag::ReturnedMigrant, 0.06),
        ];
        for (tag, chance) in chances {
            if self.rng.random_bool(chance) {
                tags.push(tag as i32);
            }
        }
        let region6 = &village[..6];
        let cadre = pb::Cadre {
            region_code: village.to_string(),
            name: self.person_name(ethnicity == "蒙古族", female),
            id_number: self.id_number(region6, birth, !female),
            sex: (if female { pb::Sex::Female } else { pb::Sex::Male }) as i32,
            ethnicity: ethnicity.into(),
            phone: self.phone(),
            political_status: political_status as i32,
            education: education as i32,
            full_time_education: full_time,
            tags,
            ..Default::default()
        };
        DemoCadre { cadre, posts }
    }

    /// The two committees and other seats of one village, elected in the first half of 2021.
    pub(crate) fn village_cadres(&mut self, village: &str, one_shoulder: bool, out: &mut Vec<DemoCadre>) {
        let party_day = day(2021, 1, 10) + Days::new(self.rng.random_range(0..=110));
        let committee_day = party_day + Days::new(self.rng.random_range(7..=45));
        let post = |kind: K| DemoPost {
            kind,
            term: 2021,
            start_date: if (kind as i32) <= K::PartyCommitteeMember as i32 {
                party_day
            } else {
                committee_day
            },
        };
        let mut seats: Vec<(Profile, Vec<K>)> = Vec::new();
        if one_shoulder {
            seats.push((SECRETARY, vec![K::PartySecretary, K::CommitteeDirector]));
        } else {
            seats.push((SECRETARY, vec![K::PartySecretary]));
            seats.push((DIRECTOR, vec![K::CommitteeDirector, K::PartyCommitteeMember]));
        }
        let deputy_crosses = self.rng.random_bool(0.3);
        if deputy_crosses {
            seats.push((DEPUTY, vec![K::PartyDeputySecretary, K::CommitteeDeputyDirector]));
        } else {
            seats.push((DEPUTY, vec![K::PartyDeputySecretary]));
        }
        seats.push((WOMEN_CHAIR, vec![K::PartyCommitteeMember, K::WomensFederationChair]));
        seats.push((YOUTH, vec![K::CommitteeMember, K::YouthLeagueSecretary]));
        seats.push((SUPERVISOR, vec![K::SupervisionChair]));
        let size = self.rng.random_range(6..=7);
        let mut deputy_director = deputy_crosses;
        while seats.len() < size {
            let kind = if deputy_director { K::CommitteeMember } else { K::CommitteeDeputyDirector };
            deputy_director = true;
            seats.push((MEMBER, vec![kind]));
        }
        for (profile, kinds) in seats {
            let posts = kinds.into_iter().map(post).collect();
            out.push(self.cadre(village, profile, posts));
        }
        // A later appointment: a rural-revitalisation specialist recruited during the term.
        if self.rng.random_bool(0.15) {
            let start_date = day(2023, 3, 1) + Days::new(self.rng.random_range(0..=900));
            let posts = vec![DemoPost { kind: K::RevitalisationSpecialist, term: 2021, start_date }];
            out.push(self.cadre(village, SPECIALIST, posts));
        }
    }
}

/// Reserves are younger than the cadres: ages on 2026-01-01.
const RESERVE_AGES: (u32, u32) = (25, 40);
/// Pipeline dates fall between these days.
const RESERVES_FROM: (i32, u32, u32) = (2022, 9, 1);
const RESERVES_UNTIL: (i32, u32, u32) = (2025, 9, 30);

impl Gen {
    /// Education of a reserve: ≈ 60% college or above, ≈ 40% full-time bachelor.
    fn reserve_education(&mut self) -> (pb::Education, bool) {
        use pb::Education as E;
        match self.rng.random_range(0..100) {
            0..3 => (E::Postgraduate, true),
            3..43 => (E::Bachelor, true),
            43..48 => (E::Bachelor, false),
            48..60 => (E::College, self.rng.random_bool(0.5)),
            60..90 => (E::Secondary, true),
            _ => (E::BelowSecondary, true),
        }
    }

    /// A new person for the pool of `village`, recommended on `recommended`.
    fn reserve_person(&mut self, village: &str, recommended: NaiveDate) -> pb::Reserve {
        let female = self.rng.random_bool(0.3);
        let age = self.rng.random_range(RESERVE_AGES.0..=RESERVE_AGES.1);
        let birth = day(2025 - age as i32, 1, 2) + Days::new(self.rng.random_range(0..364));
        let mongol = self.rng.random_bool(self.mongol_share);
        let source = match self.rng.random_range(0..100) {
            0..50 => pb::ReserveSource::Recommendation,
            50..85 => pb::ReserveSource::ReturneeProgramme,
            _ => pb::ReserveSource::EntranceExam,
        };
        let (education, full_time) = self.reserve_education();
        let political_status = match self.rng.random_range(0..100) {
            0..45 => pb::PoliticalStatus::PartyMember,
            45..55 => pb::PoliticalStatus::ProbationaryMember,
            _ => pb::PoliticalStatus::None,
        };
        let mut tags = Vec::new();
        let returnee = source == pb::ReserveSource::ReturneeProgramme;
        let chances = [
            (
                pb::BackgroundTag::ReturnedGraduate,
                if education <= pb::Education::College { if returnee { 0.7 } else { 0.15 } } else { 0.0 },
            ),
            (
                pb::BackgroundTag::ReturnedMigrant,
                if returnee && education > pb::Education::College { 0.8 } else { 0.05 },
            ),
            (pb::BackgroundTag::Veteran, if female { 0.0 } else { 0.05 }),
            (pb::BackgroundTag::BusinessLeader, 0.08),
        ];
        for (tag, chance) in chances {
            if self.rng.random_bool(chance) {
                tags.push(tag as i32);
            }
        }
        pb::Reserve {
            region_code: village.to_string(),
            name: self.person_name(mongol, female),
            id_number: self.id_number(&village[..6], birth, !female),
            sex: (if female { pb::Sex::Female } else { pb::Sex::Male }) as i32,
            source: source as i32,
            political_status: political_status as i32,
            education: education as i32,
            full_time_education: full_time,
            tags,
            stage_date: dates::format(recommended),
            ..Default::default()
        }
    }

    /// Steps from RECOMMENDED through `path` (the stages after it, in order), 20–90 days apart,
    /// ending no later than `last` (when given) or [`RESERVES_UNTIL`]; returns the date
    /// recommended and the steps.
    fn reserve_steps(&mut self, path: &[Stage], last: Option<NaiveDate>) -> (NaiveDate, Vec<DemoStep>) {
        let gaps: Vec<u64> = path.iter().map(|_| self.rng.random_range(20..=90)).collect();
        let span: u64 = gaps.iter().sum();
        let recommended = match last {
            Some(end) => end - Days::new(span),
            None => {
                let from = day(RESERVES_FROM.0, RESERVES_FROM.1, RESERVES_FROM.2);
                let until = day(RESERVES_UNTIL.0, RESERVES_UNTIL.1, RESERVES_UNTIL.2);
                let room = (until - from).num_days() as u64 - span;
                // Those still early in the pipeline were recommended recently.
                let earliest = if path.len() <= 2 { room * 2 / 3 } else { 0 };
                from + Days::new(self.rng.random_range(earliest..=room))
            }
        };
        let mut date = recommended;
        let steps = path
            .iter()
            .zip(gaps)
            .map(|(stage, gap)| {
                date = date + Days::new(gap);
                DemoStep { stage: *stage, date }
            })
            .collect();
        (recommended, steps)
    }

    /// `count` reserves of `village` spread over the pipeline (none appointed: see
    /// [`Gen::appointed_reserve`]).
    pub(crate) fn village_reserves(&mut self, village: &str, count: usize, out: &mut Vec<DemoReserve>) {
        const MAIN: [Stage; 4] = [Stage::Selected, Stage::Examined, Stage::InPool, Stage::InTraining];
        for _ in 0..count {
            let reached = match self.rng.random_range(0..100) {
                0..6 => 0,
                6..12 => 1,
                12..18 => 2,
                18..58 => 3,
                58..88 => 4,
                // Dropped after any stage before training ends.
                _ => {
                    let at = self.rng.random_range(0..=4);
                    let mut path = MAIN[..at].to_vec();
                    path.push(Stage::Dropped);
                    let (recommended, steps) = self.reserve_steps(&path, None);
                    let reserve = self.reserve_person(village, recommended);
                    out.push(DemoReserve { reserve, steps, cadre: None });
                    continue;
                }
            };
            let (recommended, steps) = self.reserve_steps(&MAIN[..reached], None);
            let reserve = self.reserve_person(village, recommended);
            out.push(DemoReserve { reserve, steps, cadre: None });
        }
    }

    /// The reserve that cadre `index` of `cadres` (appointed to a post on `appointed`) was:
    /// the whole pipeline, ending APPOINTED on that day.
    pub(crate) fn appointed_reserve(
        &mut self,
        cadres: &[DemoCadre],
        index: usize,
        appointed: NaiveDate,
    ) -> DemoReserve {
        let c = &cadres[index].cadre;
        let path = [Stage::Selected, Stage::Examined, Stage::InPool, Stage::InTraining, Stage::Appointed];
        let (recommended, steps) = self.reserve_steps(&path, Some(appointed));
        let returnee = c.tags.iter().any(|t| {
            *t == pb::BackgroundTag::ReturnedGraduate as i32
                || *t == pb::BackgroundTag::ReturnedMigrant as i32
        });
        let source = if returnee {
            pb::ReserveSource::ReturneeProgramme
        } else if self.rng.random_bool(0.5) {
            pb::ReserveSource::EntranceExam
        } else {
            pb::ReserveSource::Recommendation
        };
        let reserve = pb::Reserve {
            region_code: c.region_code.clone(),
            name: c.name.clone(),
            id_number: c.id_number.clone(),
            sex: c.sex,
            source: source as i32,
            political_status: c.political_status,
            education: c.education,
            full_time_education: c.full_time_education,
            tags: c.tags.clone(),
            stage_date: dates::format(recommended),
            ..Default::default()
        };
        DemoReserve { reserve, steps, cadre: Some(index) }
    }
}

/// The demo county; the same `seed` always gives the same data.
pub fn demo_county(seed: u64) -> DemoCounty {
    let mut g = Gen {
        rng: StdRng::seed_from_u64(seed),
        ids: HashSet::new(),
        phones: HashSet::new(),
        names: HashSet::new(),
        mongol_share: 0.0,
    };
    let mut regions = vec![
        region("150000000000".into(), "内蒙古自治区", ""),
        region("150500000000".into(), "通辽市", ""),
        region(DEMO_COUNTY.into(), "奈曼旗", ""),
    ];
    let mut cadres = Vec::new();
    // Exactly 85% of the county's villages are one-shoulder (一肩挑), spread at random.
    let total: usize = TOWNSHIPS.iter().map(|t| t.2).sum();
    let mut one_shoulder: Vec<bool> = (0..total).map(|i| i < total * 85 / 100).collect();
    one_shoulder.shuffle(&mut g.rng);
    let mut one_shoulder = one_shoulder.into_iter();
    for (suffix, name, villages, communities) in TOWNSHIPS {
        let township = format!("{}{suffix}", &DEMO_COUNTY[..6]);
        regions.push(region(format!("{township}000"), name, ""));
        let sumu = name.ends_with("苏木");
        g.mongol_share = if sumu { 0.6 } else { 0.25 };
        for i in 0..villages {
            let (code, name, village_type) = if i < communities {
                let name = g.unique_name(|g| format!("{}社区", g.pick(COMMUNITIES)));
                (format!("{township}{:03}", i + 1), name, "ordinary")
            } else {
                let mongol = g.rng.random_bool(if sumu { 0.9 } else { 0.3 });
                let name = g.village_name(mongol);
                (format!("{township}{:03}", 201 + i - communities), name, g.village_type())
            };
            g.village_cadres(&code, one_shoulder.next().unwrap_or(true), &mut cadres);
            regions.push(region(code, name, village_type));
        }
    }
    regions.push(region(NEIGHBOUR_COUNTY.into(), "扎鲁特旗", ""));
    regions.push(region("150526100000".into(), "鲁北镇", ""));
    for (code, name) in [("150526100201", "查干哈达嘎查"), ("150526100202", "巴彦宝力皋嘎查")] {
        regions.push(region(code.into(), name, "ordinary"));
        let posts = [K::PartySecretary, K::CommitteeDirector]
            .map(|kind| DemoPost { kind, term: 2021, start_date: day(2021, 4, 20) })
            .to_vec();
        cadres.push(g.cadre(code, SECRETARY, posts));
    }
    // ≈ 4.4 a village (749 in a 201-village banner), one in each neighbouring gacha.
    let reserves = reserves_for(&mut g, seed, &regions, &cadres, true, |rng, code| {
        if code.starts_with(&DEMO_COUNTY[..6]) {
            rng.random_range(3..=5) + usize::from(rng.random_bool(0.4))
        } else {
            1
        }
    });
    DemoCounty { regions, cadres, reserves }
}

/// Reserves for every village of `regions`, `per_village(rng, code)` of them, and (with
/// `link_specialists`) the reserve most revitalisation specialists among `cadres` were
/// before appointed.
/// Drawn from their own stream so that the cadres of a seed stay the same.
pub(crate) fn reserves_for(
    g: &mut Gen,
    seed: u64,
    regions: &[pb::Region],
    cadres: &[DemoCadre],
    link_specialists: bool,
    mut per_village: impl FnMut(&mut StdRng, &str) -> usize,
) -> Vec<DemoReserve> {
    g.rng = StdRng::seed_from_u64(seed ^ 0x5245_5345_5256_4553);
    let mut specialists: std::collections::HashMap<&str, Vec<(usize, NaiveDate)>> = Default::default();
    for (i, c) in cadres.iter().enumerate() {
        for p in c.posts.iter().filter(|p| link_specialists && p.kind == K::RevitalisationSpecialist) {
            specialists.entry(c.cadre.region_code.as_str()).or_default().push((i, p.start_date));
        }
    }
    let mut out = Vec::new();
    for village in regions.iter().filter(|r| !r.village_type.is_empty()) {
        g.mongol_share = if village.name.ends_with("嘎查") { 0.8 } else { 0.2 };
        let count = per_village(&mut g.rng, &village.code);
        g.village_reserves(&village.code, count, &mut out);
        for (i, appointed) in specialists.get(village.code.as_str()).into_iter().flatten() {
            if g.rng.random_bool(0.6) {
                out.push(g.appointed_reserve(cadres, *i, *appointed));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadre_kit::RegionCode;
    use cadre_kit::resident_id::{ResidentId, Sex, age_on};
    use std::collections::HashMap;

    /// Two-committee members of the demo county: whom the structure report counts.
    fn in_county(c: &DemoCadre) -> bool {
        c.cadre.region_code.starts_with(&DEMO_COUNTY[..6])
            && c.posts.iter().any(|p| crate::domain::posts::is_two_committee(p.kind))
    }

    #[test]
    fn the_same_seed_gives_the_same_county() {
        assert_eq!(demo_county(7), demo_county(7));
        assert_ne!(demo_county(7).cadres, demo_county(8).cadres);
    }

    #[test]
    fn regions_are_valid_and_parents_come_first() {
        let demo = demo_county(2021);
        let mut seen = HashSet::new();
        for r in &demo.regions {
            let code = RegionCode::parse(&r.code).unwrap();
            if let Some(parent) = code.parent() {
                assert!(seen.contains(parent.as_str()), "{} before its parent", r.code);
            }
            let village = code.level() == cadre_kit::RegionLevel::Village;
            assert_eq!(village, !r.village_type.is_empty(), "{}", r.code);
            assert!(seen.insert(r.code.clone()), "{} twice", r.code);
        }
        let villages =
            demo.regions.iter().filter(|r| !r.village_type.is_empty() && r.code.starts_with("150525"));
        assert!((140..=160).contains(&villages.count()));
        assert!(seen.contains(NEIGHBOUR_COUNTY));
    }

    #[test]
    fn cadres_pass_the_roster_rules() {
        let demo = demo_county(2021);
        let villages: HashSet<_> =
            demo.regions.iter().filter(|r| !r.village_type.is_empty()).map(|r| &r.code).collect();
        assert!((900..=1100).contains(&demo.cadres.len()), "{}", demo.cadres.len());
        let (mut ids, mut phones) = (HashSet::new(), HashSet::new());
        for c in &demo.cadres {
            let cadre = crate::domain::cadre::validate_new("cadre", &c.cadre).unwrap();
            let id = ResidentId::parse(&c.cadre.id_number).unwrap();
            let sex = if id.sex() == Sex::Male { pb::Sex::Male } else { pb::Sex::Female };
            assert_eq!(c.cadre.sex, sex as i32);
            assert!(ids.insert(cadre.id_number.as_str().to_string()), "duplicate ID number");
            assert!(phones.insert(cadre.phone), "duplicate phone");
            assert!(villages.contains(&c.cadre.region_code));
            assert!(!c.posts.is_empty());
            for p in &c.posts {
                assert!(p.term == 2021 && p.start_date >= day(2021, 1, 1) && p.start_date < day(2026, 1, 1));
            }
        }
        // Single seats are held once per village.
        let mut seats = HashSet::new();
        for c in &demo.cadres {
            for p in c.posts.iter().filter(|p| crate::domain::posts::is_single_seat(p.kind)) {
                assert!(
                    seats.insert((&c.cadre.region_code, p.kind as i32)),
                    "{} {:?}",
                    c.cadre.region_code,
                    p.kind
                );
            }
        }
    }

    #[test]
    fn reserves_pass_the_roster_rules_and_move_legally() {
        use crate::domain::reserves::{self, Level};
        let demo = demo_county(2021);
        let villages: HashSet<_> =
            demo.regions.iter().filter(|r| !r.village_type.is_empty()).map(|r| &r.code).collect();
        let county =
            demo.reserves.iter().filter(|r| r.reserve.region_code.starts_with(&DEMO_COUNTY[..6])).count();
        assert!((560..=700).contains(&county), "{county}");
        let cadre_ids: HashSet<&str> = demo.cadres.iter().map(|c| c.cadre.id_number.as_str()).collect();
        let mut ids = HashSet::new();
        let until = day(2025, 12, 31);
        for r in &demo.reserves {
            let fields = reserves::validate_new("reserve", &r.reserve).unwrap();
            assert!(villages.contains(&r.reserve.region_code));
            let id = fields.id_number.as_str().to_string();
            assert!(ids.insert(id.clone()), "duplicate reserve ID number");
            match r.cadre {
                Some(c) => {
                    let cadre = &demo.cadres[c];
                    assert_eq!((&cadre.cadre.id_number, &cadre.cadre.name), (&id, &r.reserve.name));
                    assert_eq!(r.steps.last().map(|s| s.stage), Some(Stage::Appointed));
                    let specialist =
                        cadre.posts.iter().find(|p| p.kind == K::RevitalisationSpecialist).unwrap();
                    assert_eq!(r.steps.last().map(|s| s.date), Some(specialist.start_date));
                }
                None => {
                    assert!(!cadre_ids.contains(id.as_str()), "a reserve has a cadre's ID number");
                    let age = age_on(fields.id_number.birth_date(), day(2026, 1, 1));
                    assert!((25..=40).contains(&age), "{age}");
                    assert!(r.steps.iter().all(|s| s.stage != Stage::Appointed));
                }
            }
            let (mut from, mut from_date) =
                (Stage::Recommended, dates::parse("d", &r.reserve.stage_date).unwrap());
            for step in &r.steps {
                reserves::check_move(from, from_date, step.stage, step.date, Some(Level::Province)).unwrap();
                assert!(step.date <= until);
                (from, from_date) = (step.stage, step.date);
            }
        }
        let n = demo.reserves.len() as f64;
        let stage_of = |r: &DemoReserve| r.steps.last().map_or(Stage::Recommended, |s| s.stage);
        let share =
            |f: &dyn Fn(&DemoReserve) -> bool| demo.reserves.iter().filter(|r| f(r)).count() as f64 / n;
        let seeds = share(&|r| reserves::is_seed(stage_of(r)));
        let appointed = share(&|r| stage_of(r) == Stage::Appointed);
        let dropped = share(&|r| stage_of(r) == Stage::Dropped);
        let early = share(&|r| stage_of(r) < Stage::InPool);
        let college = share(&|r| r.reserve.education <= pb::Education::College as i32);
        let bachelor = share(&|r| {
            r.reserve.full_time_education && r.reserve.education <= pb::Education::Bachelor as i32
        });
        let exam = share(&|r| r.reserve.source == pb::ReserveSource::EntranceExam as i32);
        let report = format!(
            "seeds {seeds:.2}, appointed {appointed:.2}, dropped {dropped:.2}, early {early:.2}, \
             college+ {college:.2}, full-time bachelor {bachelor:.2}, exam {exam:.2}"
        );
        assert!((0.6..=0.8).contains(&seeds), "{report}");
        assert!((0.01..=0.06).contains(&appointed), "{report}");
        assert!((0.06..=0.16).contains(&dropped), "{report}");
        assert!((0.1..=0.26).contains(&early), "{report}");
        assert!((0.52..=0.68).contains(&college), "{report}");
        assert!((0.33..=0.5).contains(&bachelor), "{report}");
        assert!((0.08..=0.25).contains(&exam), "{report}");
        // The reserves come from their own random stream: the cadres of a seed do not move.
        let mut without = demo_county(2021);
        without.reserves.clear();
        assert_eq!(without.cadres, demo.cadres);
    }

    #[test]
    fn structure_looks_like_a_banner_county() {
        let demo = demo_county(2021);
        let cadres: Vec<_> = demo.cadres.iter().filter(|c| in_county(c)).collect();
        let n = cadres.len() as f64;
        let on = day(2026, 1, 1);
        let ages: Vec<i32> = cadres
            .iter()
            .map(|c| age_on(ResidentId::parse(&c.cadre.id_number).unwrap().birth_date(), on))
            .collect();
        let share = |f: &dyn Fn(&DemoCadre) -> bool| cadres.iter().filter(|c| f(c)).count() as f64 / n;
        let average = ages.iter().sum::<i32>() as f64 / n;
        let under_35 = ages.iter().filter(|a| **a < 35).count() as f64 / n;
        let college = share(&|c| c.cadre.education <= pb::Education::College as i32);
        let women = share(&|c| c.cadre.sex == pb::Sex::Female as i32);
        let party = share(&|c| c.cadre.political_status != pb::PoliticalStatus::None as i32);
        let mut holders: HashMap<(&str, i32), usize> = HashMap::new();
        for (i, c) in cadres.iter().enumerate() {
            for p in &c.posts {
                holders.insert((&c.cadre.region_code, p.kind as i32), i);
            }
        }
        let secretaries: Vec<_> =
            holders.iter().filter(|((_, k), _)| *k == K::PartySecretary as i32).collect();
        let one_shoulder = secretaries
            .iter()
            .filter(|((v, _), i)| holders.get(&(*v, K::CommitteeDirector as i32)) == Some(i))
            .count() as f64
            / secretaries.len() as f64;
        let report = format!(
            "age {average:.1}, under 35 {under_35:.2}, college+ {college:.2}, women {women:.2}, \
             party {party:.2}, one-shoulder {one_shoulder:.2}"
        );
        assert!((40.0..=46.0).contains(&average), "{report}");
        assert!((0.14..=0.26).contains(&under_35), "{report}");
        assert!((0.38..=0.52).contains(&college), "{report}");
        assert!((0.22..=0.32).contains(&women), "{report}");
        assert!((0.62..=0.80).contains(&party), "{report}");
        assert!((0.80..=0.90).contains(&one_shoulder), "{report}");
    }
}
