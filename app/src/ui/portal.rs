//! `/{m}/`: the municipality's name and announcements, and sign-in — password, then the
//! second-factor code when the account has one, or enrolment when the municipality requires
//! a second factor the account lacks.

use crate::api::{self, ErrorCode, Me, MunicipalityPortal, SecondFactorKind};
use crate::i18n::tr;
use dioxus::prelude::*;

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Password,
    /// The password was right; the server wants a TOTP or recovery code, or the passkey
    /// (`factors` says which the account has).
    SecondFactor,
    /// Signed in with a session that may only enrol a second factor.
    Enrol,
}

#[component]
pub fn Portal(
    slug: String,
    municipality: Option<MunicipalityPortal>,
    on_signed_in: EventHandler<Me>,
) -> Element {
    let name = municipality
        .as_ref()
        .map(|m| m.name.clone())
        .unwrap_or_default();
    let announcements = municipality.map(|m| m.announcements).unwrap_or_default();
    rsx! {
        header { class: "topbar",
            h1 { class: "brand", "Renraku 連絡" }
            span { class: "muni", "{name}" }
        }
        main { class: "portal",
            if !announcements.is_empty() {
                section { class: "card announcements", aria_label: tr("お知らせ", "Announcements"),
                    h2 { {tr("お知らせ", "Announcements")} }
                    ul {
                        for (i, a) in announcements.into_iter().enumerate() {
                            li { key: "{i}",
                                strong { "{a.title}" }
                                if !a.body.is_empty() {
                                    p { "{a.body}" }
                                }
                            }
                        }
                    }
                }
            }
            if let Some(why) = *crate::ui::session::SESSION_ENDED.read() {
                p { class: "card session-ended", role: "status",
                    {crate::ui::session::ended_message(why)}
                }
            }
            crate::ui::signout::OwedNote {}
            SignIn { slug, on_signed_in }
        }
    }
}

