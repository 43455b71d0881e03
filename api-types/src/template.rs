//! Filling a bot text's placeholders: shared by the bot (core's texts) and the panel's
//! previews, so what an operator previews is what a shopper gets.

/// Fills `{name}` from `args` in one pass, so a value that itself looks like a
/// placeholder (a prize typed as "{promo}") is never expanded. `{name|one|few|many}`
/// (Russian) or `{name|one|other}` (English) puts the number with the noun form that
/// agrees with it: `{n|чек|чека|чеков}` → "3 чека". Unknown placeholders are left as is.
pub fn fill(template: &str, args: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let inner = &after[..close];
        if inner.contains('{') {
            // `{{x}`: the first brace is text; look again from the next one.
            out.push('{');
            rest = after;
            continue;
        }
        match substitute(inner, args) {
            Some(value) => out.push_str(&value),
            None => {
                out.push('{');
                out.push_str(inner);
                out.push('}');
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

fn substitute(inner: &str, args: &[(&str, &str)]) -> Option<String> {
    let mut parts = inner.split('|');
    let name = parts.next()?;
    let forms: Vec<&str> = parts.collect();
    let value = args.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)?;
    let form = match forms.as_slice() {
        [] => return Some(value.to_owned()),
        [one, other] => english_plural(count_of(value), one, other),
        [one, few, many] => plural(count_of(value), one, few, many),
        _ => return None,
    };
    Some(format!("{value} {form}"))
}

/// The integer a placeholder value holds; anything else (a fraction, a word) takes the
/// "many" form, which reads acceptably for those too.
fn count_of(value: &str) -> Option<i64> {
    value.trim().parse().ok()
}

/// The Russian noun form that agrees with `n`: `one` for 1, 21, 101 (but not 11, 111),
/// `few` for 2–4, 22–24 (but not 12–14), `many` otherwise (0, 5–20, 25…). `None` (not a
/// whole number) takes `many`.
pub fn plural<'a>(n: Option<i64>, one: &'a str, few: &'a str, many: &'a str) -> &'a str {
    let Some(n) = n else {
        return many;
    };
    let n = n.unsigned_abs();
    match (n % 10, n % 100) {
        (1, tens) if tens != 11 => one,
        (2..=4, tens) if !(12..=14).contains(&tens) => few,
        _ => many,
    }
}

/// English: `one` for exactly 1, `other` for everything else (0 receipts, 2 receipts).
pub fn english_plural<'a>(n: Option<i64>, one: &'a str, other: &'a str) -> &'a str {
    if n.map(i64::unsigned_abs) == Some(1) {
        one
    } else {
        other
    }
}
