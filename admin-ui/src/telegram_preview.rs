//! A message drawn as Telegram shows it: the bubble, a photo on top, the text with its
//! HTML or MarkdownV2 formatting, the inline buttons under it. The same parsers tell a
//! form what Telegram would refuse (an unclosed tag, an unescaped `.` in MarkdownV2)
//! before anything is sent, since Telegram refuses such a message for every recipient.
//!
//! The text is turned into nodes and drawn as elements, never as `innerHTML`, so what an
//! operator types cannot run in the panel.

use leptos::prelude::*;

use crate::state::{t, when};

/// A piece of formatted text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Text(String),
    Styled(Style, Vec<Node>),
}

/// The entities Telegram draws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Style {
    Bold,
    Italic,
    Underline,
    Strike,
    Spoiler,
    Code,
    /// A preformatted block, with its language when one was given.
    Pre(Option<String>),
    Link(String),
    Quote,
    /// A custom emoji: Telegram shows its picture, we show the fallback emoji.
    Emoji,
}

/// A URL button under the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewButton {
    pub text: String,
    pub url: String,
}

/// `text` in `parse_mode` (`HTML`, `MarkdownV2`, anything else: plain) as nodes, or why
/// Telegram would refuse it.
pub fn parse_message(text: &str, parse_mode: Option<&str>) -> Result<Vec<Node>, String> {
    match parse_mode {
        Some("HTML") => parse_html(text),
        Some("MarkdownV2") => parse_markdown_v2(text),
        _ => Ok(vec![Node::Text(text.to_owned())]),
    }
}

/// The characters a recipient sees once the formatting is taken out.
pub fn plain_text(nodes: &[Node]) -> String {
    let mut out = String::new();
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Styled(_, children) => out.push_str(&plain_text(children)),
        }
    }
    out
}

fn flush(buffer: &mut String, into: &mut Vec<Node>) {
    if !buffer.is_empty() {
        into.push(Node::Text(std::mem::take(buffer)));
    }
}

/// The list new nodes go to: the innermost open entity's, else the top level.
fn current<'a, M>(stack: &'a mut [(M, Vec<Node>)], root: &'a mut Vec<Node>) -> &'a mut Vec<Node> {
    match stack.last_mut() {
        Some((_, children)) => children,
        None => root,
    }
}

// ------------------------------------------------------------------ HTML

/// Telegram's HTML: `b strong i em u ins s strike del a code pre blockquote tg-spoiler
/// span.tg-spoiler tg-emoji`; only `&lt; &gt; &amp; &quot;` and numeric entities.
pub fn parse_html(text: &str) -> Result<Vec<Node>, String> {
    let mut root = Vec::new();
    let mut stack: Vec<((String, Style), Vec<Node>)> = Vec::new();
    let mut buffer = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                let Some(end) = rest.find('>') else {
                    return Err(t(
                        "знак «<» без «>»: обычный «<» пишется как &lt;",
                        "a '<' without its '>': write &lt; for a plain '<'",
                    )
                    .to_owned());
                };
                let tag = rest[1..end].trim();
                rest = &rest[end + 1..];
                flush(&mut buffer, current(&mut stack, &mut root));
                if let Some(name) = tag.strip_prefix('/') {
                    let name = name.trim().to_ascii_lowercase();
                    match stack.pop() {
                        Some(((open, style), children)) if open == name => {
                            current(&mut stack, &mut root).push(Node::Styled(style, children));
                        }
                        Some(((open, _), _)) => {
                            return Err(format!(
                                "</{name}> {} <{open}>",
                                t("закрывает незакрытый", "closes the still open")
                            ))
                        }
                        None => {
                            return Err(format!(
                                "</{name}> {}",
                                t("ничего не закрывает", "closes nothing")
                            ))
                        }
                    }
                } else {
                    let (name, attributes) = match tag.find(char::is_whitespace) {
                        Some(at) => (&tag[..at], &tag[at..]),
                        None => (tag, ""),
                    };
                    let name = name.trim_end_matches('/').to_ascii_lowercase();
                    let style = html_style(&name, attributes)?;
                    stack.push(((name, style), Vec::new()));
                }
            }
            '&' => {
                let (decoded, used) = html_entity(rest);
                buffer.push_str(&decoded);
                rest = &rest[used..];
            }
            _ => {
                buffer.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    if let Some(((open, _), _)) = stack.last() {
        return Err(format!("<{open}> {}", t("не закрыт", "is not closed")));
    }
    flush(&mut buffer, &mut root);
    Ok(root)
}

