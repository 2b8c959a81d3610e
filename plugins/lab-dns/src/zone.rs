//! An RFC 1035 master file (zone file), for the record types the failback
//! touches: parse it into a [`Zone`], change record sets, and write it back.
//!
//! Read: `$ORIGIN`, `$TTL`; owner names absolute (`sip.contoso.com.`),
//! relative to the origin (`sip`), `@`, or left blank (the previous owner);
//! optional TTL (with BIND's `s`/`m`/`h`/`d`/`w` units) and class `IN` in
//! either order; `;` comments; parentheses continuing an entry over lines;
//! quoted strings with `\X` and `\DDD` escapes. Types: SOA, NS, A, AAAA, CNAME,
//! SRV, TXT. Anything else is an error naming its line: the plugin would
//! otherwise drop it when it rewrites the file.
//!
//! Written: `$ORIGIN` and `$TTL` (when the file had it), the SOA, then every
//! record set sorted by name (DNS canonical order, so the apex comes first),
//! then type; every owner fully qualified with its final dot, every TTL and
//! class explicit. Comments are not kept.
//!
//! Why not hickory-proto's zone parser (`serialize::txt::Parser`, 0.26.3),
//! which the `dns-rfc2136` plugin's messages are built on: the plugin writes
//! the file back, and that parser would change or lose what it read. It
//! decodes `\DDD` as `(D1 << 16) + (D2 << 8) + D3` instead of a decimal octet
//! (hickory-dns issue 3955, open), so `\059` comes back as U+0509, not `;`;
//! it drops a line with no type (`sip 300`) without a word; its errors name
//! neither the line nor the value. It writes no master files either, and it
//! would make this component 3.6 times larger (194 KB to 700 KB). The tests
//! `parses_the_hand_written_style` (`\059`) and
//! `malformed_lines_are_errors_naming_the_line` (`sip 300`) hold what it gets
//! wrong.

use std::cmp::Ordering;
use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr};

/// A zone: its apex, SOA and every other record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Zone {
    /// The apex, lower case, without the final dot (`contoso.com`).
    pub(crate) apex: String,
    /// The file's `$TTL`, kept when it is rewritten.
    pub(crate) default_ttl: Option<u32>,
    pub(crate) soa: Soa,
    /// Every record but the SOA, without duplicates.
    pub(crate) records: Vec<Record>,
}

/// The start of authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Soa {
    pub(crate) ttl: u32,
    pub(crate) mname: String,
    pub(crate) rname: String,
    pub(crate) serial: u32,
    pub(crate) refresh: u32,
    pub(crate) retry: u32,
    pub(crate) expire: u32,
    pub(crate) minimum: u32,
}

/// One resource record. Names are fully qualified, lower case, without the
/// final dot; the root is the empty name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) name: String,
    pub(crate) ttl: u32,
    pub(crate) data: RData,
}

/// The type of a record other than the SOA, in the order a record set is
/// written at one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Type {
    Ns,
    A,
    Aaaa,
    Cname,
    Srv,
    Txt,
}

impl Type {
    fn mnemonic(self) -> &'static str {
        match self {
            Type::Ns => "NS",
            Type::A => "A",
            Type::Aaaa => "AAAA",
            Type::Cname => "CNAME",
            Type::Srv => "SRV",
            Type::Txt => "TXT",
        }
    }
}

/// The data of a record other than the SOA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RData {
    Ns(String),
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(String),
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: String,
    },
    /// The character-strings, each at most 255 bytes.
    Txt(Vec<String>),
}

impl RData {
    pub(crate) fn rtype(&self) -> Type {
        match self {
            RData::Ns(_) => Type::Ns,
            RData::A(_) => Type::A,
            RData::Aaaa(_) => Type::Aaaa,
            RData::Cname(_) => Type::Cname,
            RData::Srv { .. } => Type::Srv,
            RData::Txt(_) => Type::Txt,
        }
    }

    /// Whether two data are the same record. TXT records compare by their
    /// joined text: how it is cut into character-strings does not matter here.
    pub(crate) fn same_as(&self, other: &RData) -> bool {
        match (self, other) {
            (RData::Txt(a), RData::Txt(b)) => a.concat() == b.concat(),
            _ => self == other,
        }
    }
}

/// A malformed zone file: what is wrong, and on which line (0: the file as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub(crate) line: usize,
    pub(crate) message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

/// The longest character-string in a TXT record (RFC 1035 §3.3).
pub(crate) const MAX_CHARACTER_STRING: usize = 255;

/// A name as the zone holds it: lower case, no final dot, each label 1 to 63
/// characters of letters, digits, `-`, `_` or a lone `*`, at most 253 in all.
pub(crate) fn check_name(name: &str) -> Result<String, String> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if name.is_empty() {
        return Ok(name);
    }
    let valid = name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && (label == "*"
                    || label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        });
    if valid {
        Ok(name)
    } else {
        Err(format!("`{name}` is not a valid domain name"))
    }
}

