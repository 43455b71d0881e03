//! Pieces every page uses: loading, empty and error states, field errors, stat cards,
//! progress bars, status badges, and a campaign whose counters follow its live events.

use leptos::prelude::*;
use promo_api_types::panel::CampaignSummary;
use send_wrapper::SendWrapper;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::api::{Answer, Failure};
use crate::state::{num, t};

#[component]
pub fn Loading() -> impl IntoView {
    view! {
        <div class="state loading" role="status" aria-live="polite">
            <span class="spinner" aria-hidden="true"></span>
            {move || t("Загрузка…", "Loading…")}
        </div>
    }
}

#[component]
pub fn Empty(#[prop(into)] text: Signal<String>) -> impl IntoView {
    view! { <div class="state empty">{move || text.get()}</div> }
}

#[component]
pub fn ErrorBox(error: Failure) -> impl IntoView {
    let message = error.message.clone();
    let status = error.status;
    view! {
        <div class="state error" role="alert">
            <strong>{move || t("Ошибка", "Error")}</strong>
            {(status > 0).then(|| format!(" {status}"))}
            ": "
            {message}
        </div>
    }
}

/// The message of a failed request, shown under a form unless it names a field the
/// form shows itself.
#[component]
pub fn FormError(
    #[prop(into)] error: Signal<Option<Failure>>,
    /// The fields the form shows their own errors at (with [`FieldError`]).
    #[prop(optional)]
    shown_at: &'static [&'static str],
) -> impl IntoView {
    move || {
        error
            .get()
            .filter(|e| !shown_at.iter().any(|f| e.is_field(f)))
            .map(|e| {
                view! { <div class="form-error" role="alert">{e.message}</div> }
            })
    }
}

/// The API's (or the form check's) message for `field`, next to that field.
#[component]
pub fn FieldError(error: RwSignal<Option<Failure>>, field: &'static str) -> impl IntoView {
    move || {
        error
            .get()
            .filter(|e| e.is_field(field))
            .map(|e| view! { <div class="field-error" role="alert">{e.message}</div> })
    }
}

/// A list or page body for a loading resource: spinner, then the view or the error.
pub fn loaded<T, V, F>(resource: LocalResource<Answer<T>>, render: F) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    V: IntoView + 'static,
    F: Fn(T) -> V + Send + Sync + 'static,
{
    move || match resource.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Ok(value)) => render(value).into_any(),
        Some(Err(error)) => view! { <ErrorBox error/> }.into_any(),
    }
}

#[component]
pub fn StatCard(
    #[prop(into)] label: Signal<&'static str>,
    total: i64,
    #[prop(optional)] day: Option<i64>,
    #[prop(optional)] week: Option<i64>,
    #[prop(optional, into)] id: String,
) -> impl IntoView {
    view! {
        <div class="card stat" id=id>
            <div class="stat-label">{move || label.get()}</div>
            <div class="stat-value">{num(total)}</div>
            <div class="stat-deltas">
                {day.map(|d| view! { <span class="delta" title="24h">"+" {num(d)} " " {move || t("за 24 ч", "24 h")}</span> })}
                {week.map(|w| view! { <span class="delta" title="7d">"+" {num(w)} " " {move || t("за 7 дн", "7 d")}</span> })}
            </div>
        </div>
    }
}

#[component]
pub fn ProgressBar(
    #[prop(into)] done: Signal<i64>,
    #[prop(into)] total: Signal<i64>,
) -> impl IntoView {
    let percent = move || {
        let total = total.get();
        if total <= 0 {
            0
        } else {
            (done.get().clamp(0, total) * 100 / total) as i32
        }
    };
    view! {
        <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100"
            aria-valuenow=move || percent().to_string()>
            <div class="progress-fill" style=move || format!("width:{}%", percent())></div>
            <span class="progress-label">{move || format!("{} %", percent())}</span>
        </div>
    }
}

/// A status word in a colour that says whether it is good, bad, or under way.
#[component]
pub fn Badge(#[prop(into)] status: String) -> impl IntoView {
    let tone = match status.as_str() {
        "accepted" | "completed" | "registered" | "confirmed" | "handed_over" | "sent"
        | "active" => "good",
        "rejected" | "failed" | "banned" | "cancelled" | "disqualified" | "expired"
        | "declined" | "blocked" | "fns_invalid" | "dead" => "bad",
        "pending" | "running" | "queued" | "scheduled" | "review" | "notified" | "paused"
        | "reserve" | "documents_received" => "busy",
        _ => "plain",
    };
    let label = status_label(&status);
    view! { <span class=format!("badge badge-{tone}") data-status=status>{label}</span> }
}