fn html_style(name: &str, attributes: &str) -> Result<Style, String> {
    Ok(match name {
        "b" | "strong" => Style::Bold,
        "i" | "em" => Style::Italic,
        "u" | "ins" => Style::Underline,
        "s" | "strike" | "del" => Style::Strike,
        "tg-spoiler" => Style::Spoiler,
        "span" if attribute(attributes, "class").as_deref() == Some("tg-spoiler") => Style::Spoiler,
        "code" => Style::Code,
        "pre" => Style::Pre(None),
        "blockquote" => Style::Quote,
        "tg-emoji" => Style::Emoji,
        "a" => match attribute(attributes, "href") {
            Some(href) if !href.trim().is_empty() => Style::Link(href),
            _ => {
                return Err(t(
                    "у ссылки <a> нет адреса href=\"…\"",
                    "the link <a> has no href=\"…\"",
                )
                .to_owned())
            }
        },
        _ => {
            return Err(format!(
                "{} <{name}> (Telegram {})",
                t("тег не поддерживается:", "unsupported tag"),
                t(
                    "понимает b, i, u, s, a, code, pre, blockquote, tg-spoiler",
                    "knows b, i, u, s, a, code, pre, blockquote, tg-spoiler"
                )
            ))
        }
    })
}

/// The value of `name="…"` (or `'…'`, or bare) among a tag's attributes.
fn attribute(attributes: &str, name: &str) -> Option<String> {
    let mut rest = attributes;
    while let Some(at) = rest.find(name) {
        let before_ok = at == 0 || rest[..at].ends_with(char::is_whitespace);
        let after = rest[at + name.len()..].trim_start();
        if before_ok {
            if let Some(value) = after.strip_prefix('=') {
                let value = value.trim_start();
                let raw = match value.chars().next() {
                    Some(quote @ ('"' | '\'')) => {
                        let inner = &value[1..];
                        &inner[..inner.find(quote).unwrap_or(inner.len())]
                    }
                    _ => value.split(char::is_whitespace).next().unwrap_or(""),
                };
                let mut decoded = String::new();
                let mut raw = raw;
                while let Some(c) = raw.chars().next() {
                    if c == '&' {
                        let (text, used) = html_entity(raw);
                        decoded.push_str(&text);
                        raw = &raw[used..];
                    } else {
                        decoded.push(c);
                        raw = &raw[c.len_utf8()..];
                    }
                }
                return Some(decoded);
            }
        }
        rest = &rest[at + name.len()..];
    }
    None
}

/// The entity at the start of `text` (which starts with `&`) and the bytes it took; a
/// `&` that starts no entity Telegram knows is kept as it is.
fn html_entity(text: &str) -> (String, usize) {
    let end = text.char_indices().take(12).find(|(_, c)| *c == ';');
    if let Some((end, _)) = end {
        let name = &text[1..end];
        let decoded = match name {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            _ => name
                .strip_prefix("#x")
                .or_else(|| name.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| name.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        if let Some(c) = decoded {
            return (c.to_string(), end + 1);
        }
    }
    ("&".to_owned(), 1)
}

// ------------------------------------------------------------------ MarkdownV2

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Bold,
    Italic,
    Underline,
    Strike,
    Spoiler,
    Link,
    Quote,
}

impl Marker {
    fn style(self) -> Style {
        match self {
            Marker::Bold => Style::Bold,
            Marker::Italic => Style::Italic,
            Marker::Underline => Style::Underline,
            Marker::Strike => Style::Strike,
            Marker::Spoiler => Style::Spoiler,
            Marker::Quote => Style::Quote,
            Marker::Link => Style::Link(String::new()),
        }
    }

    fn sign(self) -> &'static str {
        match self {
            Marker::Bold => "*",
            Marker::Italic => "_",
            Marker::Underline => "__",
            Marker::Strike => "~",
            Marker::Spoiler => "||",
            Marker::Link => "[",
            Marker::Quote => ">",
        }
    }
}

const RESERVED: &str = "_*[]()~`>#+-=|{}.!";

