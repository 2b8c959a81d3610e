//! Strings that come from the environment — topology attributes, zone data,
//! what plugins and policies say — checked where they enter and escaped where
//! they leave.
//!
//! Entering: [`is_host_name`] is the grammar an FQDN must have (letters, digits,
//! `-` and `.`; RFC 1123 labels), [`is_dns_name`] the wider one of record owner
//! names (`_xmpp-server._tcp.` labels). Leaving: [`printable`] makes a text safe
//! to show on a terminal on one line, [`powershell_quote`] and
//! [`powershell_comment`] make it safe inside a PowerShell script.

use std::borrow::Cow;
use std::fmt::Write as _;

/// The longest DNS name, in text form without the final dot (RFC 1035 §2.3.4).
const MAX_NAME_LEN: usize = 253;
/// The longest label (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// Names as a message lists them: each in backticks, separated by commas
/// (`` `edgepool1`, `edgepool2` ``).
pub fn quoted<T: std::fmt::Display>(names: impl IntoIterator<Item = T>) -> String {
    names
        .into_iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `name` is a host name: dot-separated labels of ASCII letters, digits
/// and `-`, none starting or ending with `-` (RFC 1123 §2.1), an optional final
/// dot.
#[must_use]
pub fn is_host_name(name: &str) -> bool {
    is_name_with(name, |label| {
        label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    })
}

/// Whether `name` is a DNS owner name as the failback's records use them: a
/// host name whose labels may also start with `_` (`_sipfederationtls._tcp`),
/// or the wildcard label `*` first.
#[must_use]
pub fn is_dns_name(name: &str) -> bool {
    let mut first = true;
    is_name_with(name, |label| {
        let wildcard = first && label == "*";
        first = false;
        let plain = label.strip_prefix('_').unwrap_or(label);
        wildcard
            || (!plain.is_empty()
                && plain
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !plain.ends_with('-'))
    })
}

fn is_name_with(name: &str, mut label_ok: impl FnMut(&str) -> bool) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .split('.')
            .all(|label| !label.is_empty() && label.len() <= MAX_LABEL_LEN && label_ok(label))
}

/// Whether `name` can be a site's name: no control characters, and none of the
/// quotes a PowerShell identity would take for its end.
#[must_use]
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| is_deceptive(c) || matches!(c, '\'' | '"' | '`' | '\u{2018}'..='\u{201f}'))
}

/// Characters a terminal or a reader may take for something else: every
/// control character (C0, DEL, C1), the line and paragraph separators, and the
/// bidirectional formatting characters that reorder what is shown.
fn is_deceptive(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` on one line with nothing a terminal acts on: each control,
/// separator or bidirectional formatting character (newline and tab too) is
/// written as its escape (`\n`, `\t`, `\u{1b}`).
#[must_use]
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_deceptive) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_deceptive(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `text` as a multi-line block a terminal shows as it is: [`printable`] for
/// each line, the line breaks kept.
#[must_use]
pub fn printable_lines(text: &str) -> String {
    text.split('\n')
        .map(|line| printable(line).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` as a PowerShell single-quoted string. PowerShell takes U+2018–U+201B
/// (‘ ’ ‚ ‛) as single quotes too, so each of them is doubled as `'` is; control
/// characters are kept literally inside the quotes, where they are plain text.
#[must_use]
pub fn powershell_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        if matches!(c, '\'' | '\u{2018}'..='\u{201b}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// `text` for the inside of a PowerShell `#` comment: on one line
/// ([`printable`]), so nothing in it can end the comment and start a command;
/// and without `#>`, which would close a block comment it might be put in.
#[must_use]
pub fn powershell_comment(text: &str) -> String {
    printable(text).replace("#>", "#\u{200b}>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_listed_in_backticks_separated_by_commas() {
        assert_eq!(
            quoted(["edgepool1", "edgepool2"]),
            "`edgepool1`, `edgepool2`"
        );
        assert_eq!(quoted(Vec::<String>::new()), "");
    }

    #[test]
    fn host_names_follow_rfc_1123() {
        for ok in [
            "edge1.contoso.com",
            "EDGE1.Contoso.COM.",
            "a",
            "1x.example",
            "xn--bcher-kva.example",
        ] {
            assert!(is_host_name(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "edge1..contoso.com",
            "-edge.contoso.com",
            "edge-.contoso.com",
            "edge1\u{2019}.contoso.com",
            "edge1.contoso.com\nRemove-Item",
            "edge 1.contoso.com",
            "_sip._tcp.contoso.com",
            &"a".repeat(64),
            &format!("{}.com", ["a"; 130].join(".")),
        ] {
            assert!(!is_host_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn dns_names_allow_service_labels_and_a_leading_wildcard() {
        for ok in [
            "_sipfederationtls._tcp.contoso.com",
            "_xmpp-server._tcp.contoso.com.",
            "*.contoso.com",
            "sip.contoso.com",
        ] {
            assert!(is_dns_name(ok), "{ok}");
        }
        for bad in ["a.*.com", "_.contoso.com", "x\ny.com", "a b.com", ""] {
            assert!(!is_dns_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn printable_escapes_what_a_terminal_would_act_on() {
        assert_eq!(printable("plain text ’ é"), "plain text ’ é");
        assert_eq!(
            printable("a\nb\tc\r\u{1b}[2J\u{7f}\u{9b}\u{202e}z"),
            "a\\nb\\tc\\r\\u{1b}[2J\\u{7f}\\u{9b}\\u{202e}z"
        );
        assert_eq!(printable_lines("one\u{1b}\ntwo"), "one\\u{1b}\ntwo");
    }

    #[test]
    fn powershell_quoting_doubles_every_single_quote_powershell_knows() {
        assert_eq!(powershell_quote("edge1"), "'edge1'");
        assert_eq!(powershell_quote("o'brien"), "'o''brien'");
        assert_eq!(
            powershell_quote("a\u{2018}b\u{2019}c\u{201a}d\u{201b}e"),
            "'a\u{2018}\u{2018}b\u{2019}\u{2019}c\u{201a}\u{201a}d\u{201b}\u{201b}e'"
        );
        // The injection the issue names: a typographic quote ends a naive
        // quote, `;` starts a command.
        let hostile = "edge1\u{2019}; Remove-Item C:\\ -Recurse; \u{2019}";
        let quoted = powershell_quote(hostile);
        // Inside the quotes every quote character is doubled, so none closes it.
        let inner = &quoted[1..quoted.len() - 1];
        let mut chars = inner.chars().peekable();
        while let Some(c) = chars.next() {
            if matches!(c, '\'' | '\u{2018}'..='\u{201b}') {
                assert_eq!(chars.next(), Some(c), "{quoted}");
            }
        }
    }

    #[test]
    fn a_powershell_comment_stays_on_its_line() {
        let comment = powershell_comment("edge1\nRemove-Item C:\\ -Recurse #> x");
        assert!(!comment.contains('\n'), "{comment}");
        assert!(!comment.contains("#>"), "{comment}");
    }
}
