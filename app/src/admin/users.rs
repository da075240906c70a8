//! Accounts of the municipality: list and filter, create (the temporary password is shown
//! once), edit, disable / enable, reset the password.

use super::organizations::Organization;
use super::Session;
use super::{check, load, murl, profession_options, Choice, Field, FormError, LoadState};
use crate::api::ErrorCode;
use crate::api::{self, profession_label};
use crate::i18n::{tr, tr_string};
use crate::ui::widgets::Sheet;
use crate::util;
use dioxus::prelude::*;
use renraku_contract::{
    CreatedAccount, Disabled, NewAccount, OrganizationId, PasswordReset, Profession, Role,
    UserListing, UserUpdate,
};

/// An account as the admin API lists it.
pub type Account = UserListing;

fn role_label(role: Role) -> &'static str {
    match role {
        Role::MunicipalityAdmin => tr("自治体管理者", "Municipality admin"),
        Role::SystemAdmin => tr("システム管理者", "System admin"),
        Role::Member => tr("一般", "Member"),
    }
}

fn role_options(system: bool) -> Vec<(String, String)> {
    let mut roles = vec![Role::Member, Role::MunicipalityAdmin];
    if system {
        roles.push(Role::SystemAdmin);
    }
    roles
        .into_iter()
        .map(|r| (r.as_str().to_owned(), role_label(r).to_owned()))
        .collect()
}

fn org_options(orgs: &[Organization]) -> Vec<(String, String)> {
    let mut out = vec![("0".to_owned(), tr("（所属なし）", "(none)").to_owned())];
    out.extend(orgs.iter().map(|o| (o.id.to_string(), o.name.clone())));
    out
}

#[derive(Clone, PartialEq)]
enum Open {
    Nothing,
    Create,
    Edit(Account),
    /// A temporary password to hand over, shown this once.
    Password {
        who: String,
        login: String,
        password: String,
    },
}

#[derive(Clone, Copy, PartialEq)]
enum Status {
    All,
    Active,
    Disabled,
}