#[component]
fn SignIn(slug: String, on_signed_in: EventHandler<Me>) -> Element {
    let mut login_id = use_signal(String::new);
    let mut password = use_signal(String::new);
    let mut code = use_signal(String::new);
    let mut step = use_signal(|| Step::Password);
    let mut factors = use_signal(Vec::<SecondFactorKind>::new);
    let mut error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let slug_for_passkey = slug.clone();

    let submit = move |e: FormEvent| {
        e.prevent_default();
        if busy() {
            return;
        }
        let slug = slug.clone();
        busy.set(true);
        error.set(None);
        spawn(async move {
            let code_now = code.peek().clone();
            let with_code = (*step.peek() == Step::SecondFactor).then_some(code_now.as_str());
            let result = api::sign_in(&slug, &login_id.peek(), &password.peek(), with_code).await;
            busy.set(false);
            match result {
                Ok(ok) if ok.enrolment_required => step.set(Step::Enrol),
                Ok(_) => match api::get::<Me>("/api/me").await {
                    Ok(me) => {
                        password.set(String::new());
                        on_signed_in.call(me);
                    }
                    Err(e) => error.set(Some(e.message())),
                },
                Err(e) => match e.code() {
                    Some(ErrorCode::SecondFactorRequired) => {
                        factors.set(e.second_factors().to_vec());
                        step.set(Step::SecondFactor);
                    }
                    Some(ErrorCode::BadSecondFactor) => error.set(Some(
                        tr("確認コードが違います。", "The code is not right.").into(),
                    )),
                    Some(ErrorCode::BadCredentials) | Some(ErrorCode::BadRequest) => {
                        error.set(Some(
                            tr(
                                "ログイン ID またはパスワードが違います。",
                                "Wrong login ID or password.",
                            )
                            .into(),
                        ))
                    }
                    _ => error.set(Some(e.message())),
                },
            }
        });
    };

    // With the password typed already: the passkey is the second factor. On the first step:
    // password-less, the authenticator names the account.
    let with_passkey = use_callback(move |()| {
        if busy() {
            return;
        }
        let slug = slug_for_passkey.clone();
        busy.set(true);
        error.set(None);
        spawn(async move {
            let second_factor = *step.peek() == Step::SecondFactor;
            let (login, pass) = (login_id.peek().clone(), password.peek().clone());
            let credentials = second_factor.then_some((login.as_str(), pass.as_str()));
            let result = crate::passkey::sign_in(&slug, credentials).await;
            busy.set(false);
            match result {
                Ok(ok) if ok.enrolment_required => step.set(Step::Enrol),
                Ok(_) => match api::get::<Me>("/api/me").await {
                    Ok(me) => {
                        password.set(String::new());
                        on_signed_in.call(me);
                    }
                    Err(e) => error.set(Some(e.message())),
                },
                Err(msg) => error.set(Some(msg)),
            }
        });
    });
    let has_passkey = factors.read().contains(&SecondFactorKind::Passkey);
    // Accounts from before the server named the factors have TOTP.
    let has_totp = factors.read().is_empty() || factors.read().contains(&SecondFactorKind::Totp);

    if step() == Step::Enrol {
        return rsx! {
            Enrol {
                on_done: move |_| {
                    spawn(async move {
                        match api::get::<Me>("/api/me").await {
                            Ok(me) => on_signed_in.call(me),
                            Err(e) => error.set(Some(e.message())),
                        }
                    });
                },
            }
        };
    }

    rsx! {
        section { class: "card",
            h2 { {tr("サインイン", "Sign in")} }
            form { onsubmit: submit,
                if step() == Step::Password {
                    label { r#for: "login-id", {tr("ログイン ID", "Login ID")} }
                    input {
                        id: "login-id",
                        name: "login_id",
                        autocomplete: "username",
                        autocapitalize: "none",
                        required: true,
                        value: "{login_id}",
                        oninput: move |e| login_id.set(e.value()),
                    }
                    label { r#for: "password", {tr("パスワード", "Password")} }
                    input {
                        id: "password",
                        name: "password",
                        r#type: "password",
                        autocomplete: "current-password",
                        required: true,
                        value: "{password}",
                        oninput: move |e| password.set(e.value()),
                    }
                } else if has_totp {
                    p { {tr("認証アプリに表示されている 6 桁の確認コード（または回復コード）を入力してください。",
                            "Enter the 6-digit code from your authenticator app (or a recovery code).")} }
                    label { r#for: "code", {tr("確認コード", "Code")} }
                    input {
                        id: "code",
                        name: "code",
                        autocomplete: "one-time-code",
                        inputmode: "numeric",
                        required: true,
                        value: "{code}",
                        oninput: move |e| code.set(e.value()),
                    }
                }
                if step() == Step::SecondFactor && has_passkey {
                    p { {tr("登録したパスキー（指紋・顔認証や画面ロック）で本人確認できます。",
                            "You can confirm with your passkey (fingerprint, face or screen lock).")} }
                    button { class: if has_totp { "secondary" } else { "primary" }, r#type: "button",
                        disabled: busy(), onclick: move |_| with_passkey.call(()),
                        {tr("パスキーで確認", "Confirm with a passkey")}
                    }
                }
                if let Some(msg) = error() {
                    p { class: "error", role: "alert", "{msg}" }
                }
                if step() == Step::Password || has_totp {
                    button { class: "primary", r#type: "submit", disabled: busy(),
                        if busy() { {tr("サインイン中…", "Signing in…")} } else { {tr("サインイン", "Sign in")} }
                    }
                }
                if step() == Step::Password && crate::passkey::supported() {
                    button { class: "secondary", r#type: "button", disabled: busy(), onclick: move |_| with_passkey.call(()),
                        {tr("パスキーを使う", "Use a passkey")}
                    }
                }
            }
        }
    }
}

use renraku_contract::{RecoveryCodes, TotpCode, TotpSetup};

/// The municipality requires a second factor: set up an authenticator app now.
#[component]
fn Enrol(on_done: EventHandler<()>) -> Element {
    let setup =
        use_resource(|| async { api::post::<(), TotpSetup>("/api/me/totp/setup", &()).await });
    let mut code = use_signal(String::new);
    let mut error = use_signal(|| None::<String>);
    let mut recovery = use_signal(|| None::<Vec<String>>);

    let confirm = move |e: FormEvent| {
        e.prevent_default();
        spawn(async move {
            let body = TotpCode {
                code: code.peek().trim().to_owned(),
            };
            match api::post::<_, RecoveryCodes>("/api/me/totp/confirm", &body).await {
                Ok(r) => recovery.set(Some(r.recovery_codes)),
                Err(e) if e.code() == Some(ErrorCode::InvalidCode) => error.set(Some(
                    tr("確認コードが違います。", "The code is not right.").into(),
                )),
                Err(e) => error.set(Some(e.message())),
            }
        });
    };

    if let Some(codes) = recovery() {
        return rsx! {
            section { class: "card",
                h2 { {tr("回復コード", "Recovery codes")} }
                p { {tr("端末をなくしたときに使います。安全な場所に控えてください（各コード 1 回限り）。",
                        "Use these if you lose your device. Keep them somewhere safe (each works once).")} }
                ul { class: "codes",
                    for c in codes { li { key: "{c}", code { "{c}" } } }
                }
                button { class: "primary", r#type: "button", onclick: move |_| on_done.call(()),
                    {tr("続ける", "Continue")}
                }
            }
        };
    }

    rsx! {
        section { class: "card",
            h2 { {tr("二段階認証の設定", "Set up two-step sign-in")} }
            p { {tr("この自治体では二段階認証が必須です。認証アプリに次の鍵を登録し、表示されたコードを入力してください。",
                    "This municipality requires two-step sign-in. Add this key to your authenticator app and enter the code it shows.")} }
            match &*setup.read() {
                None => rsx! { p { class: "muted", {tr("読み込み中…", "Loading…")} } },
                Some(Ok(s)) => rsx! { p { class: "secret", code { "{s.secret}" } } },
                Some(Err(e)) => rsx! { p { class: "error", role: "alert", "{e.message()}" } },
            }
            form { onsubmit: confirm,
                label { r#for: "enrol-code", {tr("確認コード", "Code")} }
                input {
                    id: "enrol-code",
                    inputmode: "numeric",
                    autocomplete: "one-time-code",
                    required: true,
                    value: "{code}",
                    oninput: move |e| code.set(e.value()),
                }
                if let Some(msg) = error() {
                    p { class: "error", role: "alert", "{msg}" }
                }
                button { class: "primary", r#type: "submit", {tr("確認", "Confirm")} }
            }
            if crate::passkey::supported() {
                p { {tr("または、この端末のパスキー（指紋・顔認証や画面ロック）を登録します。",
                        "Or register this device's passkey (fingerprint, face or screen lock).")} }
                button {
                    class: "secondary",
                    r#type: "button",
                    onclick: move |_| {
                        spawn(async move {
                            match crate::passkey::register("").await {
                                Ok(()) => on_done.call(()),
                                Err(msg) => error.set(Some(msg)),
                            }
                        });
                    },
                    {tr("パスキーを登録", "Register a passkey")}
                }
            }
        }
    }
}
