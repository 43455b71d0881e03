//! What an operator's edit of a text must satisfy before it is stored: every
//! placeholder is one the text's code fills, plural forms have the count the language
//! needs, and nothing looks like markup (bot texts are sent as plain text, so a tag would
//! reach the shopper as typed). Each problem names its position. Pure, no I/O.

use super::{default_text, Lang, TextKey};

/// Longest text Telegram sends in one message.
pub const MAX_CHARS: usize = 4096;

/// Why an edit was refused; `position` is the 1-based character where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextProblem {
    pub position: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for TextProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.position {
            Some(at) => write!(f, "{} (at character {at})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// A placeholder found in a template: its name, its forms, where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    pub name: String,
    pub forms: usize,
    /// 1-based character position of its `{`.
    pub position: usize,
}

/// The `{name}` and `{name|forms…}` of a template; `Err` names an unclosed brace.
pub fn placeholders(template: &str) -> Result<Vec<Placeholder>, TextProblem> {
    let chars: Vec<char> = template.chars().collect();
    let mut found = Vec::new();
    let mut index = 0;
    while index < chars.len() {
        if chars[index] != '{' {
            index += 1;
            continue;
        }
        let Some(length) = chars[index + 1..].iter().position(|c| *c == '}') else {
            return Err(TextProblem {
                position: Some(index + 1),
                message: "a { is never closed with }".into(),
            });
        };
        let inner: String = chars[index + 1..index + 1 + length].iter().collect();
        if inner.contains('{') {
            // `{{x}`: the first brace is text, as the renderer reads it.
            index += 1;
            continue;
        }
        let mut parts = inner.split('|');
        let name = parts.next().unwrap_or_default().to_owned();
        found.push(Placeholder {
            name,
            forms: parts.count(),
            position: index + 1,
        });
        index += length + 2;
    }
    Ok(found)
}

/// Checks an operator's `body` for `key` in `lang`.
pub fn check_override(key: TextKey, lang: Lang, body: &str) -> Result<(), TextProblem> {
    let allowed: Vec<String> = placeholders(default_text(key, lang))
        .unwrap_or_default()
        .into_iter()
        .map(|p| p.name)
        .collect();
    let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
    check_template(body, &allowed, lang)
}

/// Checks an operator's template that may use the placeholders `allowed` (a raffle's win
/// message, a bot text): length, no markup, known placeholders, plural forms for `lang`.
pub fn check_template(body: &str, allowed: &[&str], lang: Lang) -> Result<(), TextProblem> {
    let length = body.chars().count();
    if body.trim().is_empty() || length > MAX_CHARS {
        return Err(TextProblem {
            position: None,
            message: format!("a text has 1 to {MAX_CHARS} characters, this one {length}"),
        });
    }
    if let Some(at) = markup_at(body) {
        return Err(TextProblem {
            position: Some(at),
            message: "bot texts are plain text: a tag like this would reach the shopper as typed"
                .into(),
        });
    }
    for placeholder in placeholders(body)? {
        if !allowed.contains(&placeholder.name.as_str()) {
            let known = if allowed.is_empty() {
                "this text takes none".to_owned()
            } else {
                format!(
                    "this text takes {}",
                    allowed
                        .iter()
                        .map(|n| format!("{{{n}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(TextProblem {
                position: Some(placeholder.position),
                message: format!("unknown placeholder {{{}}}: {known}", placeholder.name),
            });
        }
        let needed = match lang {
            Lang::Ru => 3,
            Lang::En => 2,
        };
        if placeholder.forms != 0 && placeholder.forms != needed {
            return Err(TextProblem {
                position: Some(placeholder.position),
                message: format!(
                    "{{{}|…}} needs {needed} noun forms in this language, it has {}",
                    placeholder.name, placeholder.forms
                ),
            });
        }
    }
    Ok(())
}

/// The 1-based position of the first `<` that opens something tag-like (`<b>`, `</i>`,
/// `<a href`), if any; a `<` before a space, a digit or `=` is ordinary text ("< 5").
fn markup_at(body: &str) -> Option<usize> {
    let chars: Vec<char> = body.chars().collect();
    chars
        .windows(2)
        .position(|pair| {
            pair[0] == '<' && (pair[1].is_ascii_alphabetic() || pair[1] == '/' || pair[1] == '!')
        })
        .map(|index| index + 1)
}

/// Sample values for a preview: a plausible word or number per placeholder name.
pub fn sample_value(name: &str) -> &'static str {
    match name {
        "name" => "Анна",
        "prize" | "prizes" => "iPhone 16",
        "promo" | "promo_name" => "Хрустящее лето",
        "date" => "17.09.2024",
        "period" => "01.09.2024 — 30.09.2024",
        "reason" => "чек не из магазина-участника",
        "phone" => "+7 *** ***-45-67",
        "email" => "support@example.org",
        "support" | "username" => "@promo_support",
        "resume" => "18.09.2024 12:00",
        _ => "3",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::t;

    #[test]
    fn placeholders_are_found_with_their_forms_and_positions() {
        let found = placeholders("Билетов: {tickets}, {n|чек|чека|чеков}").unwrap_or_default();
        assert_eq!(found.len(), 2);
        assert_eq!(
            (found[0].name.as_str(), found[0].forms, found[0].position),
            ("tickets", 0, 10)
        );
        assert_eq!((found[1].name.as_str(), found[1].forms), ("n", 3));
        assert_eq!(
            placeholders("oops {tickets").map_err(|p| p.position),
            Err(Some(6))
        );
    }

    #[test]
    fn an_edit_may_drop_and_move_placeholders_but_not_invent_them() {
        let key = t!("receipt_accepted");
        assert!(check_override(key, Lang::Ru, "Готово! +{tickets}").is_ok());
        assert!(check_override(key, Lang::Ru, "Принято, спасибо").is_ok());
        let unknown = check_override(key, Lang::Ru, "Всего {totla}").err();
        assert_eq!(unknown.as_ref().and_then(|p| p.position), Some(7));
        assert!(unknown.is_some_and(|p| p.message.contains("{tickets}")));
    }

    #[test]
    fn plural_forms_must_fit_the_language_and_tags_are_refused() {
        let key = t!("receipt_accepted");
        assert!(check_override(key, Lang::Ru, "{tickets|билет|билета|билетов}").is_ok());
        assert!(check_override(key, Lang::Ru, "{tickets|билет|билетов}").is_err());
        assert!(check_override(key, Lang::En, "{tickets|ticket|tickets}").is_ok());
        let tag = check_override(key, Lang::Ru, "Ура, <b>{tickets}</b>").err();
        assert_eq!(tag.and_then(|p| p.position), Some(6));
        assert!(check_override(key, Lang::Ru, "Билетов < 5? Загрузите ещё").is_ok());
        assert!(check_override(key, Lang::Ru, "   ").is_err());
        assert!(check_override(key, Lang::Ru, &"я".repeat(4097)).is_err());
    }
}