/// Whether `name` is `apex` or below it.
pub(crate) fn in_zone(name: &str, apex: &str) -> bool {
    apex.is_empty()
        || name == apex
        || name
            .strip_suffix(apex)
            .is_some_and(|prefix| prefix.ends_with('.'))
}

/// DNS canonical order of names (RFC 4034 §6.1): label by label from the
/// right, so that a name sorts right after its parent.
pub(crate) fn canonical_order(a: &str, b: &str) -> Ordering {
    let labels = |name: &str| -> Vec<String> {
        if name.is_empty() {
            Vec::new()
        } else {
            name.rsplit('.').map(str::to_owned).collect()
        }
    };
    labels(a).cmp(&labels(b))
}

// ---------------------------------------------------------------------------
// Reading

/// One token of an entry, with its escapes decoded.
#[derive(Debug)]
struct Token {
    text: String,
    /// Written in double quotes.
    quoted: bool,
    /// Held a `\` escape (not allowed in names).
    escaped: bool,
}

/// One entry of the file: a directive or a record, perhaps over several lines.
#[derive(Debug)]
struct Entry {
    line: usize,
    /// The entry began with white space: its owner is the previous one.
    blank_owner: bool,
    tokens: Vec<Token>,
}

fn error(line: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        line,
        message: message.into(),
    }
}

/// Cut the file into entries: comments dropped, parentheses joined, strings
/// and escapes decoded.
fn entries(text: &str) -> Result<Vec<Entry>, ParseError> {
    let bytes = text.as_bytes();
    let mut entries = Vec::new();
    let mut line = 1;
    let mut depth_line = 0; // the line of the open parenthesis, when inside one
    let mut current: Option<Entry> = None;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if current.is_none() {
            current = Some(Entry {
                line,
                blank_owner: c == b' ' || c == b'\t',
                tokens: Vec::new(),
            });
        }
        match c {
            b'\n' => {
                line += 1;
                i += 1;
                if depth_line == 0
                    && let Some(entry) = current.take()
                    && !entry.tokens.is_empty()
                {
                    entries.push(entry);
                }
            }
            b';' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'(' => {
                if depth_line != 0 {
                    return Err(error(line, "nested `(`"));
                }
                depth_line = line;
                i += 1;
            }
            b')' => {
                if depth_line == 0 {
                    return Err(error(line, "`)` without `(`"));
                }
                depth_line = 0;
                i += 1;
            }
            _ => {
                let quoted = c == b'"';
                if quoted {
                    i += 1;
                }
                let mut raw = Vec::new();
                let mut escaped = false;
                loop {
                    let Some(&b) = bytes.get(i) else {
                        if quoted {
                            return Err(error(line, "unterminated string"));
                        }
                        break;
                    };
                    if quoted {
                        if b == b'"' {
                            i += 1;
                            break;
                        }
                        if b == b'\n' {
                            return Err(error(line, "unterminated string"));
                        }
                    } else if matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"')
                    {
                        break;
                    }
                    if b == b'\\' {
                        escaped = true;
                        i += 1;
                        let digits = bytes
                            .get(i..i + 3)
                            .filter(|d| d.iter().all(u8::is_ascii_digit));
                        if let Some(digits) = digits {
                            let value = digits
                                .iter()
                                .fold(0_u32, |n, d| n * 10 + u32::from(d - b'0'));
                            let byte = u8::try_from(value).map_err(|_| {
                                error(line, format!("escape `\\{value}` is past 255"))
                            })?;
                            raw.push(byte);
                            i += 3;
                        } else {
                            match bytes.get(i) {
                                Some(b'\n') | None => {
                                    return Err(error(line, "`\\` at the end of a line"));
                                }
                                Some(&next) => {
                                    raw.push(next);
                                    i += 1;
                                }
                            }
                        }
                        continue;
                    }
                    raw.push(b);
                    i += 1;
                }
                let text =
                    String::from_utf8(raw).map_err(|_| error(line, "text that is not UTF-8"))?;
                if let Some(entry) = current.as_mut() {
                    entry.tokens.push(Token {
                        text,
                        quoted,
                        escaped,
                    });
                }
            }
        }
    }
    if depth_line != 0 {
        return Err(error(depth_line, "`(` without `)`"));
    }
    if let Some(entry) = current
        && !entry.tokens.is_empty()
    {
        entries.push(entry);
    }
    Ok(entries)
}