#[component]
pub fn Users() -> Element {
    let session = use_context::<Session>();
    let s = session.clone();
    let mut accounts = use_resource(move || {
        let s = s.clone();
        async move { load::<Vec<Account>>(&s, &murl(&s.slug, "users")).await }
    });
    let s = session.clone();
    let orgs = use_resource(move || {
        let s = s.clone();
        async move { load::<Vec<Organization>>(&s, &murl(&s.slug, "organizations")).await }
    });
    let mut filter = use_signal(String::new);
    let mut status = use_signal(|| Status::All);
    let mut open = use_signal(|| Open::Nothing);
    let mut notice = use_signal(|| None::<String>);

    let orgs_now = orgs.read().clone().and_then(Result::ok).unwrap_or_default();
    let list = accounts.read().clone();
    let shown: Vec<Account> = match &list {
        Some(Ok(all)) => all
            .iter()
            .filter(|a| match status() {
                Status::All => true,
                Status::Active => !a.disabled,
                Status::Disabled => a.disabled,
            })
            .filter(|a| {
                util::matches_filter(
                    &filter(),
                    &[
                        &a.display_name,
                        &a.display_name_kana,
                        &a.login_id,
                        a.organization_name.as_deref().unwrap_or(""),
                        profession_label(a.profession),
                    ],
                )
            })
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    let total = list
        .as_ref()
        .and_then(|l| l.as_ref().ok())
        .map_or(0, Vec::len);
    let me = session.me.user.id;

    rsx! {
        div { class: "admin-toolbar",
            input {
                r#type: "search",
                aria_label: tr("名前・かな・ログイン ID・事業所で絞り込み", "Filter by name, kana, login ID, organization"),
                placeholder: tr("名前・かな・ID・事業所で絞り込み", "Filter by name, ID, organization"),
                value: "{filter}",
                oninput: move |e| filter.set(e.value()),
            }
            div { class: "chips", role: "group", aria_label: tr("状態", "Status"),
                for (st, label) in [(Status::All, tr("すべて", "All")), (Status::Active, tr("有効", "Active")), (Status::Disabled, tr("無効", "Disabled"))] {
                    button {
                        r#type: "button",
                        class: if status() == st { "chip on" } else { "chip" },
                        aria_pressed: if status() == st { "true" } else { "false" },
                        onclick: move |_| status.set(st),
                        "{label}"
                    }
                }
            }
            button { class: "primary", r#type: "button", onclick: move |_| open.set(Open::Create),
                {tr("＋ アカウントを作成", "+ New account")}
            }
        }
        if let Some(msg) = notice() {
            p { class: "admin-notice", role: "status", "{msg}" }
        }
        match list {
            None => rsx! { LoadState {} },
            Some(Err(e)) => rsx! { LoadState { error: e } },
            Some(Ok(_)) => rsx! {
                p { class: "muted pad admin-count",
                    {tr_string(format!("{} 件 / 全 {total} 件", shown.len()), format!("{} of {total}", shown.len()))}
                }
                ul { class: "admin-list", aria_label: tr("アカウント一覧", "Accounts"),
                    for a in shown {
                        li { key: "{a.id}",
                            button {
                                r#type: "button",
                                class: if a.disabled { "admin-item disabled" } else { "admin-item" },
                                onclick: {
                                    let a = a.clone();
                                    move |_| open.set(Open::Edit(a.clone()))
                                },
                                span { class: "name",
                                    "{a.display_name}"
                                    if a.id == me {
                                        span { class: "tag", {tr("自分", "You")} }
                                    }
                                    if a.role.is_admin() {
                                        span { class: "tag admin", "{role_label(a.role)}" }
                                    }
                                    if a.disabled {
                                        span { class: "tag off", {tr("無効", "Disabled")} }
                                    }
                                    if a.must_change_password {
                                        span { class: "tag warn", {tr("要パスワード変更", "Must change password")} }
                                    }
                                }
                                span { class: "meta",
                                    "{a.login_id} · {profession_label(a.profession)}"
                                    if let Some(org) = &a.organization_name {
                                        " · {org}"
                                    }
                                }
                            }
                        }
                    }
                }
            },
        }
        match open() {
            Open::Nothing => rsx! {},
            Open::Create => rsx! {
                CreateAccount {
                    orgs: orgs_now.clone(),
                    on_close: move |_| open.set(Open::Nothing),
                    on_created: move |c: (Account, String)| {
                        accounts.restart();
                        notice.set(None);
                        open.set(Open::Password { who: c.0.display_name.clone(), login: c.0.login_id.clone(), password: c.1 });
                    },
                }
            },
            Open::Edit(a) => rsx! {
                EditAccount {
                    account: a,
                    orgs: orgs_now.clone(),
                    on_close: move |_| open.set(Open::Nothing),
                    on_done: move |msg: Option<String>| {
                        accounts.restart();
                        notice.set(msg);
                        open.set(Open::Nothing);
                    },
                    on_password: move |p: (Account, String)| {
                        accounts.restart();
                        open.set(Open::Password { who: p.0.display_name.clone(), login: p.0.login_id.clone(), password: p.1 });
                    },
                }
            },
            Open::Password { who, login, password } => rsx! {
                Sheet { title: tr("仮パスワード", "Temporary password").to_owned(), on_close: move |_| open.set(Open::Nothing),
                    p { "{who}（{login}）" }
                    p { class: "temp-password", code { aria_label: tr("仮パスワード", "Temporary password"), "{password}" } }
                    p { class: "muted",
                        {tr(
                            "この画面を閉じると二度と表示できません。本人に安全な方法で伝えてください。最初のサインインで新しいパスワードへの変更が求められます。",
                            "It is never shown again once closed. Hand it over safely; a new password must be set at the first sign-in.",
                        )}
                    }
                    button { class: "primary wide", r#type: "button", onclick: move |_| open.set(Open::Nothing),
                        {tr("控えました", "I have noted it")}
                    }
                }
            },
        }
    }
}

#[component]
fn CreateAccount(
    orgs: Vec<Organization>,
    on_close: EventHandler<()>,
    on_created: EventHandler<(Account, String)>,
) -> Element {
    let session = use_context::<Session>();
    let system = super::is_system(&session);
    let login = use_signal(String::new);
    let name = use_signal(String::new);
    let kana = use_signal(String::new);
    let profession = use_signal(|| Profession::Nurse.as_str().to_owned());
    let role = use_signal(|| Role::Member.as_str().to_owned());
    let org = use_signal(|| "0".to_owned());
    let mut error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);

    let submit = move |e: FormEvent| {
        e.prevent_default();
        if busy() {
            return;
        }
        busy.set(true);
        error.set(None);
        let s = session.clone();
        spawn(async move {
            let body = NewAccount {
                login_id: login.peek().trim().to_owned(),
                display_name: name.peek().clone(),
                display_name_kana: kana.peek().clone(),
                profession: Profession::parse(&profession.peek()).unwrap_or(Profession::Other),
                role: Role::parse(&role.peek()),
                organization: org
                    .peek()
                    .parse()
                    .ok()
                    .filter(|o| *o != 0)
                    .map(OrganizationId::new),
            };
            let result = api::post::<_, CreatedAccount>(&murl(&s.slug, "users"), &body).await;
            busy.set(false);
            match result {
                Ok(c) => on_created.call((c.user, c.temporary_password)),
                Err(e) if e.code() == Some(ErrorCode::Conflict) => error.set(Some(
                    tr(
                        "このログイン ID はすでに使われています。",
                        "This login ID is taken.",
                    )
                    .into(),
                )),
                Err(e) => {
                    if let Err(msg) = check::<()>(&s, Err(e)) {
                        error.set(Some(msg));
                    }
                }
            }
        });
    };

    rsx! {
        Sheet { title: tr("アカウントを作成", "New account").to_owned(), on_close: move |_| on_close.call(()),
            form { class: "admin-form", onsubmit: submit,
                Field { id: "new-login", label: tr("ログイン ID", "Login ID").to_owned(), value: login, required: true,
                    hint: tr("半角英数字と . _ - @（64 文字まで）", "ASCII letters, digits and . _ - @ (up to 64)").to_owned() }
                Field { id: "new-name", label: tr("氏名", "Name").to_owned(), value: name, required: true }
                Field { id: "new-kana", label: tr("ふりがな", "Name in kana").to_owned(), value: kana, required: true }
                Choice { id: "new-profession", label: tr("職種", "Profession").to_owned(), value: profession, options: profession_options() }
                Choice { id: "new-org", label: tr("所属事業所", "Organization").to_owned(), value: org, options: org_options(&orgs) }
                Choice { id: "new-role", label: tr("権限", "Role").to_owned(), value: role, options: role_options(system) }
                FormError { error: error() }
                button { class: "primary", r#type: "submit", disabled: busy(),
                    if busy() { {tr("作成中…", "Creating…")} } else { {tr("作成する", "Create")} }
                }
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Confirm {
    None,
    Disable,
    Reset,
}

#[component]
fn EditAccount(
    account: Account,
    orgs: Vec<Organization>,
    on_close: EventHandler<()>,
    on_done: EventHandler<Option<String>>,
    on_password: EventHandler<(Account, String)>,
) -> Element {
    let session = use_context::<Session>();
    let system = super::is_system(&session);
    let is_me = account.id == session.me.user.id;
    let a = account.clone();
    let name = use_signal(|| a.display_name.clone());
    let kana = use_signal(|| a.display_name_kana.clone());
    let profession = use_signal(|| a.profession.as_str().to_owned());
    let role = use_signal(|| a.role.as_str().to_owned());
    let org = use_signal(|| a.organization.map_or(0, OrganizationId::get).to_string());
    let mut confirm = use_signal(|| Confirm::None);
    let mut error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let id = account.id;

    let s = session.clone();
    let save = move |e: FormEvent| {
        e.prevent_default();
        if busy() {
            return;
        }
        busy.set(true);
        error.set(None);
        let s = s.clone();
        spawn(async move {
            let body = UserUpdate {
                display_name: Some(name.peek().clone()),
                display_name_kana: Some(kana.peek().clone()),
                profession: Profession::parse(&profession.peek()),
                role: if is_me {
                    None
                } else {
                    Role::parse(&role.peek())
                },
                organization: Some(OrganizationId::new(org.peek().parse().unwrap_or(0))),
            };
            let result =
                api::send::<_, Account>("PATCH", &format!("/api/admin/users/{id}"), &body).await;
            busy.set(false);
            match check(&s, result) {
                Ok(_) => on_done.call(Some(tr("保存しました。", "Saved.").into())),
                Err(msg) => error.set(Some(msg)),
            }
        });
    };

    let s = session.clone();
    let who = account.display_name.clone();
    let set_disabled = move |disable: bool| {
        if busy() {
            return;
        }
        busy.set(true);
        error.set(None);
        let s = s.clone();
        let who = who.clone();
        spawn(async move {
            let url = format!(
                "/api/admin/users/{id}/{}",
                if disable { "disable" } else { "enable" }
            );
            let result = if disable {
                api::post::<_, Disabled>(&url, &())
                    .await
                    .map(|d| {
                        tr_string(
                            format!(
                                "{who} さんを無効にしました（セッション {} 件を終了、接続 {} 件を切断）。",
                                d.sessions_ended, d.connections_closed
                            ),
                            format!(
                                "{who} is disabled ({} sessions ended, {} connections closed).",
                                d.sessions_ended, d.connections_closed
                            ),
                        )
                    })
            } else {
                api::post::<_, ()>(&url, &()).await.map(|_| {
                    tr_string(
                        format!("{who} さんを有効にしました。"),
                        format!("{who} is enabled again."),
                    )
                })
            };
            busy.set(false);
            match check(&s, result) {
                Ok(msg) => on_done.call(Some(msg)),
                Err(msg) => error.set(Some(msg)),
            }
        });
    };
    let mut set_disabled2 = set_disabled.clone();
    let mut set_disabled = set_disabled;

    let s = session.clone();
    let a = account.clone();
    let reset = move |_| {
        if busy() {
            return;
        }
        busy.set(true);
        error.set(None);
        let s = s.clone();
        let a = a.clone();
        spawn(async move {
            let url = format!("/api/admin/users/{id}/reset-password");
            let result = api::post::<_, PasswordReset>(&url, &()).await;
            busy.set(false);
            match check(&s, result) {
                Ok(r) => on_password.call((a, r.temporary_password)),
                Err(msg) => error.set(Some(msg)),
            }
        });
    };

    let roles = role_options(system || account.role == Role::SystemAdmin);
    rsx! {
        Sheet { title: tr_string(format!("{} さん", account.display_name), account.display_name.clone()), on_close: move |_| on_close.call(()),
            p { class: "muted", "{account.login_id}" }
            if account.disabled {
                p { class: "admin-notice warn", {tr("このアカウントは無効です。", "This account is disabled.")} }
            }
            form { class: "admin-form", onsubmit: save,
                Field { id: "edit-name", label: tr("氏名", "Name").to_owned(), value: name, required: true }
                Field { id: "edit-kana", label: tr("ふりがな", "Name in kana").to_owned(), value: kana, required: true }
                Choice { id: "edit-profession", label: tr("職種", "Profession").to_owned(), value: profession, options: profession_options() }
                Choice { id: "edit-org", label: tr("所属事業所", "Organization").to_owned(), value: org, options: org_options(&orgs) }
                if is_me {
                    p { class: "muted", {tr("自分の権限は変更できません。", "You cannot change your own role.")} }
                } else {
                    Choice { id: "edit-role", label: tr("権限", "Role").to_owned(), value: role, options: roles }
                }
                FormError { error: error() }
                button { class: "primary", r#type: "submit", disabled: busy(), {tr("保存する", "Save")} }
            }
            if !is_me {
                div { class: "admin-actions",
                    h3 { {tr("操作", "Actions")} }
                    match confirm() {
                        Confirm::Disable => rsx! {
                            p { class: "admin-notice warn", role: "alert",
                                {tr(
                                    "無効にすると、この人のサインイン中の端末はすべてすぐにサインアウトされ、接続も切れます。",
                                    "Disabling signs this person out on every device at once and closes their connections.",
                                )}
                            }
                            div { class: "row",
                                button { class: "secondary", r#type: "button", onclick: move |_| confirm.set(Confirm::None), {tr("やめる", "Cancel")} }
                                button { class: "primary danger-fill", r#type: "button", disabled: busy(), onclick: move |_| set_disabled(true),
                                    {tr("無効にする（確定）", "Disable now")}
                                }
                            }
                        },
                        Confirm::Reset => rsx! {
                            p { class: "admin-notice warn", role: "alert",
                                {tr(
                                    "仮パスワードを発行します。今のパスワードは使えなくなり、サインイン中の端末はサインアウトされます。",
                                    "A temporary password replaces the current one, and every device is signed out.",
                                )}
                            }
                            div { class: "row",
                                button { class: "secondary", r#type: "button", onclick: move |_| confirm.set(Confirm::None), {tr("やめる", "Cancel")} }
                                button { class: "primary", r#type: "button", disabled: busy(), onclick: reset,
                                    {tr("再設定する（確定）", "Reset now")}
                                }
                            }
                        },
                        Confirm::None => rsx! {
                            button { class: "secondary wide", r#type: "button", onclick: move |_| confirm.set(Confirm::Reset),
                                {tr("パスワードを再設定", "Reset password")}
                            }
                            if account.disabled {
                                button { class: "secondary wide", r#type: "button", disabled: busy(), onclick: move |_| set_disabled2(false),
                                    {tr("有効にする", "Enable")}
                                }
                            } else {
                                button { class: "secondary danger wide", r#type: "button", onclick: move |_| confirm.set(Confirm::Disable),
                                    {tr("無効にする", "Disable")}
                                }
                            }
                        },
                    }
                }
            }
        }
    }
}
