//! What people read: the Chinese names of topics, used in suggestions' reasons and
//! in exports (topics, and the roster's post kinds).

use cadre_proto::training::v1::Topic;

pub fn topic(t: Topic) -> &'static str {
    match t {
        Topic::Unspecified => "未指定",
        Topic::LandTransfer => "土地流转",
        Topic::Reemployment => "稳岗就业",
        Topic::HighStandardFarmland => "高标准农田",
        Topic::CollectiveEconomy => "村集体经济",
        Topic::PartyEducation => "党性教育",
        Topic::Law => "法律法规",
        Topic::PlantingBreeding => "种养殖技术",
        Topic::RuralGovernance => "基层治理",
        Topic::Ecommerce => "电商",
        Topic::Other => "其他",
    }
}

/// The roster's post kinds as a township reads them (the catch-all list's export).
pub fn post_kind(kind: i32) -> &'static str {
    match kind {
        1 => "党组织书记",
        2 => "党组织副书记",
        3 => "党组织委员",
        4 => "村委会主任",
        5 => "村委会副主任",
        6 => "村委会委员",
        7 => "村务监督委员会主任",
        8 => "乡村振兴专干",
        9 => "团支部书记",
        10 => "妇联主席",
        11 => "金融副村长",
        12 => "名誉村长",
        13 => "驻村第一书记",
        14 => "驻村工作队员",
        15 => "兴村特岗书记",
        _ => "其他",
    }
}