/// A TTL or SOA time: seconds, or BIND's units (`1h30m`, `2d`, `1W`).
fn parse_ttl(text: &str) -> Option<u32> {
    if let Ok(seconds) = text.parse::<u32>() {
        return Some(seconds);
    }
    let mut total: u64 = 0;
    let mut number: Option<u64> = None;
    for c in text.chars() {
        if let Some(digit) = c.to_digit(10) {
            number = Some(
                number
                    .unwrap_or(0)
                    .checked_mul(10)?
                    .checked_add(u64::from(digit))?,
            );
            continue;
        }
        let unit: u64 = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        total = total.checked_add(number.take()?.checked_mul(unit)?)?;
    }
    if number.is_some() {
        // BIND: digits after a unit are an error ("1h30").
        return None;
    }
    u32::try_from(total).ok()
}

/// The greatest TTL (RFC 2181 §8).
pub(crate) const MAX_TTL: u32 = 0x7fff_ffff;

/// The TTL (if any) and the type of the record of `owner` whose class, TTL
/// and type `rest` reads on (`[TTL] [IN] TYPE` or `[IN] [TTL] TYPE`).
fn ttl_and_type<'t>(
    rest: &mut impl Iterator<Item = &'t Token>,
    owner: &str,
    line: usize,
) -> Result<(Option<u32>, String), ParseError> {
    let mut ttl = None;
    let mut class = false;
    loop {
        let token = rest
            .next()
            .ok_or_else(|| error(line, format!("the record of `{owner}` has no type")))?;
        let text = token.text.as_str();
        if !token.quoted && ttl.is_none() && text.starts_with(|c: char| c.is_ascii_digit()) {
            let value = parse_ttl(text)
                .filter(|t| *t <= MAX_TTL)
                .ok_or_else(|| error(line, format!("`{text}` is not a TTL")))?;
            ttl = Some(value);
        } else if !token.quoted && !class && text.eq_ignore_ascii_case("IN") {
            class = true;
        } else if !token.quoted
            && !class
            && ["CH", "HS", "CS", "ANY"]
                .iter()
                .any(|c| text.eq_ignore_ascii_case(c))
        {
            return Err(error(line, format!("class `{text}` is not supported")));
        } else {
            return Ok((ttl, text.to_ascii_uppercase()));
        }
    }
}

/// `fields` are the `n` a record of type `rtype` takes.
fn field_count(rtype: &str, fields: &[&Token], n: usize, line: usize) -> Result<(), ParseError> {
    if fields.len() == n {
        Ok(())
    } else {
        Err(error(
            line,
            format!("`{rtype}` takes {n} fields, found {}", fields.len()),
        ))
    }
}

struct Reader {
    apex: String,
    origin: String,
    default_ttl: Option<u32>,
    last_owner: Option<String>,
    last_ttl: Option<u32>,
    soa: Option<Soa>,
    records: Vec<Record>,
}

impl Reader {
    /// A name in the file: `@`, absolute, or relative to the origin.
    fn name(&self, token: &Token, line: usize) -> Result<String, ParseError> {
        if token.quoted || token.escaped {
            return Err(error(
                line,
                format!(
                    "`{}`: quoted or escaped names are not supported",
                    token.text
                ),
            ));
        }
        let text = token.text.as_str();
        let absolute = if text == "@" {
            self.origin.clone()
        } else if text == "." {
            String::new()
        } else if let Some(name) = text.strip_suffix('.') {
            name.to_owned()
        } else if self.origin.is_empty() {
            text.to_owned()
        } else {
            format!("{text}.{}", self.origin)
        };
        check_name(&absolute).map_err(|message| error(line, message))
    }

    fn entry(&mut self, entry: &Entry) -> Result<(), ParseError> {
        let line = entry.line;
        let tokens = &entry.tokens;
        let Some(first) = tokens.first() else {
            return Ok(());
        };
        if !entry.blank_owner && !first.quoted && first.text.starts_with('$') {
            return self.directive(line, tokens);
        }
        let mut rest = tokens.iter();
        let owner = if entry.blank_owner {
            self.last_owner
                .clone()
                .ok_or_else(|| error(line, "a record without an owner name, and none before it"))?
        } else {
            rest.next();
            self.name(first, line)?
        };
        if !in_zone(&owner, &self.apex) {
            return Err(error(
                line,
                format!("`{owner}` is outside the zone `{}`", self.apex),
            ));
        }
        let (ttl, rtype) = ttl_and_type(&mut rest, &owner, line)?;
        let ttl = ttl.or(self.default_ttl).or(self.last_ttl).ok_or_else(|| {
            error(
                line,
                "a record without a TTL, and no `$TTL` or TTL before it",
            )
        })?;
        self.last_owner = Some(owner.clone());
        self.last_ttl = Some(ttl);
        let fields: Vec<&Token> = rest.collect();
        if rtype == "SOA" {
            return self.soa(&owner, ttl, &fields, line);
        }
        let record = Record {
            data: self.data(&rtype, &fields, line)?,
            name: owner,
            ttl,
        };
        if !self.records.contains(&record) {
            self.records.push(record);
        }
        Ok(())
    }