fn reserved_error(c: char) -> String {
    format!(
        "{} «{c}» {} \\{c}",
        t("в MarkdownV2 знак", "in MarkdownV2 the character"),
        t("нужно экранировать:", "must be escaped:")
    )
}

/// Telegram's MarkdownV2: `*bold*`, `_italic_`, `__underline__`, `~strike~`,
/// `||spoiler||`, `` `code` ``, ```` ```pre``` ````, `[text](url)`, `>quote`; every
/// other one of ``_*[]()~`>#+-=|{}.!`` must be escaped with `\`.
pub fn parse_markdown_v2(text: &str) -> Result<Vec<Node>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut root = Vec::new();
    let mut stack: Vec<(Marker, Vec<Node>)> = Vec::new();
    let mut buffer = String::new();
    let mut i = 0;
    let mut line_start = true;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let at_line_start = line_start;
        line_start = false;
        match c {
            '\\' => match next {
                Some(escaped) => {
                    buffer.push(escaped);
                    i += 2;
                    continue;
                }
                None => {
                    return Err(t(
                        "«\\» в конце текста ничего не экранирует",
                        "a '\\' at the end escapes nothing",
                    )
                    .to_owned())
                }
            },
            '`' => {
                flush(&mut buffer, current(&mut stack, &mut root));
                let block = next == Some('`') && chars.get(i + 2) == Some(&'`');
                let fence = if block { 3 } else { 1 };
                let mut j = i + fence;
                let mut body = String::new();
                let mut closed = false;
                while j < chars.len() {
                    match chars[j] {
                        '\\' if j + 1 < chars.len() => {
                            body.push(chars[j + 1]);
                            j += 2;
                        }
                        '`' if !block || chars[j..].starts_with(&['`', '`', '`']) => {
                            closed = true;
                            break;
                        }
                        other => {
                            body.push(other);
                            j += 1;
                        }
                    }
                }
                if !closed {
                    return Err(format!(
                        "{} {}",
                        if block { "```" } else { "`" },
                        t("не закрыт", "is not closed")
                    ));
                }
                let node = if block {
                    // The first line right after ``` names the language, as in Telegram.
                    let (language, code) = match body.split_once('\n') {
                        Some((first, code))
                            if !first.is_empty() && !first.contains(char::is_whitespace) =>
                        {
                            (Some(first.to_owned()), code.to_owned())
                        }
                        _ => (None, body.strip_prefix('\n').unwrap_or(&body).to_owned()),
                    };
                    Node::Styled(Style::Pre(language), vec![Node::Text(code)])
                } else {
                    Node::Styled(Style::Code, vec![Node::Text(body)])
                };
                current(&mut stack, &mut root).push(node);
                i = j + fence;
                continue;
            }
            '*' => toggle(&mut stack, &mut root, &mut buffer, Marker::Bold)?,
            '_' if next == Some('_') => {
                toggle(&mut stack, &mut root, &mut buffer, Marker::Underline)?;
                i += 2;
                continue;
            }
            '_' => toggle(&mut stack, &mut root, &mut buffer, Marker::Italic)?,
            '~' => toggle(&mut stack, &mut root, &mut buffer, Marker::Strike)?,
            '|' if next == Some('|') => {
                toggle(&mut stack, &mut root, &mut buffer, Marker::Spoiler)?;
                i += 2;
                continue;
            }
            '!' if next == Some('[') => {
                // `![👍](tg://emoji?id=…)`: a custom emoji, drawn as its fallback.
                flush(&mut buffer, current(&mut stack, &mut root));
                stack.push((Marker::Link, Vec::new()));
                i += 2;
                continue;
            }
            '[' => {
                flush(&mut buffer, current(&mut stack, &mut root));
                stack.push((Marker::Link, Vec::new()));
            }
            ']' if stack.last().is_some_and(|(m, _)| *m == Marker::Link) => {
                if next != Some('(') {
                    return Err(t(
                        "после [текста] ссылки нужен (адрес)",
                        "a link's [text] must be followed by (url)",
                    )
                    .to_owned());
                }
                let mut j = i + 2;
                let mut url = String::new();
                let mut closed = false;
                while j < chars.len() {
                    match chars[j] {
                        '\\' if j + 1 < chars.len() => {
                            url.push(chars[j + 1]);
                            j += 2;
                        }
                        ')' => {
                            closed = true;
                            break;
                        }
                        other => {
                            url.push(other);
                            j += 1;
                        }
                    }
                }
                if !closed {
                    return Err(t(
                        "адрес ссылки не закрыт «)»",
                        "the link's url has no closing ')'",
                    )
                    .to_owned());
                }
                flush(&mut buffer, current(&mut stack, &mut root));
                if let Some((_, children)) = stack.pop() {
                    let style = if url.starts_with("tg://emoji") {
                        Style::Emoji
                    } else {
                        Style::Link(url)
                    };
                    current(&mut stack, &mut root).push(Node::Styled(style, children));
                }
                i = j + 1;
                continue;
            }
            '>' if at_line_start => {
                flush(&mut buffer, current(&mut stack, &mut root));
                stack.push((Marker::Quote, Vec::new()));
            }
            '\n' => {
                if stack.last().is_some_and(|(m, _)| *m == Marker::Quote) {
                    close_top(&mut stack, &mut root, &mut buffer);
                }
                buffer.push('\n');
                line_start = true;
            }
            c if RESERVED.contains(c) => return Err(reserved_error(c)),
            c => buffer.push(c),
        }
        i += 1;
    }
    if stack.last().is_some_and(|(m, _)| *m == Marker::Quote) {
        close_top(&mut stack, &mut root, &mut buffer);
    }
    if let Some((open, _)) = stack.last() {
        return Err(format!(
            "«{}» {}",
            open.sign(),
            t(
                "не закрыт (или экранируйте его: \\)",
                "is not closed (or escape it: \\)"
            )
        ));
    }
    flush(&mut buffer, &mut root);
    Ok(root)
}