/// A status word in the operator's language.
pub fn status_label(status: &str) -> String {
    let pair: Option<(&str, &str)> = match status {
        "accepted" => Some(("принят", "accepted")),
        "rejected" => Some(("отклонён", "rejected")),
        "pending" => Some(("на проверке", "pending")),
        "review" => Some(("на модерации", "in review")),
        "running" => Some(("идёт", "running")),
        "scheduled" => Some(("запланирована", "scheduled")),
        "queued" => Some(("в очереди", "queued")),
        "paused" => Some(("на паузе", "paused")),
        "completed" => Some(("завершена", "completed")),
        "draft" => Some(("черновик", "draft")),
        "cancelled" => Some(("отменена", "cancelled")),
        "failed" => Some(("ошибка", "failed")),
        "registered" => Some(("зарегистрирован", "registered")),
        "registering" => Some(("регистрируется", "registering")),
        "new" => Some(("новый", "new")),
        "banned" => Some(("заблокирован", "blocked")),
        "reserve" => Some(("резерв", "reserve")),
        "notified" => Some(("уведомлён", "notified")),
        "confirmed" => Some(("подтвердил", "confirmed")),
        "documents_received" => Some(("документы получены", "documents received")),
        "handed_over" => Some(("вручён", "handed over")),
        "expired" => Some(("срок истёк", "expired")),
        "declined" => Some(("отказался", "declined")),
        "disqualified" => Some(("дисквалифицирован", "disqualified")),
        "unused" => Some(("не понадобился", "unused")),
        "dead" => Some(("не выполнено", "gave up")),
        "retrying" => Some(("повтор", "retrying")),
        "discarded" => Some(("отброшено", "discarded")),
        _ => None,
    };
    match pair {
        Some((ru, en)) => t(ru, en).to_owned(),
        None => status.replace('_', " "),
    }
}

/// Statuses after which a campaign's counters no longer change.
pub fn campaign_finished(status: &str) -> bool {
    matches!(status, "completed" | "cancelled" | "failed")
}

/// A campaign summary that follows `GET /api/campaigns/{id}/events` while the
/// campaign is under way; the stream is closed when the campaign ends or the view goes.
pub fn live_campaign(initial: CampaignSummary) -> RwSignal<CampaignSummary> {
    let summary = RwSignal::new(initial.clone());
    if campaign_finished(&initial.status) {
        return summary;
    }
    let Ok(source) = web_sys::EventSource::new(&format!("/api/campaigns/{}/events", initial.id))
    else {
        return summary;
    };
    let closer = source.clone();
    let on_progress =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            let Some(data) = event.data().as_string() else {
                return;
            };
            if let Ok(next) = serde_json::from_str::<CampaignSummary>(&data) {
                let finished = campaign_finished(&next.status);
                summary.set(next);
                if finished {
                    closer.close();
                }
            }
        });
    let _ =
        source.add_event_listener_with_callback("progress", on_progress.as_ref().unchecked_ref());
    // The browser reconnects a dropped stream by itself; nothing to do on `error`.
    let held = SendWrapper::new((source, on_progress));
    on_cleanup(move || {
        let (source, _callback) = held.take();
        source.close();
    });
    summary
}

/// A campaign's progress bar and counters, live.
#[component]
pub fn CampaignProgress(campaign: CampaignSummary) -> impl IntoView {
    let live = live_campaign(campaign);
    let done = Signal::derive(move || {
        let c = live.get();
        c.sent + c.failed + c.blocked + c.unknown
    });
    let total = Signal::derive(move || live.get().total);
    view! {
        <div class="campaign-progress" data-campaign=move || live.get().id.to_string()
            data-status=move || live.get().status>
            <ProgressBar done total/>
            <div class="muted small">
                {move || {
                    let c = live.get();
                    format!(
                        "{} {} · {} {} · {} {} · {} {}",
                        t("отправлено", "sent"), num(c.sent),
                        t("ошибок", "failed"), num(c.failed),
                        t("заблокировали", "blocked"), num(c.blocked),
                        t("из", "of"), num(c.total),
                    )
                }}
                " · " {move || status_label(&live.get().status)}
            </div>
        </div>
    }
}

/// Reads the value of an input event's target.
pub fn value_of(event: &web_sys::Event) -> String {
    event_target_value(event)
}

// ---------------------------------------------------------------- paged lists

