//! Text formatting (`parse_mode`) and `reply_markup` checks, with the error texts the real Bot API uses.
//!
//! Only the failure modes a bot actually hits are modelled (unescaped `<` or `.`, unclosed
//! tags, oversized `callback_data`); the output is the plain text Telegram would store.

use serde_json::Value;

use super::server::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ParseMode {
    Html,
    MarkdownV2,
    Markdown,
}

impl ParseMode {
    /// Telegram matches parse modes case-insensitively; an empty value means plain text.
    pub(super) fn parse(raw: Option<&str>) -> Result<Option<Self>, ApiError> {
        match raw.map(str::trim) {
            None | Some("") => Ok(None),
            Some(mode) if mode.eq_ignore_ascii_case("html") => Ok(Some(Self::Html)),
            Some(mode) if mode.eq_ignore_ascii_case("markdownv2") => Ok(Some(Self::MarkdownV2)),
            Some(mode) if mode.eq_ignore_ascii_case("markdown") => Ok(Some(Self::Markdown)),
            Some(_) => Err(ApiError::bad_request("unsupported parse_mode")),
        }
    }
}

/// The text as the recipient sees it, trimmed like Telegram trims it.
pub(super) fn render(text: &str, mode: Option<ParseMode>) -> Result<String, ApiError> {
    let plain = match mode {
        None => text.to_owned(),
        Some(ParseMode::Html) => render_html(text)?,
        Some(ParseMode::MarkdownV2) => render_markdown_v2(text)?,
        Some(ParseMode::Markdown) => render_markdown(text)?,
    };
    Ok(plain.trim().to_owned())
}

fn entities_error(detail: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("can't parse entities: {detail}"))
}

const HTML_TAGS: &[&str] = &[
    "a",
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "tg-emoji",
    "code",
    "pre",
    "blockquote",
];

fn render_html(text: &str) -> Result<String, ApiError> {
    let mut out = String::with_capacity(text.len());
    let mut open: Vec<String> = Vec::new();
    let mut i = 0;
    while let Some(ch) = text[i..].chars().next() {
        match ch {
            '<' if text[i + 1..].starts_with('/') => {
                let Some(close) = text[i..].find('>') else {
                    return Err(entities_error(format!(
                        "Unclosed end tag at byte offset {i}"
                    )));
                };
                let name = text[i + 2..i + close].trim().to_ascii_lowercase();
                match open.pop() {
                    None => {
                        return Err(entities_error(format!(
                            "Unexpected end tag at byte offset {i}"
                        )))
                    }
                    Some(expected) if expected != name => {
                        return Err(entities_error(format!(
                            "Unmatched end tag at byte offset {i}, expected \"</{expected}>\", found \"</{name}>\""
                        )))
                    }
                    Some(_) => {}
                }
                i += close + 1;
            }
            '<' => {
                let rest = &text[i + 1..];
                let name_len = rest
                    .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                    .unwrap_or(rest.len());
                let name = rest[..name_len].to_ascii_lowercase();
                if !HTML_TAGS.contains(&name.as_str()) {
                    return Err(entities_error(format!(
                        "Unsupported start tag \"{name}\" at byte offset {i}"
                    )));
                }
                let Some(end) = tag_end(rest, name_len) else {
                    return Err(entities_error(format!(
                        "Unclosed start tag at byte offset {i}"
                    )));
                };
                if name == "span" && !rest[name_len..end].contains("tg-spoiler") {
                    return Err(entities_error(format!(
                        "Tag \"span\" must have class \"tg-spoiler\" at byte offset {i}"
                    )));
                }
                open.push(name);
                i += 1 + end + 1;
            }
            '&' => match decode_entity(&text[i..]) {
                Some((decoded, len)) => {
                    out.push(decoded);
                    i += len;
                }
                // Telegram keeps a bare ampersand as text rather than failing.
                None => {
                    out.push('&');
                    i += 1;
                }
            },
            other => {
                out.push(other);
                i += other.len_utf8();
            }
        }
    }
    match open.last() {
        Some(name) => Err(entities_error(format!(
            "Can't find end tag corresponding to start tag \"{name}\""
        ))),
        None => Ok(out),
    }
}

/// Byte index of the `>` closing a start tag, skipping quoted attribute values.
fn tag_end(rest: &str, from: usize) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (at, ch) in rest[from..].char_indices() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(ch),
            (None, '>') => return Some(from + at),
            (None, _) => {}
        }
    }
    None
}

