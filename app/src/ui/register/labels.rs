//! How the register's codes read on screen (Japanese first).

use crate::i18n::tr;
use renraku_contract::{Household, LabelColour, ReasonKind, SafetyStatus, Sex};

pub fn colour(label: LabelColour) -> &'static str {
    match label {
        LabelColour::Red => tr("赤", "Red"),
        LabelColour::Yellow => tr("黄", "Yellow"),
        LabelColour::Blue => tr("青", "Blue"),
    }
}

pub fn status(s: SafetyStatus) -> &'static str {
    match s {
        SafetyStatus::Unconfirmed => tr("未確認", "Not yet reached"),
        SafetyStatus::Safe => tr("無事", "Safe"),
        SafetyStatus::NeedsSupport => tr("要支援", "Needs help"),
        SafetyStatus::Evacuated => tr("搬送・避難済み", "Taken to safety"),
    }
}

/// The badge the list and the map share (the map draws the same in `map.js`).
pub fn status_badge(s: SafetyStatus) -> &'static str {
    match s {
        SafetyStatus::Unconfirmed => "?",
        SafetyStatus::Safe => "✓",
        SafetyStatus::NeedsSupport => "!",
        SafetyStatus::Evacuated => "➜",
    }
}

/// The order the marking buttons and the summary list statuses in: who needs someone first.
pub const STATUS_ORDER: [SafetyStatus; 4] = [
    SafetyStatus::NeedsSupport,
    SafetyStatus::Unconfirmed,
    SafetyStatus::Safe,
    SafetyStatus::Evacuated,
];

pub fn reason(kind: ReasonKind) -> &'static str {
    match kind {
        ReasonKind::CareLevel => tr("要介護", "Care level"),
        ReasonKind::Disability => tr("障害", "Disability"),
        ReasonKind::Ventilator => tr("人工呼吸器", "Ventilator"),
        ReasonKind::HomeOxygen => tr("在宅酸素", "Home oxygen"),
        ReasonKind::Dialysis => tr("透析", "Dialysis"),
        ReasonKind::Suction => tr("たん吸引", "Suction"),
        ReasonKind::Dementia => tr("認知症", "Dementia"),
        ReasonKind::Bedridden => tr("寝たきり", "Bedridden"),
        ReasonKind::LivesAlone => tr("独居", "Lives alone"),
        ReasonKind::IntractableDisease => tr("難病", "Intractable disease"),
        ReasonKind::SensoryImpairment => tr("視覚・聴覚", "Sight or hearing"),
        ReasonKind::InfantOrPregnant => tr("乳幼児・妊産婦", "Infant or pregnant"),
        ReasonKind::LanguageBarrier => tr("日本語が不自由", "Language barrier"),
        ReasonKind::Other => tr("その他", "Other"),
    }
}

pub fn household(h: Household) -> &'static str {
    match h {
        Household::Alone => tr("独居", "Lives alone"),
        Household::ElderlyOnly => tr("高齢者のみ世帯", "Elderly only"),
        Household::AloneDaytime => tr("日中独居", "Alone in the daytime"),
        Household::WithFamily => tr("家族と同居", "With family"),
        Household::Other => tr("その他", "Other"),
    }
}

pub fn sex(s: Sex) -> &'static str {
    match s {
        Sex::Female => tr("女性", "Female"),
        Sex::Male => tr("男性", "Male"),
        Sex::Other => tr("その他", "Other"),
        Sex::Unknown => "",
    }
}