/// A list read through `next_before_id`: the first page follows `path` (reactive, the
/// request without `before_id`), [`Paged::more`] appends the next page, and
/// [`Paged::reload`] reads the first page again keeping the rows shown meanwhile. An
/// answer for a path no longer current is dropped, so typing fast never shows a stale page.
pub struct Paged<T: Send + Sync + 'static> {
    /// `None` while the first page loads.
    pub rows: RwSignal<Option<Answer<Vec<T>>>>,
    pub next: RwSignal<Option<i64>>,
    pub more_busy: RwSignal<bool>,
    pub more_error: RwSignal<Option<Failure>>,
    version: RwSignal<u64>,
    fetch: StoredValue<Box<dyn Fn(Option<i64>) + Send + Sync>>,
}

impl<T: Send + Sync + 'static> Clone for Paged<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Paged<T> {}

impl<T: Send + Sync + 'static> Paged<T> {
    /// Appends the next page, when there is one and none is on its way.
    pub fn more(&self) {
        if self.more_busy.get_untracked() {
            return;
        }
        if let Some(before) = self.next.get_untracked() {
            self.more_busy.set(true);
            self.more_error.set(None);
            self.fetch.with_value(|fetch| fetch(Some(before)));
        }
    }

    /// Reads the first page again (after a change), without a spinner.
    pub fn reload(&self) {
        self.version.update(|v| *v += 1);
    }
}

/// Starts a [`Paged`] list of `GET path`, each page split into its rows and its
/// `next_before_id` by `split`.
pub fn paged<P, T>(
    path: impl Fn() -> String + Send + Sync + 'static,
    split: fn(P) -> (Vec<T>, Option<i64>),
) -> Paged<T>
where
    P: serde::de::DeserializeOwned + 'static,
    T: Clone + Send + Sync + 'static,
{
    let rows = RwSignal::new(None::<Answer<Vec<T>>>);
    let next = RwSignal::new(None::<i64>);
    let more_busy = RwSignal::new(false);
    let more_error = RwSignal::new(None::<Failure>);
    let version = RwSignal::new(0u64);
    let path = Memo::new(move |_| path());
    let generation = StoredValue::new(0u64);
    let fetch = move |before: Option<i64>| {
        let base = path.get_untracked();
        let url = match before {
            Some(id) => {
                let joiner = if base.contains('?') { '&' } else { '?' };
                format!("{base}{joiner}before_id={id}")
            }
            None => base,
        };
        let Some(ticket) = generation.try_update_value(|g| {
            if before.is_none() {
                *g += 1;
            }
            *g
        }) else {
            return;
        };
        leptos::task::spawn_local(async move {
            let answer = crate::api::get::<P>(&url).await.map(split);
            // The view may be gone, or a newer first page asked for, by now.
            if generation.try_get_value() != Some(ticket) {
                return;
            }
            match (before, answer) {
                (None, Ok((list, after))) => {
                    rows.set(Some(Ok(list)));
                    next.set(after);
                }
                (None, Err(error)) => {
                    rows.set(Some(Err(error)));
                    next.set(None);
                }
                (Some(_), Ok((list, after))) => {
                    rows.update(|shown| {
                        if let Some(Ok(shown)) = shown {
                            shown.extend(list);
                        }
                    });
                    next.set(after);
                    more_busy.set(false);
                }
                (Some(_), Err(error)) => {
                    more_error.set(Some(error));
                    more_busy.set(false);
                }
            }
        });
    };
    Effect::new(move |previous: Option<String>| {
        let current = path.get();
        version.track();
        if previous.as_ref() != Some(&current) {
            rows.set(None);
        }
        more_busy.set(false);
        more_error.set(None);
        fetch(None);
        current
    });
    Paged {
        rows,
        next,
        more_busy,
        more_error,
        version,
        fetch: StoredValue::new(Box::new(fetch)),
    }
}

/// The "more" button under a [`Paged`] list, with its own busy and error states.
#[component]
pub fn MoreButton<T: Send + Sync + 'static>(
    list: Paged<T>,
    #[prop(into)] id: String,
) -> impl IntoView {
    view! {
        {move || list.more_error.get().map(|error| view! { <ErrorBox error/> })}
        {move || list.next.get().is_some().then(|| view! {
            <div class="more-row">
                <button class="btn" id=id.clone() type="button" disabled=move || list.more_busy.get()
                    on:click=move |_| list.more()>
                    {move || if list.more_busy.get() { t("Загружаем…", "Loading…") } else { t("Показать ещё", "Show more") }}
                </button>
            </div>
        })}
    }
}

// ---------------------------------------------------------------- dialogs

/// Moves the keyboard focus to the element `id` once it is drawn (a dialog's first
/// control), so a keyboard user lands in the dialog that just opened.
pub fn focus_soon(id: &'static str) {
    leptos::task::spawn_local(async move {
        crate::chat::pause(0).await;
        if let Some(element) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(id))
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = element.focus();
        }
    });
}
