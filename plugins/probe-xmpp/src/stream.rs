//! Reading what an XMPP server sends back to a server-to-server stream open
//! (RFC 6120 §4.2, §4.3): the `<stream:stream>` header, `<stream:features>` and
//! `<starttls/>` among them, or a stream error.
//!
//! Just enough XML: tags are found one after another in the bytes received so
//! far, attributes parsed with their quotes, prefixes resolved through the
//! `xmlns` declarations seen. It is re-run on the whole buffer after every read,
//! so an answer split across reads anywhere parses the same as one in a piece.
//! The buffer is bounded by the caller ([`MAX_ANSWER_BYTES`]).

use std::collections::BTreeMap;

/// How much of the peer's answer the probe reads, at most.
pub const MAX_ANSWER_BYTES: usize = 8 * 1024;
/// How much of a non-XMPP answer the report shows (the WIT's bound).
pub const MAX_OTHER_BYTES: usize = 256;

const STREAMS_NS: &str = "http://etherx.jabber.org/streams";
const SERVER_NS: &str = "jabber:server";
const TLS_NS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
const STREAM_ERRORS_NS: &str = "urn:ietf:params:xml:ns:xmpp-streams";

/// The stream open the probe sends.
#[must_use]
pub fn stream_open(to: &str) -> String {
    format!(
        "<?xml version='1.0'?><stream:stream xmlns='{SERVER_NS}' xmlns:stream='{STREAMS_NS}' to='{}' version='1.0'>",
        escape(to)
    )
}

/// `text` escaped for an XML attribute in single quotes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// What the bytes so far say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    /// A `stream` element in the streams namespace, default namespace `jabber:server`.
    pub stream_header: bool,
    /// A stream header, but in another default namespace (a client-to-server
    /// listener answers `jabber:client`).
    pub other_namespace: Option<String>,
    pub stream_id: Option<String>,
    pub features: bool,
    pub starttls: bool,
    /// `<starttls><required/></starttls>`.
    pub starttls_required: bool,
    /// The condition of a `<stream:error>`, e.g. `host-unknown`.
    pub stream_error: Option<String>,
    /// The bytes are not XML at all (or not a stream): show them.
    pub not_xmpp: bool,
    /// Nothing more is worth waiting for: the features ended, a stream error
    /// came, or the answer is not XMPP.
    pub complete: bool,
}

/// One tag, as far as the probe cares.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tag<'a> {
    Open {
        name: &'a str,
        attributes: Vec<(&'a str, String)>,
        empty: bool,
    },
    Close(&'a str),
    /// `<?…?>`, `<!--…-->`, `<!…>`: skipped.
    Other,
}

/// The next tag in `text` at or after `at`: the tag and the offset after it, or
/// `None` when the tag is not complete yet. Text between tags is skipped.
fn next_tag(text: &str, at: usize) -> Option<Result<(Tag<'_>, usize), ()>> {
    let start = at + text.get(at..)?.find('<')?;
    let rest = &text[start..];
    if rest.starts_with("<?") {
        return Some(Ok((Tag::Other, start + rest.find("?>")? + 2)));
    }
    if rest.starts_with("<!--") {
        return Some(Ok((Tag::Other, start + rest.find("-->")? + 3)));
    }
    if rest.starts_with("<!") {
        return Some(Ok((Tag::Other, start + rest.find('>')? + 1)));
    }
    // Find the closing `>` outside quotes.
    let mut quote = None;
    let mut end = None;
    for (i, c) in rest.char_indices().skip(1) {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => {
                end = Some(i);
                break;
            }
            (None, '<') => return Some(Err(())),
            _ => {}
        }
    }
    let end = end?;
    let inner = &rest[1..end];
    let after = start + end + 1;
    if let Some(name) = inner.strip_prefix('/') {
        return Some(Ok((Tag::Close(name.trim()), after)));
    }
    let (inner, empty) = match inner.strip_suffix('/') {
        Some(inner) => (inner, true),
        None => (inner, false),
    };
    let name_end = inner
        .find(|c: char| c.is_whitespace())
        .unwrap_or(inner.len());
    let name = &inner[..name_end];
    if name.is_empty() || !name.chars().all(is_name_char) {
        return Some(Err(()));
    }
    let Some(attributes) = attributes(&inner[name_end..]) else {
        return Some(Err(()));
    };
    Some(Ok((
        Tag::Open {
            name,
            attributes,
            empty,
        },
        after,
    )))
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, ':' | '-' | '_' | '.')
}