fn close_top(stack: &mut Vec<(Marker, Vec<Node>)>, root: &mut Vec<Node>, buffer: &mut String) {
    flush(buffer, current(stack, root));
    if let Some((marker, children)) = stack.pop() {
        current(stack, root).push(Node::Styled(marker.style(), children));
    }
}

fn toggle(
    stack: &mut Vec<(Marker, Vec<Node>)>,
    root: &mut Vec<Node>,
    buffer: &mut String,
    marker: Marker,
) -> Result<(), String> {
    if stack.last().is_some_and(|(m, _)| *m == marker) {
        close_top(stack, root, buffer);
        return Ok(());
    }
    if stack.iter().any(|(m, _)| *m == marker) {
        return Err(format!(
            "«{}» {}",
            marker.sign(),
            t(
                "закрыт раньше вложенной разметки",
                "is closed before the formatting inside it"
            )
        ));
    }
    flush(buffer, current(stack, root));
    stack.push((marker, Vec::new()));
    Ok(())
}

// ------------------------------------------------------------------ drawing

/// Bare `http(s)://` addresses in a text, drawn as links as Telegram does.
fn autolinked(text: String) -> AnyView {
    if !text.contains("http://") && !text.contains("https://") {
        return text.into_any();
    }
    let mut parts: Vec<AnyView> = Vec::new();
    let mut rest = text.as_str();
    while let Some(at) = ["https://", "http://"]
        .iter()
        .filter_map(|scheme| rest.find(scheme))
        .min()
    {
        if at > 0 {
            parts.push(rest[..at].to_owned().into_any());
        }
        let tail = &rest[at..];
        let end = tail.find(char::is_whitespace).unwrap_or(tail.len());
        let url = tail[..end].trim_end_matches(['.', ',', '!', '?', ')']);
        let url = if url.is_empty() { &tail[..end] } else { url };
        parts.push(view! { <span class="tg-link">{url.to_owned()}</span> }.into_any());
        rest = &tail[url.len()..];
    }
    if !rest.is_empty() {
        parts.push(rest.to_owned().into_any());
    }
    parts.into_any()
}