fn decode_entity(s: &str) -> Option<(char, usize)> {
    let semicolon = s.get(..12).unwrap_or(s).find(';')?;
    let body = &s[1..semicolon];
    let decoded = match body {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        _ => {
            let number = body.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)?
        }
    };
    Some((decoded, semicolon + 1))
}

fn entity_name(marker: &str) -> &'static str {
    match marker {
        "*" => "Bold",
        "_" => "Italic",
        "__" => "Underline",
        "~" => "Strikethrough",
        "||" => "Spoiler",
        "`" => "Code",
        "```" => "Pre",
        _ => "TextUrl",
    }
}

fn reserved(ch: char) -> ApiError {
    entities_error(format!(
        "Character '{ch}' is reserved and must be escaped with the preceding '\\'"
    ))
}

fn render_markdown_v2(text: &str) -> Result<String, ApiError> {
    let mut out = String::with_capacity(text.len());
    let mut open: Vec<(&'static str, usize)> = Vec::new();
    let mut line_start = true;
    let mut i = 0;
    while let Some(ch) = text[i..].chars().next() {
        let rest = &text[i..];
        let in_code = matches!(open.last(), Some(("`" | "```", _)));
        let mut step = ch.len_utf8();
        if in_code {
            match ch {
                '\\' => {
                    if let Some(next) = rest[1..].chars().next() {
                        out.push(next);
                        step += next.len_utf8();
                    }
                }
                '`' if rest.starts_with("```") && open.last().map(|o| o.0) == Some("```") => {
                    open.pop();
                    step = 3;
                }
                '`' if open.last().map(|o| o.0) == Some("`") => {
                    open.pop();
                }
                other => out.push(other),
            }
        } else {
            match ch {
                '\\' => match rest[1..].chars().next() {
                    Some(next) if (1..=126).contains(&u32::from(next)) => {
                        out.push(next);
                        step += next.len_utf8();
                    }
                    _ => return Err(reserved('\\')),
                },
                '`' if rest.starts_with("```") => {
                    open.push(("```", i));
                    // The rest of the opening line names the language, not content.
                    step = rest.find('\n').map_or(rest.len(), |nl| nl + 1);
                }
                '`' => open.push(("`", i)),
                '*' | '~' => toggle(&mut open, if ch == '*' { "*" } else { "~" }, i),
                '_' if rest.starts_with("__") => {
                    toggle(&mut open, "__", i);
                    step = 2;
                }
                '_' => toggle(&mut open, "_", i),
                '|' if rest.starts_with("||") => {
                    toggle(&mut open, "||", i);
                    step = 2;
                }
                '[' => open.push(("[", i)),
                ']' if open.last().map(|o| o.0) == Some("[") => {
                    open.pop();
                    if rest[1..].starts_with('(') {
                        let Some(close) = url_end(&rest[2..]) else {
                            return Err(entities_error(format!(
                                "Can't find end of a URL at byte offset {}",
                                i + 1
                            )));
                        };
                        step = 2 + close + 1;
                    }
                }
                '>' if line_start => {}
                ']' | '(' | ')' | '>' | '#' | '+' | '-' | '=' | '|' | '{' | '}' | '.' | '!' => {
                    return Err(reserved(ch))
                }
                other => out.push(other),
            }
        }
        line_start = ch == '\n';
        i += step;
    }
    match open.last() {
        Some((marker, at)) => Err(entities_error(format!(
            "Can't find end of {} entity at byte offset {at}",
            entity_name(marker)
        ))),
        None => Ok(out),
    }
}

fn toggle(open: &mut Vec<(&'static str, usize)>, marker: &'static str, at: usize) {
    if open.last().map(|o| o.0) == Some(marker) {
        open.pop();
    } else {
        open.push((marker, at));
    }
}

/// Byte index of the `)` ending a link target, honouring `\)` escapes.
fn url_end(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (at, ch) in s.char_indices() {
        match ch {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ')' => return Some(at),
            _ => {}
        }
    }
    None
}

/// Legacy Markdown: entities do not nest, so only the closing marker of the open one matters.
fn render_markdown(text: &str) -> Result<String, ApiError> {
    let mut out = String::with_capacity(text.len());
    let mut open: Option<(&'static str, usize)> = None;
    let mut i = 0;
    while let Some(ch) = text[i..].chars().next() {
        let rest = &text[i..];
        let mut step = ch.len_utf8();
        match (open, ch) {
            (None, '\\') if rest[1..].starts_with(['_', '*', '`', '[']) => {
                out.push_str(&rest[1..2]);
                step = 2;
            }
            (None, '`') if rest.starts_with("```") => {
                open = Some(("```", i));
                step = 3;
            }
            (None, '*' | '_' | '`' | '[') => {
                open = Some((
                    match ch {
                        '*' => "*",
                        '_' => "_",
                        '`' => "`",
                        _ => "[",
                    },
                    i,
                ))
            }
            (Some(("```", _)), '`') if rest.starts_with("```") => {
                open = None;
                step = 3;
            }
            (Some(("[", _)), ']') => {
                open = None;
                if rest[1..].starts_with('(') {
                    let Some(close) = rest.find(')') else {
                        return Err(entities_error(format!(
                            "Can't find end of the entity starting at byte offset {i}"
                        )));
                    };
                    step = close + 1;
                }
            }
            (Some((marker, _)), _)
                if marker.len() == 1 && marker != "[" && rest.starts_with(marker) =>
            {
                open = None
            }
            (_, other) => out.push(other),
        }
        i += step;
    }
    match open {
        Some((_, at)) => Err(entities_error(format!(
            "Can't find end of the entity starting at byte offset {at}"
        ))),
        None => Ok(out),
    }
}

/// What a validated `reply_markup` turns into.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Markup {
    /// Inline keyboards are stored on the message and echoed back in results.
    Inline(Value),
    /// Reply keyboards, removals and force-reply affect the client only: Bot API results
    /// never echo them, but the recipient's app shows them until they are replaced.
    Client(Value),
}

impl Markup {
    pub(super) fn inline(&self) -> Option<&Value> {
        match self {
            Markup::Inline(value) => Some(value),
            Markup::Client(_) => None,
        }
    }

    pub(super) fn client(&self) -> Option<&Value> {
        match self {
            Markup::Inline(_) => None,
            Markup::Client(value) => Some(value),
        }
    }
}

/// Validates `reply_markup` the way the Bot API does; edits accept inline keyboards only.
pub(super) fn reply_markup(
    raw: Option<&Value>,
    inline_only: bool,
) -> Result<Option<Markup>, ApiError> {
    let parsed;
    let markup = match raw {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => {
            parsed = serde_json::from_str::<Value>(s).map_err(|_| {
                ApiError::bad_request("can't parse reply keyboard markup JSON object")
            })?;
            &parsed
        }
        Some(other) => other,
    };
    let Some(object) = markup.as_object() else {
        return Err(ApiError::bad_request("object expected as reply markup"));
    };
    if let Some(rows) = object.get("inline_keyboard") {
        let rows = array_of_arrays(rows).ok_or_else(|| {
            ApiError::bad_request(
                "field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays",
            )
        })?;
        for button in rows.iter().flat_map(|row| row.iter()) {
            inline_button(button)?;
        }
        return Ok(Some(Markup::Inline(
            serde_json::json!({ "inline_keyboard": rows }),
        )));
    }
    if inline_only {
        return Err(ApiError::bad_request("inline keyboard expected"));
    }
    if let Some(rows) = object.get("keyboard") {
        let rows = array_of_arrays(rows).ok_or_else(|| {
            ApiError::bad_request(
                "field \"keyboard\" of the ReplyKeyboardMarkup must be an Array of Arrays",
            )
        })?;
        for button in rows.iter().flat_map(|row| row.iter()) {
            let has_text = match button {
                Value::String(_) => true,
                Value::Object(fields) => fields.get("text").is_some_and(Value::is_string),
                _ => false,
            };
            if !has_text {
                return Err(ApiError::bad_request(
                    "can't parse keyboard button: Can't find field \"text\"",
                ));
            }
        }
        return Ok(Some(Markup::Client(markup.clone())));
    }
    if object.contains_key("remove_keyboard") || object.contains_key("force_reply") {
        return Ok(Some(Markup::Client(markup.clone())));
    }
    Err(ApiError::bad_request(
        "can't parse reply keyboard markup JSON object",
    ))
}

fn array_of_arrays(value: &Value) -> Option<Vec<Vec<Value>>> {
    value
        .as_array()?
        .iter()
        .map(|row| row.as_array().cloned())
        .collect()
}

const BUTTON_ACTIONS: &[&str] = &[
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
];

fn inline_button(button: &Value) -> Result<(), ApiError> {
    let fail = |detail: &str| {
        ApiError::bad_request(format!("can't parse inline keyboard button: {detail}"))
    };
    let Some(fields) = button.as_object() else {
        return Err(fail("InlineKeyboardButton should be an Object"));
    };
    if !fields.get("text").is_some_and(Value::is_string) {
        return Err(fail("Can't find field \"text\""));
    }
    if !BUTTON_ACTIONS
        .iter()
        .any(|action| fields.contains_key(*action))
    {
        return Err(fail("Text buttons are unallowed in the inline keyboard"));
    }
    if let Some(data) = fields.get("callback_data") {
        // The limit is in bytes: 33 Cyrillic letters are already too many.
        let bytes = data.as_str().map_or(0, str::len);
        if !(1..=64).contains(&bytes) {
            return Err(ApiError::bad_request("BUTTON_DATA_INVALID"));
        }
    }
    if let Some(url) = fields.get("url") {
        let valid = url.as_str().is_some_and(|u| {
            ["http://", "https://", "tg://", "t.me/"]
                .iter()
                .any(|scheme| u.len() > scheme.len() && u.starts_with(scheme))
        });
        if !valid {
            return Err(ApiError::bad_request("BUTTON_URL_INVALID"));
        }
    }
    Ok(())
}

/// Every `callback_data` of an inline keyboard, to check that a simulated tap is possible.
pub(super) fn callback_data(markup: &Value) -> impl Iterator<Item = &str> {
    markup
        .get("inline_keyboard")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|button| button.get("callback_data").and_then(Value::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(text: &str) -> Result<String, String> {
        render(text, Some(ParseMode::Html)).map_err(|e| e.description)
    }

    fn md2(text: &str) -> Result<String, String> {
        render(text, Some(ParseMode::MarkdownV2)).map_err(|e| e.description)
    }

    #[test]
    fn html_tags_are_stripped_and_entities_decoded() {
        assert_eq!(
            html("<b>Чек</b> &lt;принят&gt; &amp; <a href=\"https://x.y/?a=1&b=2\">ok</a>"),
            Ok("Чек <принят> & ok".to_owned())
        );
    }

    #[test]
    fn html_with_an_unescaped_less_than_is_rejected_like_telegram_does() {
        assert_eq!(
            html("цена < 100"),
            Err(
                "Bad Request: can't parse entities: Unsupported start tag \"\" at byte offset 9"
                    .to_owned()
            )
        );
        assert_eq!(
            html("a<br>b"),
            Err(
                "Bad Request: can't parse entities: Unsupported start tag \"br\" at byte offset 1"
                    .to_owned()
            )
        );
    }

    #[test]
    fn html_with_unbalanced_tags_is_rejected() {
        assert_eq!(
            html("<b>bold"),
            Err("Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"".to_owned())
        );
        assert_eq!(
            html("<b><i>x</b></i>"),
            Err("Bad Request: can't parse entities: Unmatched end tag at byte offset 7, expected \"</i>\", found \"</b>\"".to_owned())
        );
    }

    #[test]
    fn markdown_v2_requires_reserved_characters_to_be_escaped() {
        assert_eq!(
            md2("*Итого:* 1\\.5 руб\\."),
            Ok("Итого: 1.5 руб.".to_owned())
        );
        assert_eq!(
            md2("Итого 1.5"),
            Err("Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'".to_owned())
        );
        assert_eq!(
            md2("`a.b` [site](https://x.y/a_b)"),
            Ok("a.b site".to_owned())
        );
        assert!(md2("*open").is_err());
    }

    #[test]
    fn callback_data_is_limited_to_64_bytes_not_characters() {
        let button = |data: &str| serde_json::json!({"inline_keyboard": [[{"text": "x", "callback_data": data}]]});
        assert!(reply_markup(Some(&button(&"a".repeat(64))), false).is_ok());
        let err = reply_markup(Some(&button(&"я".repeat(33))), false).unwrap_err();
        assert_eq!(err.description, "Bad Request: BUTTON_DATA_INVALID");
    }
}