/// `name='value'` pairs, values unescaped; `None` when malformed.
fn attributes(mut text: &str) -> Option<Vec<(&str, String)>> {
    let mut out = Vec::new();
    loop {
        text = text.trim_start();
        if text.is_empty() {
            return Some(out);
        }
        let eq = text.find('=')?;
        let name = text[..eq].trim();
        if name.is_empty() || !name.chars().all(is_name_char) {
            return None;
        }
        let value_part = text[eq + 1..].trim_start();
        let quote = value_part
            .chars()
            .next()
            .filter(|c| matches!(c, '\'' | '"'))?;
        let close = value_part[1..].find(quote)? + 1;
        out.push((name, unescape(&value_part[1..close])));
        text = &value_part[close + 1..];
    }
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&apos;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// Namespace scopes: prefix (or `""` for the default) to namespace, one map per
/// open element.
#[derive(Debug, Default)]
struct Scopes(Vec<BTreeMap<String, String>>);

impl Scopes {
    fn push(&mut self, attributes: &[(&str, String)]) {
        let mut scope = BTreeMap::new();
        for (name, value) in attributes {
            if *name == "xmlns" {
                scope.insert(String::new(), value.clone());
            } else if let Some(prefix) = name.strip_prefix("xmlns:") {
                scope.insert(prefix.to_owned(), value.clone());
            }
        }
        self.0.push(scope);
    }

    fn resolve(&self, prefix: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find_map(|scope| scope.get(prefix))
            .map(String::as_str)
    }

    /// The namespace and local name of a qualified `name`.
    fn qualify<'n>(&self, name: &'n str) -> (Option<&str>, &'n str) {
        match name.split_once(':') {
            Some((prefix, local)) => (self.resolve(prefix), local),
            None => (self.resolve(""), name),
        }
    }
}

/// Parse everything received so far.
#[must_use]
pub fn parse(bytes: &[u8]) -> Answer {
    let mut answer = Answer::default();
    let text = String::from_utf8_lossy(bytes);
    let trimmed = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if trimmed.is_empty() {
        return answer;
    }
    if !trimmed.starts_with('<') {
        answer.not_xmpp = true;
        answer.complete = true;
        return answer;
    }
    let mut scopes = Scopes::default();
    // Open elements below the stream, by qualified name.
    let mut open: Vec<String> = Vec::new();
    let mut in_features = false;
    let mut in_starttls = false;
    let mut in_error = false;
    let mut at = 0;
    while let Some(next) = next_tag(trimmed, at) {
        let Ok((tag, after)) = next else {
            if !answer.stream_header {
                answer.not_xmpp = true;
            }
            answer.complete = true;
            return answer;
        };
        at = after;
        match tag {
            Tag::Other => {}
            Tag::Open {
                name,
                attributes,
                empty,
            } => {
                scopes.push(&attributes);
                let (namespace, local) = scopes.qualify(name);
                if !answer.stream_header && answer.other_namespace.is_none() {
                    // The first element must be the stream header.
                    if local == "stream" && namespace == Some(STREAMS_NS) {
                        let default = scopes.resolve("").unwrap_or_default().to_owned();
                        if default == SERVER_NS {
                            answer.stream_header = true;
                        } else {
                            answer.other_namespace = Some(default);
                        }
                        answer.stream_id = attributes
                            .iter()
                            .find(|(n, _)| *n == "id")
                            .map(|(_, v)| v.clone());
                        // The stream element stays open for the whole stream.
                        continue;
                    }
                    answer.not_xmpp = true;
                    answer.complete = true;
                    return answer;
                }
                match (namespace, local) {
                    (Some(STREAMS_NS), "features") if open.is_empty() => {
                        answer.features = true;
                        in_features = !empty;
                        if empty {
                            answer.complete = true;
                        }
                    }
                    (Some(STREAMS_NS), "error") if open.is_empty() => {
                        in_error = !empty;
                        answer.stream_error = Some(String::new());
                        if empty {
                            answer.complete = true;
                        }
                    }
                    (Some(TLS_NS), "starttls") if in_features && open.len() == 1 => {
                        answer.starttls = true;
                        in_starttls = !empty;
                    }
                    (Some(TLS_NS), "required") if in_starttls => {
                        answer.starttls_required = true;
                    }
                    (Some(STREAM_ERRORS_NS), condition)
                        if in_error
                            && open.len() == 1
                            && answer.stream_error.as_deref() == Some("") =>
                    {
                        answer.stream_error = Some(condition.to_owned());
                    }
                    _ => {}
                }
                if empty {
                    scopes.0.pop();
                } else {
                    open.push(name.to_owned());
                }
            }
            Tag::Close(name) => {
                if open.last().map(String::as_str) == Some(name) {
                    open.pop();
                    scopes.0.pop();
                    if open.is_empty() && (in_features || in_error) {
                        answer.complete = true;
                        return answer;
                    }
                    if open.len() == 1 {
                        in_starttls = false;
                    }
                } else {
                    // `</stream:stream>` or a stray close: the stream is over.
                    answer.complete = true;
                    return answer;
                }
            }
        }
    }
    answer
}