/// Nodes as elements.
pub fn render_nodes(nodes: Vec<Node>) -> Vec<AnyView> {
    nodes
        .into_iter()
        .map(|node| match node {
            Node::Text(text) => autolinked(text),
            Node::Styled(style, children) => {
                let inner = render_nodes(children);
                match style {
                    Style::Bold => view! { <strong>{inner}</strong> }.into_any(),
                    Style::Italic => view! { <em>{inner}</em> }.into_any(),
                    Style::Underline => view! { <u>{inner}</u> }.into_any(),
                    Style::Strike => view! { <s>{inner}</s> }.into_any(),
                    Style::Spoiler => {
                        view! { <span class="tg-spoiler" title="spoiler">{inner}</span> }.into_any()
                    }
                    Style::Code => view! { <code class="tg-code">{inner}</code> }.into_any(),
                    Style::Pre(language) => view! {
                        <pre class="tg-pre" data-language=language>{inner}</pre>
                    }
                    .into_any(),
                    Style::Link(url) => {
                        view! { <span class="tg-link" title=url>{inner}</span> }.into_any()
                    }
                    Style::Quote => {
                        view! { <blockquote class="tg-quote">{inner}</blockquote> }.into_any()
                    }
                    Style::Emoji => inner.into_any(),
                }
            }
        })
        .collect()
}

/// A text in a parse mode as Telegram formats it; when Telegram would refuse it, the
/// raw text and the reason.
#[component]
pub fn MessageText(
    #[prop(into)] text: Signal<String>,
    #[prop(into)] parse_mode: Signal<Option<String>>,
) -> impl IntoView {
    move || {
        let text = text.get();
        match parse_message(&text, parse_mode.get().as_deref()) {
            Ok(nodes) => render_nodes(nodes).into_any(),
            Err(problem) => view! {
                <span class="tg-raw">{text}</span>
                <span class="tg-problem" role="note">
                    {t("Telegram не примет разметку: ", "Telegram would refuse the markup: ")}
                    {problem}
                </span>
            }
            .into_any(),
        }
    }
}

/// One bot message in a chat: the photo (an image address the browser can load) on top,
/// the text or caption, the time, and rows of URL buttons under the bubble.
#[component]
pub fn TelegramPreview(
    #[prop(into)] text: Signal<String>,
    #[prop(into)] parse_mode: Signal<Option<String>>,
    #[prop(into, optional)] photo: Signal<Option<String>>,
    #[prop(into, optional)] buttons: Signal<Vec<Vec<PreviewButton>>>,
    /// The bot's name in the chat header.
    #[prop(into, optional)]
    title: Signal<String>,
    #[prop(optional, into)] id: String,
    /// When the message was sent (RFC 3339); now when absent.
    #[prop(into, optional)]
    at: Signal<Option<String>>,
    /// Shown greyed in the bubble while there is neither text nor photo.
    #[prop(into, optional)]
    placeholder: Signal<String>,
) -> impl IntoView {
    let now = String::from(js_sys::Date::new_0().to_iso_string());
    // The clock in the bubble is the promotion's, like every time in the panel.
    let clock = move || {
        let shown = when(&at.get().unwrap_or_else(|| now.clone()));
        shown
            .rsplit(", ")
            .next()
            .unwrap_or(shown.as_str())
            .to_owned()
    };
    view! {
        <div class="tg tg-preview" id=id aria-label=move || t("Предпросмотр сообщения", "Message preview")>
            <div class="tg-head">
                <span class="tg-avatar" aria-hidden="true">"◆"</span>
                <span class="tg-title">{move || {
                    let title = title.get();
                    if title.is_empty() { t("Бот акции", "Promo bot").to_owned() } else { title }
                }}</span>
            </div>
            <div class="tg-bubble-stack">
                <div class="tg-msg" class:tg-has-photo=move || photo.get().is_some()>
                    {move || photo.get().map(|src| view! { <img class="tg-photo" src=src alt=""/> })}
                    {move || {
                        if !text.get().trim().is_empty() {
                            view! { <div class="tg-text"><MessageText text parse_mode/></div> }.into_any()
                        } else if photo.get().is_none() && !placeholder.get().is_empty() {
                            view! { <div class="tg-text tg-placeholder">{placeholder.get()}</div> }.into_any()
                        } else {
                            ().into_any()
                        }
                    }}
                    <div class="tg-time">{clock}</div>
                </div>
                {move || {
                    let rows = buttons.get();
                    (!rows.is_empty()).then(|| view! {
                        <div class="tg-buttons">
                            {rows.into_iter().map(|row| view! {
                                <div class="tg-row">
                                    {row.into_iter().map(|button| view! {
                                        <span class="tg-button tg-url-button" title=button.url>
                                            {button.text}
                                            <span class="tg-arrow" aria-hidden="true">"↗"</span>
                                        </span>
                                    }).collect_view()}
                                </div>
                            }).collect_view()}
                        </div>
                    })
                }}
            </div>
        </div>
    }
}