    /// The zone's SOA record, at `owner` with `fields`: at the apex, once.
    fn soa(
        &mut self,
        owner: &str,
        ttl: u32,
        fields: &[&Token],
        line: usize,
    ) -> Result<(), ParseError> {
        field_count("SOA", fields, 7, line)?;
        if owner != self.apex {
            return Err(error(
                line,
                format!("an SOA at `{owner}`, not at the zone apex `{}`", self.apex),
            ));
        }
        if self.soa.is_some() {
            return Err(error(line, "a second SOA record"));
        }
        let time = |token: &Token| -> Result<u32, ParseError> {
            parse_ttl(&token.text)
                .ok_or_else(|| error(line, format!("`{}` is not an SOA time", token.text)))
        };
        let serial = fields[2]
            .text
            .parse()
            .map_err(|_| error(line, format!("`{}` is not an SOA serial", fields[2].text)))?;
        self.soa = Some(Soa {
            ttl,
            mname: self.name(fields[0], line)?,
            rname: self.name(fields[1], line)?,
            serial,
            refresh: time(fields[3])?,
            retry: time(fields[4])?,
            expire: time(fields[5])?,
            minimum: time(fields[6])?,
        });
        Ok(())
    }

    /// The data of a record of type `rtype` (not SOA) from its `fields`.
    fn data(&self, rtype: &str, fields: &[&Token], line: usize) -> Result<RData, ParseError> {
        let count = |n: usize| field_count(rtype, fields, n, line);
        let number = |token: &Token, what: &str| -> Result<u16, ParseError> {
            token
                .text
                .parse()
                .map_err(|_| error(line, format!("`{}` is not a valid {what}", token.text)))
        };
        Ok(match rtype {
            "NS" => {
                count(1)?;
                RData::Ns(self.name(fields[0], line)?)
            }
            "A" => {
                count(1)?;
                RData::A(fields[0].text.parse().map_err(|_| {
                    error(line, format!("`{}` is not an IPv4 address", fields[0].text))
                })?)
            }
            "AAAA" => {
                count(1)?;
                RData::Aaaa(fields[0].text.parse().map_err(|_| {
                    error(line, format!("`{}` is not an IPv6 address", fields[0].text))
                })?)
            }
            "CNAME" => {
                count(1)?;
                RData::Cname(self.name(fields[0], line)?)
            }
            "SRV" => {
                count(4)?;
                RData::Srv {
                    priority: number(fields[0], "SRV priority")?,
                    weight: number(fields[1], "SRV weight")?,
                    port: number(fields[2], "SRV port")?,
                    target: self.name(fields[3], line)?,
                }
            }
            "TXT" => {
                if fields.is_empty() {
                    return Err(error(line, "`TXT` takes at least one string, found none"));
                }
                let mut strings = Vec::new();
                for field in fields {
                    if field.text.len() > MAX_CHARACTER_STRING {
                        return Err(error(
                            line,
                            format!("a TXT string of {} bytes, past 255", field.text.len()),
                        ));
                    }
                    strings.push(field.text.clone());
                }
                RData::Txt(strings)
            }
            other => {
                return Err(error(
                    line,
                    format!("record type `{other}` is not supported"),
                ));
            }
        })
    }

    fn directive(&mut self, line: usize, tokens: &[Token]) -> Result<(), ParseError> {
        let directive = tokens[0].text.to_ascii_uppercase();
        let argument = match tokens {
            [_, argument] => argument,
            _ => {
                return Err(error(
                    line,
                    format!(
                        "`{directive}` takes one argument, found {}",
                        tokens.len() - 1
                    ),
                ));
            }
        };
        match directive.as_str() {
            "$ORIGIN" => {
                self.origin = self.name(argument, line)?;
                Ok(())
            }
            "$TTL" => {
                let ttl = parse_ttl(&argument.text)
                    .filter(|t| *t <= MAX_TTL)
                    .ok_or_else(|| error(line, format!("`{}` is not a TTL", argument.text)))?;
                self.default_ttl = Some(ttl);
                Ok(())
            }
            _ => Err(error(
                line,
                format!("directive `{directive}` is not supported"),
            )),
        }
    }
}

