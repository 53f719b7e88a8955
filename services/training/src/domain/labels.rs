//! What people read: the Chinese names of topics, used in suggestions' reasons and
//! in exports.

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
