//! The register's management, for the city's administrators and register editors (online
//! only): declaring and ending 災害モード (administrators), importing the municipality's 名簿 as
//! CSV (checked first, every problem by row and column, then all or nothing), who responds and
//! who edits, and retiring or restoring an entry. The rules are the server's
//! (`server/src/domain/register.rs`); this panel only offers what the overview says the user
//! may do.

use super::Screen;
use crate::api::{self, ApiError};
use crate::i18n::{tr, tr_string};
use crate::ui::session::Session;
use dioxus::prelude::*;
use renraku_contract::{
    DeclareDisaster, LegendEntry, RegisterImportReport, RegisterPartner, RegisterStaff, SetLegend,
    SetRegisterStaff, SetRetired,
};
use wasm_bindgen::JsCast;

const IMPORT_INPUT: &str = "register-import-file";

#[component]
pub fn ManagePanel() -> Element {
    let screen = use_context::<Screen>();
    let overview = screen.overview.read().clone();
    let Some(o) = overview else {
        return rsx! {};
    };
    rsx! {
        section { class: "manage", aria_label: tr("名簿の管理", "Manage the register"),
            if o.admin {
                DisasterControl { declared: o.disaster.is_some() }
            }
            button {
                r#type: "button",
                class: "primary new-entry",
                onclick: move |_| { let mut e = screen.editing; e.set(Some(None)) },
                {tr("＋ 新しく登録", "+ New entry")}
            }
            ImportCsv {}
            LegendEdit {}
            Staff { admin: o.admin }
            Retired {}
        }
    }
}

