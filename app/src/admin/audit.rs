//! The municipality's audit log: newest first, filtered by action, person and dates, paged
//! backwards by sequence number, and exported as CSV with the same filter.

use super::users::Account;
use super::Session;
use super::{check, date_time, input_ms, load, murl, Choice, Field, LoadState};
use crate::api;
use crate::i18n::{tr, tr_string};
use dioxus::prelude::*;
use renraku_contract::AuditRow;
use std::collections::HashMap;

/// Rows per page: enough to fill a phone screen a few times.
const PAGE: usize = 50;

/// The filter as applied (the form edits a draft of it).
#[derive(Clone, Debug, Default, PartialEq)]
struct Filter {
    action: String,
    user: String,
    from: String,
    to: String,
}

impl Filter {
    /// The query string, without paging.
    fn query(&self) -> String {
        let mut q = Vec::new();
        if !self.action.is_empty() {
            q.push(format!(
                "action={}",
                String::from(js_sys::encode_uri_component(&self.action))
            ));
        }
        if let Ok(user) = self.user.parse::<i64>() {
            q.push(format!("user_id={user}"));
        }
        if let Some(from) = super::input_ms(&self.from) {
            q.push(format!("from={from}"));
        }
        // The "to" day is included: the server's bound is exclusive, so the next midnight.
        if let Some(to) = input_ms(&self.to) {
            q.push(format!("to={}", to + 86_400_000));
        }
        q.join("&")
    }
}

/// Action prefixes people look for (the server matches by prefix).
fn action_options() -> Vec<(String, String)> {
    [
        ("", tr("すべての操作", "All actions")),
        ("admin.", tr("管理操作すべて", "All administration")),
        ("admin.user.", tr("アカウントの管理", "Accounts")),
        (
            "admin.user.disable",
            tr("アカウントの無効化", "Account disabled"),
        ),
        ("admin.organization.", tr("事業所の管理", "Organizations")),
        ("admin.patient.", tr("患者の管理", "Patients")),
        ("admin.room.", tr("ルームの管理", "Rooms")),
        ("room.member.", tr("ルームのメンバー", "Room members")),
        ("admin.announcement.", tr("お知らせ", "Announcements")),
        ("admin.template.", tr("定型文", "Templates")),
        (
            "admin.audit.",
            tr("監査ログの閲覧・出力", "Audit log views"),
        ),
        ("signin", tr("サインイン", "Sign-ins")),
        (
            "patient_room.read",
            tr("患者ルームの閲覧", "Patient room reads"),
        ),
        ("attachment.", tr("添付ファイル", "Attachments")),
    ]
    .into_iter()
    .map(|(v, l)| (v.to_owned(), l.to_owned()))
    .collect()
}