impl Zone {
    /// Parse the master file of the zone whose apex is `apex` (also the first origin).
    pub(crate) fn parse(apex: &str, text: &str) -> Result<Zone, ParseError> {
        let apex = check_name(apex).map_err(|message| error(0, message))?;
        let mut reader = Reader {
            apex: apex.clone(),
            origin: apex.clone(),
            default_ttl: None,
            last_owner: None,
            last_ttl: None,
            soa: None,
            records: Vec::new(),
        };
        for entry in entries(text)? {
            reader.entry(&entry)?;
        }
        let soa = reader
            .soa
            .ok_or_else(|| error(0, format!("the zone `{apex}` has no SOA record")))?;
        Ok(Zone {
            apex,
            default_ttl: reader.default_ttl,
            soa,
            records: reader.records,
        })
    }

    /// The records of the set (`name`, `rtype`).
    pub(crate) fn rrset(&self, name: &str, rtype: Type) -> impl Iterator<Item = &Record> {
        self.records
            .iter()
            .filter(move |r| r.name == name && r.data.rtype() == rtype)
    }

    /// Replace the set (`name`, `rtype`) with `data`, each with `ttl`. Returns
    /// whether the zone changed; when it did, the SOA serial is incremented.
    /// The caller has checked `name`, the types, and the rules of the zone.
    pub(crate) fn replace_rrset(
        &mut self,
        name: &str,
        rtype: Type,
        ttl: u32,
        data: &[RData],
    ) -> bool {
        let current: Vec<&Record> = self.rrset(name, rtype).collect();
        let same = current.len() == data.len()
            && current.iter().all(|r| r.ttl == ttl)
            && data
                .iter()
                .all(|d| current.iter().any(|r| r.data.same_as(d)));
        if same {
            return false;
        }
        self.records
            .retain(|r| !(r.name == name && r.data.rtype() == rtype));
        self.records.extend(data.iter().map(|d| Record {
            name: name.to_owned(),
            ttl,
            data: d.clone(),
        }));
        self.soa.serial = self.soa.serial.wrapping_add(1);
        true
    }

    /// Delete the set (`name`, `rtype`). Returns whether the zone changed; when
    /// it did, the SOA serial is incremented.
    pub(crate) fn delete_rrset(&mut self, name: &str, rtype: Type) -> bool {
        let before = self.records.len();
        self.records
            .retain(|r| !(r.name == name && r.data.rtype() == rtype));
        let changed = self.records.len() != before;
        if changed {
            self.soa.serial = self.soa.serial.wrapping_add(1);
        }
        changed
    }

    /// The master file of the zone.
    pub(crate) fn write(&self) -> String {
        let mut records: Vec<&Record> = self.records.iter().collect();
        // A stable sort: the records of one set keep their order.
        records.sort_by(|a, b| {
            canonical_order(&a.name, &b.name).then(a.data.rtype().cmp(&b.data.rtype()))
        });
        let owner_width = records
            .iter()
            .map(|r| fqdn(&r.name).len())
            .chain([fqdn(&self.apex).len()])
            .max()
            .unwrap_or(0);
        let ttl_width = records
            .iter()
            .map(|r| r.ttl)
            .chain([self.soa.ttl])
            .map(|ttl| ttl.to_string().len())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        let _ = writeln!(out, "$ORIGIN {}", fqdn(&self.apex));
        if let Some(ttl) = self.default_ttl {
            let _ = writeln!(out, "$TTL {ttl}");
        }
        let soa = &self.soa;
        let _ = writeln!(
            out,
            "{:<owner_width$} {:>ttl_width$} IN SOA   {} {} {} {} {} {} {}",
            fqdn(&self.apex),
            soa.ttl,
            fqdn(&soa.mname),
            fqdn(&soa.rname),
            soa.serial,
            soa.refresh,
            soa.retry,
            soa.expire,
            soa.minimum
        );
        for record in records {
            let _ = writeln!(
                out,
                "{:<owner_width$} {:>ttl_width$} IN {:<5} {}",
                fqdn(&record.name),
                record.ttl,
                record.data.rtype().mnemonic(),
                rdata_text(&record.data)
            );
        }
        out
    }
}

/// A name with its final dot, as the file writes it.
fn fqdn(name: &str) -> String {
    format!("{name}.")
}