#[component]
fn DisasterControl(declared: bool) -> Element {
    let session = use_context::<Session>();
    let screen = use_context::<Screen>();
    let mut reason = use_signal(String::new);
    let mut confirm = use_signal(|| false);
    let mut error = use_signal(|| None::<String>);
    let slug = screen.slug.read().clone();
    let url = format!("/api/register/{slug}/disaster");
    let declare = {
        let (url, sess) = (url.clone(), session.clone());
        move |_| {
            let body = DeclareDisaster {
                reason: reason.peek().trim().to_owned(),
            };
            let (url, sess) = (url.clone(), sess.clone());
            spawn(async move {
                match api::post::<_, serde_json::Value>(&url, &body).await {
                    Ok(_) => {
                        reason.set(String::new());
                        error.set(None);
                        let mut r = screen.reload;
                        r += 1;
                    }
                    Err(e) if e.is_unauthorized() => sess.expired(),
                    Err(e) => error.set(Some(e.explain())),
                }
            });
        }
    };
    let end = move |_| {
        let (url, sess) = (url.clone(), session.clone());
        spawn(async move {
            match api::delete(&url).await {
                Ok(()) => {
                    confirm.set(false);
                    error.set(None);
                    let mut r = screen.reload;
                    r += 1;
                }
                Err(e) if e.is_unauthorized() => sess.expired(),
                Err(e) => error.set(Some(e.explain())),
            }
        });
    };
    rsx! {
        div { class: "manage-block",
            h3 { {tr("災害モード", "Disaster mode")} }
            if declared {
                p { {tr("解除すると平常時の表示（同意のある人のみ）に戻ります。安否の記録は残ります。", "Ending it returns to normal times (consenting people only). The marks are kept.")} }
                if confirm() {
                    div { class: "row",
                        button { r#type: "button", class: "secondary danger", onclick: end, {tr("解除する", "End it")} }
                        button { r#type: "button", class: "secondary", onclick: move |_| confirm.set(false), {tr("キャンセル", "Cancel")} }
                    }
                } else {
                    button { r#type: "button", class: "secondary danger", onclick: move |_| confirm.set(true), {tr("災害モードを解除…", "End disaster mode…")} }
                }
            } else {
                p { {tr("発令すると、指定された対応者に全員の情報が表示され、プッシュ通知で知らせます。", "Declaring it shows everyone to the designated responders and tells them by push.")} }
                input {
                    r#type: "text",
                    maxlength: "200",
                    aria_label: tr("発令の理由", "Reason"),
                    placeholder: tr("理由（例: 大雨による浸水）", "Reason (e.g. flooding)"),
                    value: "{reason}",
                    oninput: move |e| reason.set(e.value()),
                }
                button {
                    r#type: "button",
                    class: "primary danger-fill",
                    disabled: reason().trim().is_empty(),
                    onclick: declare,
                    {tr("災害モードを発令する", "Declare disaster mode")}
                }
            }
            if declared {
                Partners {}
            }
            if let Some(msg) = error() {
                p { class: "error", role: "alert", "{msg}" }
            }
        }
    }
}

/// Partner municipalities (a shared wide-area agreement) granted access for this disaster.
#[component]
fn Partners() -> Element {
    let session = use_context::<Session>();
    let screen = use_context::<Screen>();
    let mut partners = use_signal(|| None::<Vec<RegisterPartner>>);
    let mut error = use_signal(|| None::<String>);
    let slug = screen.slug.read().clone();
    let s = slug.clone();
    use_hook(move || {
        spawn(async move {
            match api::get::<Vec<RegisterPartner>>(&format!("/api/register/{s}/partners")).await {
                Ok(l) => partners.set(Some(l)),
                Err(e) => error.set(Some(e.message())),
            }
        });
    });
    let toggle = move |partner: String, grant: bool| {
        let url = format!("/api/register/{slug}/disaster/partners/{partner}");
        let sess = session.clone();
        spawn(async move {
            let result = if grant {
                api::send::<_, serde_json::Value>("PUT", &url, &())
                    .await
                    .map(|_| ())
            } else {
                api::delete(&url).await
            };
            match result {
                Ok(()) => partners.with_mut(|l| {
                    if let Some(p) = l.iter_mut().flatten().find(|p| p.slug == partner) {
                        p.granted = grant;
                    }
                }),
                Err(e) if e.is_unauthorized() => sess.expired(),
                Err(e) => error.set(Some(e.explain())),
            }
        });
    };
    let list = partners().unwrap_or_default();
    rsx! {
        if !list.is_empty() {
            h3 { {tr("広域連携先への公開（この災害の間）", "Partners' responders (for this disaster)")} }
            ul { class: "staff",
                for p in list {
                    li { key: "{p.municipality}",
                        span { class: "name", "{p.name}" }
                        label { class: "check",
                            input {
                                r#type: "checkbox",
                                checked: p.granted,
                                onchange: {
                                    let toggle = toggle.clone();
                                    let slug = p.slug.clone();
                                    move |e: FormEvent| toggle(slug.clone(), e.checked())
                                },
                            }
                            {tr("公開する", "Grant")}
                        }
                    }
                }
            }
        }
        if let Some(msg) = error() {
            p { class: "error", role: "alert", "{msg}" }
        }
    }
}

/// CSV import: a dry run first, its report, then the import itself.
#[component]
fn ImportCsv() -> Element {
    let session = use_context::<Session>();
    let screen = use_context::<Screen>();
    let mut report = use_signal(|| None::<(bool, RegisterImportReport)>);
    let mut error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let slug = screen.slug.read().clone();
    let mut run = move |dry_run: bool| {
        let url = format!("/api/register/{slug}/import?dry_run={dry_run}");
        let sess = session.clone();
        let Some(file) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(IMPORT_INPUT))
            .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
            .and_then(|i| i.files())
            .and_then(|f| f.get(0))
        else {
            error.set(Some(
                tr("CSV ファイルを選んでください。", "Pick a CSV file.").to_owned(),
            ));
            return;
        };
        busy.set(true);
        spawn(async move {
            match api::send_file("POST", &url, &file, "text/csv").await {
                Ok((200 | 422, body)) => {
                    match serde_json::from_str::<RegisterImportReport>(&body) {
                        Ok(r) => {
                            error.set(None);
                            report.set(Some((dry_run, r)));
                            if !dry_run {
                                let mut r = screen.reload;
                                r += 1;
                            }
                        }
                        Err(_) => error.set(Some(ApiError::Unexpected.message())),
                    }
                }
                Ok((401, _)) => sess.expired(),
                Ok((status, body)) => {
                    let why = serde_json::from_str::<renraku_contract::ErrorBody>(&body)
                        .map(|b| b.message)
                        .unwrap_or_else(|_| format!("HTTP {status}"));
                    error.set(Some(why));
                }
                Err(e) => error.set(Some(e.message())),
            }
            busy.set(false);
        });
    };
    let mut run2 = run.clone();
    rsx! {
        div { class: "manage-block",
            h3 { {tr("名簿の取り込み（CSV）", "Import the register (CSV)")} }
            p { class: "muted", {tr("UTF-8 または Shift_JIS、1 行目に列名。まず確認だけを行い、問題がなければ取り込みます（すべて取り込むか、何も取り込まないか）。", "UTF-8 or Shift_JIS with a header row. It is checked first; then imported all or nothing.")} }
            input {
                r#type: "file",
                id: IMPORT_INPUT,
                accept: ".csv,text/csv",
                aria_label: tr("CSV ファイル", "CSV file"),
                onchange: move |_| report.set(None),
            }
            button { r#type: "button", class: "secondary", disabled: busy(), onclick: move |_| run(true), {tr("確認する", "Check")} }
            if let Some(msg) = error() {
                p { class: "error", role: "alert", "{msg}" }
            }
            if let Some((dry, r)) = report() {
                if !r.problems.is_empty() {
                    p { class: "error", role: "alert",
                        {tr_string(format!("{} 件の問題があるため取り込めません。", r.problems.len()), format!("{} problems: nothing can be imported.", r.problems.len()))}
                    }
                    table { class: "problems",
                        thead { tr { th { {tr("行", "Row")} } th { {tr("列", "Column")} } th { {tr("問題", "Problem")} } } }
                        tbody {
                            for (i, p) in r.problems.iter().enumerate() {
                                tr { key: "{i}", td { "{p.row}" } td { "{p.column}" } td { "{p.problem}" } }
                            }
                        }
                    }
                } else {
                    p { role: "status",
                        if dry { {tr("確認結果: ", "Check: ")} } else { {tr("取り込みました: ", "Imported: ")} }
                        {tr_string(format!("新規 {} 人、更新 {} 人、変更なし {} 人", r.created.len(), r.updated.len(), r.unchanged), format!("{} new, {} updated, {} unchanged", r.created.len(), r.updated.len(), r.unchanged))}
                    }
                    if !r.updated.is_empty() {
                        ul { class: "changes",
                            for u in r.updated.iter() {
                                li { key: "{u.row}", {tr_string(format!("{} 行目（{}）: {}", u.row, u.external_id, u.changed.join("、")), format!("row {} ({}): {}", u.row, u.external_id, u.changed.join(", ")))} }
                            }
                        }
                    }
                    if dry {
                        button { r#type: "button", class: "primary", disabled: busy(), onclick: move |_| run2(false), {tr("この内容で取り込む", "Import it")} }
                    }
                }
            }
        }
    }
}

/// Who responds (and, for administrators, who edits).
#[component]
fn Staff(admin: bool) -> Element {
    let session = use_context::<Session>();
    let screen = use_context::<Screen>();
    let mut staff = use_signal(|| None::<Vec<RegisterStaff>>);
    let mut open = use_signal(|| false);
    let mut error = use_signal(|| None::<String>);
    let slug = screen.slug.read().clone();
    let url = format!("/api/register/{slug}/staff");
    let load = {
        let url = url.clone();
        move |_| {
            open.set(!open());
            if staff.peek().is_some() {
                return;
            }
            let url = url.clone();
            spawn(async move {
                match api::get::<Vec<RegisterStaff>>(&url).await {
                    Ok(list) => staff.set(Some(list)),
                    Err(e) => error.set(Some(e.message())),
                }
            });
        }
    };
    let set = move |user: renraku_sync::UserId, editor: bool, responder: bool| {
        let url = format!("{url}/{user}");
        let sess = session.clone();
        spawn(async move {
            match api::send::<_, serde_json::Value>(
                "PUT",
                &url,
                &SetRegisterStaff { editor, responder },
            )
            .await
            {
                Ok(_) => staff.with_mut(|l| {
                    if let Some(s) = l.iter_mut().flatten().find(|s| s.user == user) {
                        s.editor = editor;
                        s.responder = responder;
                    }
                }),
                Err(e) if e.is_unauthorized() => sess.expired(),
                Err(e) => error.set(Some(e.explain())),
            }
        });
    };
    rsx! {
        div { class: "manage-block",
            button { r#type: "button", class: "secondary", aria_expanded: if open() { "true" } else { "false" }, onclick: load,
                {tr("対応者・編集者の指定", "Responders and editors")}
            }
            if let Some(msg) = error() {
                p { class: "error", role: "alert", "{msg}" }
            }
            if open() {
                if let Some(list) = staff() {
                    ul { class: "staff",
                        for s in list {
                            li { key: "{s.user}",
                                span { class: "name", "{s.display_name}" }
                                label { class: "check",
                                    input {
                                        r#type: "checkbox",
                                        checked: s.responder,
                                        onchange: {
                                            let set = set.clone();
                                            move |e: FormEvent| set(s.user, s.editor, e.checked())
                                        },
                                    }
                                    {tr("対応者", "Responder")}
                                }
                                label { class: "check",
                                    input {
                                        r#type: "checkbox",
                                        checked: s.editor,
                                        disabled: !admin,
                                        onchange: {
                                            let set = set.clone();
                                            move |e: FormEvent| set(s.user, e.checked(), s.responder)
                                        },
                                    }
                                    {tr("編集者", "Editor")}
                                }
                            }
                        }
                    }
                } else {
                    p { class: "muted", {tr("読み込み中…", "Loading…")} }
                }
            }
        }
    }
}

/// Retired entries (moved, died, withdrew): kept, never deleted; restored here.
#[component]
fn Retired() -> Element {
    let screen = use_context::<Screen>();
    let mut list = use_signal(|| None::<Vec<renraku_contract::RegisterPerson>>);
    let mut open = use_signal(|| false);
    let slug = screen.slug.read().clone();
    let url = format!("/api/register/{slug}/people?retired=true");
    let toggle = move |_| {
        open.set(!open());
        let url = url.clone();
        spawn(async move {
            if let Ok(l) = api::get(&url).await {
                list.set(Some(l));
            }
        });
    };
    let restore = move |id: renraku_contract::RegisterPersonId| {
        let url = format!("/api/register/{slug}/people/{id}/retired");
        spawn(async move {
            if api::send::<_, serde_json::Value>("PUT", &url, &SetRetired { retired: false })
                .await
                .is_ok()
            {
                list.with_mut(|l| {
                    if let Some(l) = l.as_mut() {
                        l.retain(|p| p.id != id);
                    }
                });
                let mut r = screen.reload;
                r += 1;
            }
        });
    };
    rsx! {
        div { class: "manage-block",
            button { r#type: "button", class: "secondary", aria_expanded: if open() { "true" } else { "false" }, onclick: toggle,
                {tr("除外した人", "Retired entries")}
            }
            if open() {
                match list() {
                    None => rsx! { p { class: "muted", {tr("読み込み中…", "Loading…")} } },
                    Some(l) if l.is_empty() => rsx! { p { class: "muted", {tr("ありません。", "None.")} } },
                    Some(l) => rsx! {
                        ul { class: "staff",
                            for p in l {
                                li { key: "{p.id}",
                                    span { class: "name", "{p.fields.name}" }
                                    button { r#type: "button", class: "secondary small", onclick: {
                                        let restore = restore.clone();
                                        move |_| restore(p.id)
                                    }, {tr("名簿に戻す", "Restore")} }
                                }
                            }
                        }
                    },
                }
            }
        }
    }
}

/// Retires an entry (the card's button for managers).
pub async fn retire(slug: &str, id: renraku_contract::RegisterPersonId) -> api::ApiResult<()> {
    let url = format!("/api/register/{slug}/people/{id}/retired");
    api::send::<_, serde_json::Value>("PUT", &url, &SetRetired { retired: true })
        .await
        .map(|_| ())
}

/// What each colour means in this municipality.
#[component]
fn LegendEdit() -> Element {
    let session = use_context::<Session>();
    let screen = use_context::<Screen>();
    let mut open = use_signal(|| false);
    let mut entries = use_signal(|| {
        screen
            .overview
            .peek()
            .as_ref()
            .map(|o| o.legend.clone())
            .unwrap_or_default()
    });
    let mut error = use_signal(|| None::<String>);
    let slug = screen.slug.read().clone();
    let save = move |_| {
        let url = format!("/api/register/{slug}/legend");
        let body = SetLegend {
            legend: entries.peek().clone(),
        };
        let sess = session.clone();
        spawn(async move {
            match api::send::<_, serde_json::Value>("PUT", &url, &body).await {
                Ok(_) => {
                    open.set(false);
                    error.set(None);
                    let mut r = screen.reload;
                    r += 1;
                }
                Err(e) if e.is_unauthorized() => sess.expired(),
                Err(e) => error.set(Some(e.explain())),
            }
        });
    };
    rsx! {
        div { class: "manage-block",
            button { r#type: "button", class: "secondary", aria_expanded: if open() { "true" } else { "false" }, onclick: move |_| open.set(!open()),
                {tr("凡例（色の意味）", "Legend (what colours mean)")}
            }
            if open() {
                for (i, e) in entries().into_iter().enumerate() {
                    label { key: "{e.label.as_str()}", class: "field",
                        "{super::labels::colour(e.label)}"
                        input {
                            r#type: "text",
                            maxlength: "200",
                            value: "{e.meaning}",
                            oninput: move |ev| entries.with_mut(|l: &mut Vec<LegendEntry>| l[i].meaning = ev.value()),
                        }
                    }
                }
                button { r#type: "button", class: "primary", onclick: save, {tr("凡例を保存", "Save the legend")} }
                if let Some(msg) = error() {
                    p { class: "error", role: "alert", "{msg}" }
                }
            }
        }
    }
}