/// What an action means, for the common ones; others show their code only.
fn action_label(action: &str) -> Option<&'static str> {
    Some(match action {
        "admin.user.create" => tr("アカウント作成", "Account created"),
        "admin.user.update" => tr("アカウント変更", "Account changed"),
        "admin.user.role" => tr("権限の変更", "Role changed"),
        "admin.user.profession" => tr("職種の変更", "Profession changed"),
        "admin.user.disable" => tr("アカウント無効化", "Account disabled"),
        "admin.user.enable" => tr("アカウント有効化", "Account enabled"),
        "admin.user.password_reset" => tr("パスワード再設定", "Password reset"),
        "admin.organization.create" => tr("事業所の追加", "Organization added"),
        "admin.organization.update" => tr("事業所の変更", "Organization changed"),
        "admin.patient.create" => tr("患者の登録", "Patient registered"),
        "admin.patient.update" => tr("患者情報の変更", "Patient changed"),
        "admin.patient.archive" => tr("患者のアーカイブ", "Patient archived"),
        "admin.patient.unarchive" => tr("患者のアーカイブ解除", "Patient restored"),
        "admin.room.create" => tr("ルーム作成", "Room created"),
        "admin.room.update" => tr("ルーム変更", "Room changed"),
        "admin.room.archive" => tr("ルームのアーカイブ", "Room archived"),
        "admin.room.unarchive" => tr("ルームのアーカイブ解除", "Room restored"),
        "room.member.added" => tr("メンバー追加", "Member added"),
        "room.member.removed" => tr("メンバー削除", "Member removed"),
        "room.member.role" => tr("メンバーの役割変更", "Member role changed"),
        "room.member.refused" => tr("メンバー追加の拒否", "Member refused"),
        "admin.announcement.create" => tr("お知らせ作成", "Announcement posted"),
        "admin.announcement.delete" => tr("お知らせ削除", "Announcement deleted"),
        "admin.template.create" => tr("定型文の作成", "Template created"),
        "admin.template.update" => tr("定型文の変更", "Template changed"),
        "admin.template.delete" => tr("定型文の削除", "Template deleted"),
        "admin.audit.view" => tr("監査ログの閲覧", "Audit log viewed"),
        "admin.audit.export" => tr("監査ログの CSV 出力", "Audit log exported"),
        "signin.ok" => tr("サインイン", "Signed in"),
        "signin.failed" => tr("サインイン失敗", "Sign-in failed"),
        "signout" => tr("サインアウト", "Signed out"),
        "signin.throttled" => tr("サインインの制限", "Sign-in throttled"),
        "room.open" => tr("ルームを開いた", "Room opened"),
        "room.record.export" => tr("記録の出力", "Record exported"),
        "search" => tr("検索", "Search"),
        "patient_room.read" => tr("患者ルームの閲覧", "Patient room read"),
        "room.create" => tr("ルーム作成", "Room created"),
        "room.home.read" => tr("患者宅の位置の閲覧", "Patient's home location read"),
        "room.home.pin" => tr("患者宅のピン設定", "Patient's home pinned"),
        "room.home.unpin" => tr("患者宅のピン削除", "Patient's home pin removed"),
        "password.changed" => tr("パスワード変更", "Password changed"),
        "session.revoked" => tr("セッションの終了", "Session revoked"),
        "attachment.upload" => tr("添付ファイルの追加", "Attachment uploaded"),
        "attachment.download" => tr("添付ファイルの閲覧", "Attachment downloaded"),
        "update.refused" => tr("変更の拒否", "Update refused"),
        _ => return None,
    })
}

#[derive(Clone, Debug, PartialEq)]
enum State {
    Loading,
    Ready { more: bool },
    Failed(String),
}