/// Up to [`MAX_OTHER_BYTES`] of `bytes`, lossy UTF-8, for the operator.
#[must_use]
pub fn first_bytes(bytes: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_OTHER_BYTES)]).into_owned();
    while text.len() > MAX_OTHER_BYTES {
        text.pop();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Prosody 0.12.3 answered a server-to-server stream open to a host it
    /// serves, with a certificate configured (captured off the wire).
    const PROSODY: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xml:lang='en' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' from='contoso.com' xmlns:db='jabber:server:dialback' to='' id='5378121d-fe92-43f6-8908-e1fb6658ab3c'><stream:features><dialback xmlns='urn:xmpp:features:dialback'/><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>";

    #[test]
    fn a_whole_prosody_answer_gives_header_features_and_starttls() {
        let answer = parse(PROSODY.as_bytes());
        assert!(answer.stream_header && answer.features && answer.starttls && answer.complete);
        assert!(answer.starttls_required);
        assert_eq!(
            answer.stream_id.as_deref(),
            Some("5378121d-fe92-43f6-8908-e1fb6658ab3c")
        );
        assert!(!answer.not_xmpp);
    }

    #[test]
    fn every_split_of_the_answer_parses_the_same_once_whole() {
        let bytes = PROSODY.as_bytes();
        for cut in 0..bytes.len() {
            let partial = parse(&bytes[..cut]);
            assert!(!partial.not_xmpp, "cut at {cut}: {partial:?}");
            assert!(!partial.complete || cut == bytes.len(), "cut at {cut}");
        }
        assert_eq!(parse(bytes), parse(PROSODY.as_bytes()));
    }

    #[test]
    fn features_without_starttls() {
        let answer = parse(
            b"<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' id=\"a&amp;b\" version='1.0'><stream:features><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>",
        );
        assert!(answer.stream_header && answer.features && !answer.starttls && answer.complete);
        assert_eq!(answer.stream_id.as_deref(), Some("a&b"));
    }

    #[test]
    fn starttls_only_counts_inside_the_features_and_in_its_namespace() {
        let answer = parse(
            b"<s:stream xmlns='jabber:server' xmlns:s='http://etherx.jabber.org/streams'><s:features><starttls xmlns='urn:example'/><x><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></x></s:features>",
        );
        assert!(answer.stream_header && answer.features && answer.complete);
        assert!(!answer.starttls);
    }

    #[test]
    fn an_empty_features_element_completes() {
        let answer = parse(
            b"<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'><stream:features/>",
        );
        assert!(answer.features && answer.complete && !answer.starttls);
    }

    #[test]
    fn a_stream_error_is_named() {
        let answer = parse(
            b"<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'><stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>no such host</text></stream:error></stream:stream>",
        );
        assert!(answer.stream_header && !answer.features && answer.complete);
        assert_eq!(answer.stream_error.as_deref(), Some("host-unknown"));
    }

    #[test]
    fn a_client_stream_is_a_stream_in_another_namespace() {
        let answer = parse(
            b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><stream:features/>",
        );
        assert!(!answer.stream_header);
        assert_eq!(answer.other_namespace.as_deref(), Some("jabber:client"));
        assert!(answer.features && !answer.not_xmpp);
    }

    #[test]
    fn http_and_other_xml_are_not_xmpp() {
        let http = parse(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        assert!(http.not_xmpp && http.complete && !http.stream_header);
        let html = parse(b"<html><body>hello</body></html>");
        assert!(html.not_xmpp && html.complete);
        let broken = parse(b"<stream:stream <<<");
        assert!(broken.not_xmpp && broken.complete);
    }

    #[test]
    fn nothing_yet_is_not_a_verdict() {
        assert_eq!(parse(b""), Answer::default());
        assert_eq!(parse(b"  \n"), Answer::default());
        assert!(!parse(b"<?xml version='1.0'?><stream:str").complete);
    }

    #[test]
    fn the_stream_open_escapes_the_domain() {
        assert_eq!(
            stream_open("contoso.com"),
            "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='contoso.com' version='1.0'>"
        );
        assert!(stream_open("a'b<c").contains("to='a&apos;b&lt;c'"));
    }

    #[test]
    fn first_bytes_are_bounded() {
        assert_eq!(first_bytes(&[b'x'; 1000]).len(), MAX_OTHER_BYTES);
        assert_eq!(first_bytes(b"HTTP/1.1 400"), "HTTP/1.1 400");
        // A multi-byte character cut at the bound stays within it.
        let mut bytes = vec![b'x'; 255];
        bytes.extend_from_slice("é".as_bytes());
        assert!(first_bytes(&bytes).len() <= MAX_OTHER_BYTES);
    }
}