/// The data of a record as the master file writes it.
fn rdata_text(data: &RData) -> String {
    match data {
        RData::Ns(name) | RData::Cname(name) => fqdn(name),
        RData::A(address) => address.to_string(),
        RData::Aaaa(address) => address.to_string(),
        RData::Srv {
            priority,
            weight,
            port,
            target,
        } => format!("{priority} {weight} {port} {}", fqdn(target)),
        RData::Txt(strings) => strings
            .iter()
            .map(|s| quote(s))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// A character-string in double quotes, with `"` and `\` escaped, and control
/// characters as `\DDD`.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\{:03}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Cut `text` into character-strings of at most 255 bytes, at character
/// boundaries. The empty text is one empty string.
pub(crate) fn character_strings(text: &str) -> Vec<String> {
    let mut strings = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if current.len() + c.len_utf8() > MAX_CHARACTER_STRING {
            strings.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    if !current.is_empty() || strings.is_empty() {
        strings.push(current);
    }
    strings
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly")]

    use super::*;

    /// A zone in the hand-written style: relative names, `@`, blank owners,
    /// comments, a multi-line SOA, units, class before TTL.
    const CONTOSO: &str = r#"; contoso.com, the external zone
$ORIGIN contoso.com.
$TTL 1h
@   IN  SOA ns1 hostmaster (
            2026112001 ; serial
            3600       ; refresh
            10M        ; retry
            1w         ; expire
            300 )      ; minimum
    IN  NS  ns1.contoso.com.
        NS  ns2
ns1     A   131.107.1.1
ns2 600 A   131.107.1.2
sip IN 300 A 131.107.155.10 ; Access Edge, edgepool2
sip.contoso.com. 300 IN A 131.107.155.11
xmpp 300 A 131.107.155.20
  300 AAAA 2001:DB8:0:0::1
_sipfederationtls._tcp 300 IN SRV 0 0 5061 sip
_xmpp-server._tcp 300 SRV 10 0 5269 xmpp.contoso.com.
www CNAME  web.example.net.
@ TXT "v=spf1 include:spf.protection.outlook.com -all" "second \"part\"\059"
"#;

    #[test]
    fn parses_the_hand_written_style() {
        let zone = Zone::parse("contoso.com", CONTOSO).unwrap();
        assert_eq!(zone.apex, "contoso.com");
        assert_eq!(zone.default_ttl, Some(3600));
        assert_eq!(
            zone.soa,
            Soa {
                ttl: 3600,
                mname: "ns1.contoso.com".into(),
                rname: "hostmaster.contoso.com".into(),
                serial: 2026112001,
                refresh: 3600,
                retry: 600,
                expire: 604800,
                minimum: 300,
            }
        );
        let find = |name: &str, rtype: Type| -> Vec<(u32, RData)> {
            zone.rrset(name, rtype)
                .map(|r| (r.ttl, r.data.clone()))
                .collect()
        };
        assert_eq!(
            find("contoso.com", Type::Ns),
            [
                (3600, RData::Ns("ns1.contoso.com".into())),
                (3600, RData::Ns("ns2.contoso.com".into()))
            ]
        );
        assert_eq!(
            find("ns2.contoso.com", Type::A),
            [(600, RData::A(Ipv4Addr::new(131, 107, 1, 2)))]
        );
        assert_eq!(
            find("sip.contoso.com", Type::A),
            [
                (300, RData::A(Ipv4Addr::new(131, 107, 155, 10))),
                (300, RData::A(Ipv4Addr::new(131, 107, 155, 11)))
            ]
        );
        // A blank owner continues the previous one.
        assert_eq!(
            find("xmpp.contoso.com", Type::Aaaa),
            [(300, RData::Aaaa("2001:db8::1".parse().unwrap()))]
        );
        assert_eq!(
            find("_sipfederationtls._tcp.contoso.com", Type::Srv),
            [(
                300,
                RData::Srv {
                    priority: 0,
                    weight: 0,
                    port: 5061,
                    target: "sip.contoso.com".into()
                }
            )]
        );
        assert_eq!(
            find("www.contoso.com", Type::Cname),
            [(3600, RData::Cname("web.example.net".into()))]
        );
        assert_eq!(
            find("contoso.com", Type::Txt),
            [(
                3600,
                RData::Txt(vec![
                    "v=spf1 include:spf.protection.outlook.com -all".into(),
                    "second \"part\";".into()
                ])
            )]
        );
        assert_eq!(zone.records.len(), 12);
    }

    #[test]
    fn write_then_parse_is_the_same_zone() {
        let zone = Zone::parse("contoso.com", CONTOSO).unwrap();
        let text = zone.write();
        let again = Zone::parse("contoso.com", &text).unwrap();
        // The same records; the order is the written one.
        assert_eq!(again.soa, zone.soa);
        assert_eq!(again.default_ttl, zone.default_ttl);
        assert_eq!(again.records.len(), zone.records.len());
        for record in &zone.records {
            assert!(again.records.contains(record), "{record:?} lost in\n{text}");
        }
        // Writing is a fixed point.
        assert_eq!(again.write(), text);
    }

    #[test]
    fn writes_sorted_sets_with_fully_qualified_owners() {
        let zone = Zone::parse("contoso.com", CONTOSO).unwrap();
        let text = zone.write();
        let expected = r#"$ORIGIN contoso.com.
$TTL 3600
contoso.com.                        3600 IN SOA   ns1.contoso.com. hostmaster.contoso.com. 2026112001 3600 600 604800 300
contoso.com.                        3600 IN NS    ns1.contoso.com.
contoso.com.                        3600 IN NS    ns2.contoso.com.
contoso.com.                        3600 IN TXT   "v=spf1 include:spf.protection.outlook.com -all" "second \"part\";"
_sipfederationtls._tcp.contoso.com.  300 IN SRV   0 0 5061 sip.contoso.com.
_xmpp-server._tcp.contoso.com.       300 IN SRV   10 0 5269 xmpp.contoso.com.
ns1.contoso.com.                    3600 IN A     131.107.1.1
ns2.contoso.com.                     600 IN A     131.107.1.2
sip.contoso.com.                     300 IN A     131.107.155.10
sip.contoso.com.                     300 IN A     131.107.155.11
www.contoso.com.                    3600 IN CNAME web.example.net.
xmpp.contoso.com.                    300 IN A     131.107.155.20
xmpp.contoso.com.                    300 IN AAAA  2001:db8::1
"#;
        assert_eq!(text, expected);
    }

    #[test]
    fn replace_changes_the_set_and_increments_the_serial() {
        let mut zone = Zone::parse("contoso.com", CONTOSO).unwrap();
        let data = [RData::A(Ipv4Addr::new(131, 107, 155, 20))];
        assert!(zone.replace_rrset("sip.contoso.com", Type::A, 60, &data));
        assert_eq!(zone.soa.serial, 2026112002);
        let set: Vec<&Record> = zone.rrset("sip.contoso.com", Type::A).collect();
        assert_eq!(set.len(), 1);
        assert_eq!((set[0].ttl, &set[0].data), (60, &data[0]));
        // The same set again: nothing changes, not even the serial.
        assert!(!zone.replace_rrset("sip.contoso.com", Type::A, 60, &data));
        assert_eq!(zone.soa.serial, 2026112002);
        // Only the TTL differs: a change.
        assert!(zone.replace_rrset("sip.contoso.com", Type::A, 300, &data));
        assert_eq!(zone.soa.serial, 2026112003);
        // A new set is created; a TXT cut differently is the same record.
        let txt = [RData::Txt(vec![
            "v=spf1 include:spf.protection.outlook.com -allsecond \"part\";".into(),
        ])];
        assert!(!zone.replace_rrset("contoso.com", Type::Txt, 3600, &txt));
        assert!(zone.replace_rrset("new.contoso.com", Type::Txt, 300, &txt));
        assert_eq!(zone.rrset("new.contoso.com", Type::Txt).count(), 1);
    }

    #[test]
    fn delete_removes_the_set_only() {
        let mut zone = Zone::parse("contoso.com", CONTOSO).unwrap();
        assert!(zone.delete_rrset("xmpp.contoso.com", Type::A));
        assert_eq!(zone.soa.serial, 2026112002);
        assert_eq!(zone.rrset("xmpp.contoso.com", Type::A).count(), 0);
        assert_eq!(zone.rrset("xmpp.contoso.com", Type::Aaaa).count(), 1);
        // Absent: nothing changes.
        assert!(!zone.delete_rrset("xmpp.contoso.com", Type::A));
        assert_eq!(zone.soa.serial, 2026112002);
    }

    #[test]
    fn the_serial_wraps_as_serial_arithmetic_does() {
        let text = "@ 300 IN SOA ns1 hostmaster 4294967295 1 1 1 1\n";
        let mut zone = Zone::parse("contoso.com", text).unwrap();
        assert!(zone.replace_rrset(
            "a.contoso.com",
            Type::A,
            1,
            &[RData::A(Ipv4Addr::LOCALHOST)]
        ));
        assert_eq!(zone.soa.serial, 0);
    }

    fn parse_error(text: &str) -> String {
        Zone::parse("contoso.com", text).unwrap_err().to_string()
    }

    #[test]
    fn malformed_lines_are_errors_naming_the_line() {
        let soa = "$TTL 300\n@ IN SOA ns1 hostmaster 1 2 3 4 5\n";
        let cases = [
            (
                "sip IN A 131.107.155\n",
                "line 3: `131.107.155` is not an IPv4 address",
            ),
            (
                "sip IN MX 10 mail\n",
                "line 3: record type `MX` is not supported",
            ),
            (
                "_sip._tcp SRV 0 0 5061\n",
                "line 3: `SRV` takes 4 fields, found 3",
            ),
            (
                "_sip._tcp SRV 0 0 70000 sip\n",
                "line 3: `70000` is not a valid SRV port",
            ),
            (
                "sip.example.net. A 10.0.0.1\n",
                "line 3: `sip.example.net` is outside the zone `contoso.com`",
            ),
            (
                "bad..name A 10.0.0.1\n",
                "line 3: `bad..name.contoso.com` is not a valid domain name",
            ),
            ("sip CH A 10.0.0.1\n", "line 3: class `CH` is not supported"),
            (
                "sip 300\n",
                "line 3: the record of `sip.contoso.com` has no type",
            ),
            ("t TXT \"open\n", "line 3: unterminated string"),
            ("\nx TXT ( \"a\"\n", "line 4: `(` without `)`"),
            ("x A 10.0.0.1 )\n", "line 3: `)` without `(`"),
            (
                "$INCLUDE other.zone\n",
                "line 3: directive `$INCLUDE` is not supported",
            ),
            (
                "@ SOA ns1 hostmaster 2 2 3 4 5\n",
                "line 3: a second SOA record",
            ),
            ("x 1h30 A 10.0.0.1\n", "line 3: `1h30` is not a TTL"),
            (
                "sub SOA ns1 h 1 2 3 4 5\n",
                "line 3: an SOA at `sub.contoso.com`, not at the zone apex `contoso.com`",
            ),
            (
                "t TXT\n",
                "line 3: `TXT` takes at least one string, found none",
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(parse_error(&format!("{soa}{line}")), expected, "{line}");
        }
        assert_eq!(
            parse_error("sip 300 A 10.0.0.1\n"),
            "the zone `contoso.com` has no SOA record"
        );
        assert_eq!(
            parse_error("$ORIGIN example.net.\n@ 300 SOA ns1 h 1 2 3 4 5\n"),
            "line 2: `example.net` is outside the zone `contoso.com`"
        );
        assert_eq!(
            parse_error("  300 A 10.0.0.1\n"),
            "line 1: a record without an owner name, and none before it"
        );
        assert_eq!(
            parse_error("@ IN SOA ns1 hostmaster 1 2 3 4 5\n"),
            "line 1: a record without a TTL, and no `$TTL` or TTL before it"
        );
    }

    #[test]
    fn origin_changes_apply_to_the_names_after_them() {
        let text = "$TTL 300\n@ SOA ns1 h 1 2 3 4 5\n$ORIGIN _tcp.contoso.com.\n_sip SRV 0 0 5061 sip.contoso.com.\n@ TXT plain words\n";
        let zone = Zone::parse("contoso.com", text).unwrap();
        assert_eq!(zone.records[0].name, "_sip._tcp.contoso.com");
        assert_eq!(zone.records[1].name, "_tcp.contoso.com");
        assert_eq!(
            zone.records[1].data,
            RData::Txt(vec!["plain".into(), "words".into()])
        );
    }

    #[test]
    fn ttl_units() {
        assert_eq!(parse_ttl("3600"), Some(3600));
        assert_eq!(parse_ttl("1h30m"), Some(5400));
        assert_eq!(parse_ttl("2D"), Some(172_800));
        assert_eq!(parse_ttl("1h30"), None);
        assert_eq!(parse_ttl("h"), None);
        assert_eq!(parse_ttl("9999999999"), None);
    }

    #[test]
    fn names_and_order() {
        assert_eq!(check_name("SIP.Contoso.com.").unwrap(), "sip.contoso.com");
        assert!(check_name("a b.contoso.com").is_err());
        assert!(check_name(&format!("{}.com", "a".repeat(64))).is_err());
        assert!(in_zone("sip.contoso.com", "contoso.com"));
        assert!(in_zone("contoso.com", "contoso.com"));
        assert!(!in_zone("notcontoso.com", "contoso.com"));
        let mut names = [
            "sip.contoso.com",
            "_tcp.contoso.com",
            "contoso.com",
            "a.sip.contoso.com",
        ];
        names.sort_by(|a, b| canonical_order(a, b));
        assert_eq!(
            names,
            [
                "contoso.com",
                "_tcp.contoso.com",
                "sip.contoso.com",
                "a.sip.contoso.com"
            ]
        );
    }

    #[test]
    fn long_text_is_cut_into_character_strings() {
        let text = "é".repeat(200); // 400 bytes
        let strings = character_strings(&text);
        assert_eq!(strings.len(), 2);
        assert!(strings.iter().all(|s| s.len() <= MAX_CHARACTER_STRING));
        assert_eq!(strings.concat(), text);
        assert_eq!(character_strings(""), [""]);
        // And it survives a write and a parse, control characters included.
        let mut zone = Zone::parse("contoso.com", "@ 300 SOA ns1 h 1 2 3 4 5\n").unwrap();
        let data = [RData::Txt(character_strings(&format!("{text}\t\"\\")))];
        zone.replace_rrset("t.contoso.com", Type::Txt, 300, &data);
        let again = Zone::parse("contoso.com", &zone.write()).unwrap();
        assert_eq!(again.records, zone.records);
    }
}