#[component]
pub fn Audit() -> Element {
    let session = use_context::<Session>();
    let s = session.clone();
    let users = use_resource(move || {
        let s = s.clone();
        async move { load::<Vec<Account>>(&s, &murl(&s.slug, "users")).await }
    });
    let action = use_signal(String::new);
    let user = use_signal(String::new);
    let from = use_signal(String::new);
    let to = use_signal(String::new);
    let mut applied = use_signal(Filter::default);
    let mut rows = use_signal(Vec::<AuditRow>::new);
    let mut state = use_signal(|| State::Loading);

    let s = session.clone();
    // `before`: the oldest seq shown, to fetch the page after it; `None` starts afresh.
    let fetch = move |before: Option<i64>| {
        let s = s.clone();
        let filter = applied.peek().clone();
        state.set(State::Loading);
        spawn(async move {
            let mut q = filter.query();
            if !q.is_empty() {
                q.push('&');
            }
            q.push_str(&format!("limit={PAGE}"));
            if let Some(b) = before {
                q.push_str(&format!("&before_seq={b}"));
            }
            let result = check(
                &s,
                api::get::<Vec<AuditRow>>(&format!("{}?{q}", murl(&s.slug, "audit"))).await,
            );
            match result {
                Ok(page) => {
                    let more = page.len() == PAGE;
                    if before.is_some() {
                        rows.write().extend(page);
                    } else {
                        rows.set(page);
                    }
                    state.set(State::Ready { more });
                }
                Err(msg) => state.set(State::Failed(msg)),
            }
        });
    };
    let mut first = fetch.clone();
    use_hook(move || first(None));

    let mut apply = fetch.clone();
    let submit = move |e: FormEvent| {
        e.prevent_default();
        applied.set(Filter {
            action: action.peek().clone(),
            user: user.peek().clone(),
            from: from.peek().clone(),
            to: to.peek().clone(),
        });
        apply(None);
    };
    let mut clear_fetch = fetch.clone();
    let clear = move |_| {
        let (mut a, mut u, mut f, mut t) = (action, user, from, to);
        a.set(String::new());
        u.set(String::new());
        f.set(String::new());
        t.set(String::new());
        applied.set(Filter::default());
        clear_fetch(None);
    };
    let mut more_fetch = fetch.clone();
    let more = move |_| {
        let oldest = rows.peek().last().map(|r| r.seq);
        if let Some(seq) = oldest {
            more_fetch(Some(seq));
        }
    };

    let people: HashMap<i64, String> = users
        .read()
        .as_ref()
        .and_then(|r| r.as_ref().ok())
        .map(|l| {
            l.iter()
                .map(|a| (a.id.get(), format!("{}（{}）", a.display_name, a.login_id)))
                .collect()
        })
        .unwrap_or_default();
    let mut user_options = vec![(String::new(), tr("全員", "Everyone").to_owned())];
    if let Some(Ok(list)) = users.read().as_ref() {
        user_options.extend(list.iter().map(|a| {
            (
                a.id.to_string(),
                format!("{}（{}）", a.display_name, a.login_id),
            )
        }));
    }
    let query = applied.read().query();
    let csv = format!(
        "{}{}{query}",
        murl(&session.slug, "audit.csv"),
        if query.is_empty() { "" } else { "?" }
    );
    let filtered = *applied.read() != Filter::default();
    let shown: Vec<(AuditRow, String)> = rows
        .read()
        .iter()
        .map(|r| {
            let who = match r.user_id {
                Some(id) => people
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| format!("user/{id}")),
                None => tr("（システム）", "(system)").to_owned(),
            };
            (r.clone(), who)
        })
        .collect();

    rsx! {
        form { class: "admin-form card audit-filter", onsubmit: submit, aria_label: tr("監査ログの絞り込み", "Filter the audit log"),
            Choice { id: "audit-action", label: tr("操作", "Action").to_owned(), value: action, options: action_options() }
            Choice { id: "audit-user", label: tr("操作した人", "Who").to_owned(), value: user, options: user_options }
            div { class: "two",
                Field { id: "audit-from", label: tr("開始日", "From").to_owned(), value: from, kind: "date" }
                Field { id: "audit-to", label: tr("終了日", "To").to_owned(), value: to, kind: "date" }
            }
            div { class: "row",
                button { class: "primary", r#type: "submit", {tr("絞り込む", "Apply")} }
                if filtered {
                    button { class: "secondary", r#type: "button", onclick: clear, {tr("条件をクリア", "Clear")} }
                }
            }
        }
        div { class: "admin-toolbar",
            a { class: "button secondary", href: "{csv}", download: "audit-{session.slug}.csv",
                {tr("CSV で出力（この条件で最大 5000 件）", "Export CSV (this filter, up to 5000 rows)")}
            }
        }
        if let State::Failed(msg) = state() {
            LoadState { error: msg }
        }
        p { class: "muted pad admin-count", role: "status",
            if filtered {
                {tr_string(format!("条件に合う記録 {} 件を表示中", shown.len()), format!("{} matching entries shown", shown.len()))}
            } else {
                {tr_string(format!("新しい順に {} 件を表示中", shown.len()), format!("{} newest entries shown", shown.len()))}
            }
        }
        ol { class: "admin-list audit", aria_label: tr("監査ログ", "Audit log"),
            for (r, who) in shown {
                li { key: "{r.seq}", class: "audit-row",
                    div { class: "audit-head",
                        time { class: "muted", "{date_time(r.at)}" }
                        span { class: "audit-action",
                            if let Some(label) = action_label(&r.action) {
                                "{label} "
                            }
                            code { "{r.action}" }
                        }
                    }
                    div { class: "meta",
                        "{who}"
                        if !r.target.is_empty() {
                            " → {r.target}"
                        }
                    }
                    if !r.detail.is_empty() {
                        div { class: "meta detail", "{r.detail}" }
                    }
                }
            }
        }
        match state() {
            State::Loading => rsx! { LoadState {} },
            State::Ready { more: true } => rsx! {
                button { class: "secondary more", r#type: "button", onclick: more, {tr("さらに表示", "Show more")} }
            },
            _ => rsx! {},
        }
    }
}
