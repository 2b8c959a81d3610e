//! The published topology document: what it says about Edge and Front End pools,
//! and the two edits the failback makes to it.
//!
//! Input is the `Get-CsTopology -AsXml` form (root `Topology` in namespace
//! `urn:schema:Microsoft.Rtc.Management.Deploy.Topology.2008`). Clusters are keyed
//! by `ClusterId@SiteId,Number`, services by `ServiceId@SiteId,RoleName,Instance`;
//! a service says where it runs with `InstalledOn/ClusterId` and what it uses with
//! `DependsOn/Dependency/ServiceId`.
//!
//! What the model reads:
//! - an **Edge pool** is a cluster with an `EdgeServer` service; its next hop is the
//!   cluster of the `Registrar` that service depends on; its Access Edge FQDN is the
//!   `ConfiguredFqdn` of an external `urn:component:AccessEdge` port;
//! - **"Enable federation for this Edge pool (Port 5061)"** is represented by the
//!   presence of the Access Edge's external SIP server port: `Port
//!   Owner="urn:component:AccessEdge" Usage="SipServer" InterfaceSide="External"
//!   Port="5061" Protocol="Mtls"`. That port is what federation adds on top of remote
//!   access (the external `SipClient` 5061 `Tls` port), so the model treats the pool
//!   as federation-enabled exactly when the port is there, and the edit adds or
//!   removes that one `Port` element. (Checked against a Topology Builder sample of a
//!   federated Edge pool; no public sample of a non-federated pool was found, so this
//!   stays an inference to confirm against a real export.)
//! - a **Front End pool** is a cluster with a `Registrar` service; its Edge pool for
//!   media ("Associate Edge pool (for media components)") is the `EdgeServer` its
//!   `ConfServices` (or, lacking that, `MediationServer`) service depends on.
//!
//! Writing is a **splice** of the original text: the document is kept as read, with
//! the byte span of every element and attribute value, and an edit replaces,
//! removes or inserts only the bytes it must. Everything the model does not know —
//! other elements and attributes, comments, namespaces, whitespace — comes back
//! byte for byte.

use std::collections::BTreeMap;
use std::ops::Range;

use std::net::IpAddr;

use quick_xml::events::Event;
use quick_xml::reader::Reader;
use serde::{Deserialize, Serialize};

use crate::text::{is_host_name, is_plain_name, printable};

/// The namespace of the published topology's root element.
pub const TOPOLOGY_NS: &str = "urn:schema:Microsoft.Rtc.Management.Deploy.Topology.2008";

/// Reading or editing a topology document went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    /// The text is not well-formed XML.
    #[error("malformed topology XML at line {line}, column {column}: {message}")]
    Malformed {
        line: usize,
        column: usize,
        message: String,
    },
    /// Well-formed XML, but not a published topology.
    #[error("not a published topology at line {line}, column {column}: {message}")]
    NotTopology {
        line: usize,
        column: usize,
        message: String,
    },
    /// A reference or required attribute is missing or wrong.
    #[error("invalid topology at line {line}, column {column}: {message}")]
    Invalid {
        line: usize,
        column: usize,
        message: String,
    },
    /// An edit names a pool the topology does not have.
    #[error("the topology has no {kind} `{fqdn}`")]
    UnknownPool { kind: &'static str, fqdn: String },
}

/// A site as the topology defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopologySite {
    /// `CentralSite@SiteId`.
    pub site_id: String,
    /// The site's name (`Site1`).
    pub name: String,
}

/// One server of an Edge pool and its interfaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeMachine {
    pub fqdn: String,
    pub internal_ips: Vec<String>,
    pub external_ips: Vec<String>,
}

/// An Edge pool: a cluster running the `EdgeServer` role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgePool {
    pub fqdn: String,
    /// The site's name.
    pub site: String,
    pub machines: Vec<EdgeMachine>,
    /// "Enable federation for this Edge pool (Port 5061)".
    pub federation_enabled: bool,
    /// The next hop pool's FQDN (the cluster of the `Registrar` it depends on).
    pub next_hop: Option<String>,
    /// The Access Edge external FQDN (`sip.contoso.com`).
    pub access_edge_fqdn: Option<String>,
}

impl EdgePool {
    /// The service identity naming this pool in a site route.
    #[must_use]
    pub fn identity(&self) -> String {
        format!("EdgeServer:{}", self.fqdn)
    }

    /// The external IPs of the Access Edge service, one per machine, in machine
    /// order.
    #[must_use]
    pub fn access_edge_ips(&self) -> Vec<String> {
        self.machines
            .iter()
            .flat_map(|m| m.external_ips.iter().cloned())
            .collect()
    }
}

/// A Front End pool: a cluster running the `Registrar` role — or a Director
/// pool, whose `Registrar` is marked `IsDirector="true"`: it can be an Edge
/// pool's next hop but homes no users and has no media.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrontEndPool {
    pub fqdn: String,
    /// The site's name.
    pub site: String,
    /// "Associate Edge pool (for media components)": the Edge pool FQDN.
    pub media_edge_pool: Option<String>,
    /// A Director pool, not a Front End pool of users.
    pub director: bool,
}

/// One change to make to the published topology's text. In a plan document
/// an object tagged by `edit` (`{"edit": "set-federation", "edge_pool": …,
/// "enabled": false}`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "edit", rename_all = "kebab-case", deny_unknown_fields)]
pub enum TopologyEdit {
    /// Turn "Enable federation (Port 5061)" on or off for an Edge pool.
    SetFederation { edge_pool: String, enabled: bool },
    /// Associate a Front End pool with an Edge pool for media.
    SetMediaEdgePool {
        front_end_pool: String,
        edge_pool: String,
    },
    /// Set an Edge pool's next hop: the Front End or Director pool whose
    /// `Registrar` its `EdgeServer` service depends on.
    SetNextHop { edge_pool: String, next_hop: String },
}

/// A published topology document, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    dom: Dom,
    sites: Vec<TopologySite>,
    edge_pools: Vec<EdgePool>,
    front_end_pools: Vec<FrontEndPool>,
    default_domain: Option<String>,
    /// Per Edge pool FQDN: the `EdgeServer` service's node and its id.
    edge_services: BTreeMap<String, ServiceKey>,
    /// Per Front End (or Director) pool FQDN: its `Registrar` service.
    registrar_services: BTreeMap<String, ServiceKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ServiceKey {
    site_id: String,
    role: String,
    instance: String,
    node: usize,
}

impl ServiceKey {
    fn new((site_id, role, instance): ServiceRef<'_>, node: usize) -> Self {
        Self {
            site_id: site_id.to_owned(),
            role: role.to_owned(),
            instance: instance.to_owned(),
            node,
        }
    }
}

impl Topology {
    /// Read a published topology document.
    ///
    /// # Errors
    /// [`TopologyError::Malformed`] for XML that is not well-formed,
    /// [`TopologyError::NotTopology`] for another kind of document, and
    /// [`TopologyError::Invalid`] for broken references; each with the line and
    /// column.
    pub fn parse(text: &str) -> Result<Self, TopologyError> {
        Model::read(Dom::parse(text.to_owned())?)
    }

    /// The document's text, exactly as read.
    #[must_use]
    pub fn xml(&self) -> &str {
        &self.dom.source
    }

    #[must_use]
    pub fn sites(&self) -> &[TopologySite] {
        &self.sites
    }

    /// Edge pools, in document order.
    #[must_use]
    pub fn edge_pools(&self) -> &[EdgePool] {
        &self.edge_pools
    }

    /// Front End pools, in document order.
    #[must_use]
    pub fn front_end_pools(&self) -> &[FrontEndPool] {
        &self.front_end_pools
    }

    /// `InternalDomains@DefaultDomain`, the SIP domain.
    #[must_use]
    pub fn default_domain(&self) -> Option<&str> {
        self.default_domain.as_deref()
    }

    #[must_use]
    pub fn edge_pool(&self, fqdn: &str) -> Option<&EdgePool> {
        self.edge_pools
            .iter()
            .find(|p| p.fqdn.eq_ignore_ascii_case(fqdn))
    }

    #[must_use]
    pub fn front_end_pool(&self, fqdn: &str) -> Option<&FrontEndPool> {
        self.front_end_pools
            .iter()
            .find(|p| p.fqdn.eq_ignore_ascii_case(fqdn))
    }

    /// Apply `edits` to the document and return the new text. Bytes outside the
    /// edited elements and attributes are unchanged. An edit that already holds
    /// changes nothing.
    ///
    /// # Errors
    /// [`TopologyError::UnknownPool`] when an edit names a pool the topology does
    /// not have; [`TopologyError::Invalid`] when the element to edit is missing.
    pub fn edit(&self, edits: &[TopologyEdit]) -> Result<String, TopologyError> {
        let mut splices: Vec<Splice> = Vec::new();
        self.splices(edits, &mut splices)?;
        Ok(apply_splices(&self.dom.source, splices))
    }

    /// The text of the document [`Topology::edit`] gives for `earlier`, edited
    /// in turn with `edits` — what `Topology::parse(&self.edit(earlier)?)?
    /// .edit(edits)` gives — made on this document's reading, without reading
    /// the first draft; `None` when it cannot be made so, and the caller reads
    /// that draft.
    ///
    /// Edits of different kinds read and write disjoint parts of a document:
    /// federation the `Ports` of an `EdgeServer` service, media the
    /// `DependsOn` of `ConfServices` and `MediationServer` services, the next
    /// hop the `DependsOn` of an `EdgeServer` service; the pools, services and
    /// clusters they look up are the same in both texts. So when no edit of
    /// `edits` is of a kind `earlier` has, the splices of both lists, made on
    /// this text, are the splices of the sequential edits (a property test,
    /// `an_edit_after_another_kind_is_the_edit_of_the_read_draft`, holds the
    /// two together). An edit that fails gives `None`: the sequential edit
    /// says why, at its place in the draft.
    #[must_use]
    pub fn edit_after(&self, earlier: &[TopologyEdit], edits: &[TopologyEdit]) -> Option<String> {
        let kind = std::mem::discriminant::<TopologyEdit>;
        if earlier
            .iter()
            .any(|e| edits.iter().any(|n| kind(e) == kind(n)))
        {
            return None;
        }
        let mut splices: Vec<Splice> = Vec::new();
        self.splices(earlier, &mut splices).ok()?;
        self.splices(edits, &mut splices).ok()?;
        Some(apply_splices(&self.dom.source, splices))
    }

    fn splices(
        &self,
        edits: &[TopologyEdit],
        splices: &mut Vec<Splice>,
    ) -> Result<(), TopologyError> {
        for edit in edits {
            match edit {
                TopologyEdit::SetFederation { edge_pool, enabled } => {
                    self.federation_splices(edge_pool, *enabled, splices)?;
                }
                TopologyEdit::SetMediaEdgePool {
                    front_end_pool,
                    edge_pool,
                } => self.media_splices(front_end_pool, edge_pool, splices)?,
                TopologyEdit::SetNextHop {
                    edge_pool,
                    next_hop,
                } => {
                    let edge = self.edge_service(edge_pool)?;
                    let registrar = self
                        .front_end_pool(next_hop)
                        .and_then(|p| self.registrar_services.get(&p.fqdn))
                        .ok_or_else(|| TopologyError::UnknownPool {
                            kind: "front end pool",
                            fqdn: next_hop.to_owned(),
                        })?;
                    if !self.dependency_splices(edge.node, registrar, splices)? {
                        return Err(self.invalid(
                            edge.node,
                            "the EdgeServer service has no `DependsOn`: no next hop can be set",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn edge_service(&self, fqdn: &str) -> Result<&ServiceKey, TopologyError> {
        let pool = self
            .edge_pool(fqdn)
            .ok_or_else(|| TopologyError::UnknownPool {
                kind: "edge pool",
                fqdn: fqdn.to_owned(),
            })?;
        self.edge_services
            .get(&pool.fqdn)
            .ok_or_else(|| TopologyError::UnknownPool {
                kind: "edge pool",
                fqdn: fqdn.to_owned(),
            })
    }

    fn federation_splices(
        &self,
        fqdn: &str,
        enabled: bool,
        splices: &mut Vec<Splice>,
    ) -> Result<(), TopologyError> {
        let service = self.edge_service(fqdn)?;
        let ports = self
            .dom
            .child(service.node, "Ports")
            .ok_or_else(|| self.invalid(service.node, "the EdgeServer service has no `Ports`"))?;
        let federation_ports: Vec<usize> = self
            .dom
            .children(ports, "Port")
            .filter(|&p| is_federation_port(&self.dom, p))
            .collect();
        if enabled {
            if !federation_ports.is_empty() {
                return Ok(());
            }
            let access_edge: Vec<usize> = self
                .dom
                .children(ports, "Port")
                .filter(|&p| self.dom.attr(p, "Owner") == Some("urn:component:AccessEdge"))
                .collect();
            // The Access Edge FQDN the model read (and checked): an external
            // port's. An internal port's is not checked, and copied into the
            // new external port it made a draft that does not read.
            let external_fqdn = access_edge
                .iter()
                .filter(|&&p| self.dom.attr(p, "InterfaceSide") == Some("External"))
                .find_map(|&p| self.dom.attr(p, "ConfiguredFqdn"))
                .map(str::to_owned);
            let element = federation_port_element(external_fqdn.as_deref());
            let ports_node = &self.dom.nodes[ports];
            match (access_edge.last(), ports_node.self_closing) {
                (Some(&after), _) => {
                    let indent = self.dom.indent_before(after);
                    let at = self.dom.nodes[after].span.end;
                    splices.push(Splice::insert(at, format!("{indent}{element}")));
                }
                (None, false) => {
                    let at = ports_node.content_end;
                    let indent = format!("{}  ", self.dom.indent_before(ports));
                    let close = self.dom.indent_before(ports);
                    // Insert before the end tag: keep the end tag's own indentation.
                    let before_close = self.xml()[..at].trim_end_matches([' ', '\t', '\r', '\n']);
                    let start = before_close.len();
                    splices.push(Splice {
                        range: start..at,
                        text: format!("{indent}{element}{close}"),
                    });
                }
                (None, true) => {
                    return Err(self.invalid(ports, "the EdgeServer `Ports` element is empty"));
                }
            }
        } else {
            for p in federation_ports {
                let span = self.dom.nodes[p].span.clone();
                let lead = self.dom.whitespace_before(p);
                splices.push(Splice::remove(span.start - lead..span.end));
            }
        }
        Ok(())
    }

    fn media_splices(
        &self,
        front_end: &str,
        edge: &str,
        splices: &mut Vec<Splice>,
    ) -> Result<(), TopologyError> {
        let fe = self
            .front_end_pool(front_end)
            .ok_or_else(|| TopologyError::UnknownPool {
                kind: "front end pool",
                fqdn: front_end.to_owned(),
            })?;
        let target = self.edge_service(edge)?;
        let cluster =
            self.dom
                .find_cluster(&fe.fqdn)
                .ok_or_else(|| TopologyError::UnknownPool {
                    kind: "front end pool",
                    fqdn: front_end.to_owned(),
                })?;
        let key = cluster_key(&self.dom, cluster);
        let mut associated = false;
        for service in self.dom.services() {
            let role = service_id(&self.dom, service).map(|(_, r, _)| r);
            if !matches!(role, Some("ConfServices" | "MediationServer")) {
                continue;
            }
            if installed_on(&self.dom, service) != key {
                continue;
            }
            associated |= self.dependency_splices(service, target, splices)?;
        }
        // Nothing to write the association into: the edit cannot be made,
        // which a draft that reads as before would hide.
        if !associated {
            return Err(self.invalid(
                cluster,
                "the Front End pool has no `ConfServices` or `MediationServer` service with `DependsOn`: no Edge pool can be associated with it",
            ));
        }
        Ok(())
    }

    /// Point `service`'s dependency on a service of `target`'s role at
    /// `target` (its `SiteId` and `Instance`), adding the dependency when the
    /// service has none of that role. A service without `DependsOn` is left
    /// as it is, and `false` returned.
    fn dependency_splices(
        &self,
        service: usize,
        target: &ServiceKey,
        splices: &mut Vec<Splice>,
    ) -> Result<bool, TopologyError> {
        let Some(depends) = self.dom.child(service, "DependsOn") else {
            return Ok(false);
        };
        let existing = self
            .dom
            .children(depends, "Dependency")
            .filter_map(|d| self.dom.child(d, "ServiceId"))
            .find(|&s| self.dom.attr(s, "RoleName") == Some(target.role.as_str()));
        if let Some(sid) = existing {
            for (name, value) in [("SiteId", &target.site_id), ("Instance", &target.instance)] {
                let Some(attr) = self.dom.attr_node(sid, name) else {
                    return Err(self.invalid(sid, &format!("`ServiceId` has no `{name}`")));
                };
                if self.dom.value(attr) != value {
                    splices.push(Splice {
                        range: attr.value_span.clone(),
                        text: quick_xml::escape::escape(value.as_str()).into_owned(),
                    });
                }
            }
            return Ok(true);
        }
        let escape = |v: &str| quick_xml::escape::escape(v).into_owned();
        let dependency = format!(
            "<Dependency Usage=\"Default\"><ServiceId SiteId=\"{}\" RoleName=\"{}\" Instance=\"{}\" /></Dependency>",
            escape(&target.site_id),
            escape(&target.role),
            escape(&target.instance)
        );
        let node = &self.dom.nodes[depends];
        if node.self_closing {
            splices.push(Splice {
                range: node.span.clone(),
                text: format!("<DependsOn>{dependency}</DependsOn>"),
            });
        } else {
            match self.dom.children(depends, "Dependency").last() {
                Some(last) => {
                    let indent = self.dom.indent_before(last);
                    splices.push(Splice::insert(
                        self.dom.nodes[last].span.end,
                        format!("{indent}{dependency}"),
                    ));
                }
                None => splices.push(Splice::insert(node.content_end, dependency)),
            }
        }
        Ok(true)
    }

    fn invalid(&self, node: usize, message: &str) -> TopologyError {
        let (line, column) = line_column(self.xml(), self.dom.nodes[node].span.start);
        TopologyError::Invalid {
            line,
            column,
            message: message.to_owned(),
        }
    }
}

fn federation_port_element(configured_fqdn: Option<&str>) -> String {
    let fqdn = configured_fqdn
        .map(|f| format!(" ConfiguredFqdn=\"{}\"", quick_xml::escape::escape(f)))
        .unwrap_or_default();
    format!(
        "<Port Owner=\"urn:component:AccessEdge\" Usage=\"SipServer\" InterfaceSide=\"External\" InterfaceNumber=\"1\" Port=\"5061\" Protocol=\"Mtls\" UrlPath=\"/\" AuthorizesRequests=\"false\"{fqdn} />"
    )
}

fn is_federation_port(dom: &Dom, port: usize) -> bool {
    dom.attr(port, "Owner") == Some("urn:component:AccessEdge")
        && dom.attr(port, "Usage") == Some("SipServer")
        && dom.attr(port, "InterfaceSide") == Some("External")
        && dom.attr(port, "Port") == Some("5061")
}

/// A change to the text: replace `range` with `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Splice {
    range: Range<usize>,
    text: String,
}

impl Splice {
    fn insert(at: usize, text: String) -> Self {
        Self {
            range: at..at,
            text,
        }
    }
    fn remove(range: Range<usize>) -> Self {
        Self {
            range,
            text: String::new(),
        }
    }
}

fn apply_splices(text: &str, mut splices: Vec<Splice>) -> String {
    splices.sort_by(|a, b| {
        (a.range.start, a.range.end, &a.text).cmp(&(b.range.start, b.range.end, &b.text))
    });
    splices.dedup();
    let mut out = String::with_capacity(text.len() + 256);
    let mut at = 0;
    for s in splices {
        if s.range.start < at {
            // Overlapping edits of one element (e.g. the same edit twice): the
            // first wins.
            continue;
        }
        out.push_str(text.get(at..s.range.start).unwrap_or_default());
        out.push_str(&s.text);
        at = s.range.end;
    }
    out.push_str(text.get(at..).unwrap_or_default());
    out
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
#[must_use]
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

// ---------------------------------------------------------------------------
// The light DOM: elements with the byte spans of themselves, their names and
// their attribute values, over the original text. Names and values are read
// from the text where they are; only a value with a reference (`&amp;`) is
// kept unescaped beside it, and an element's own text (a site's `Name`) is
// kept unescaped. A thousand-site topology has some 10⁵ elements: a string
// per name and value was most of reading it.

#[derive(Debug, Clone, PartialEq, Eq)]
struct Attr {
    /// Span of the local name (prefix stripped).
    name: Range<usize>,
    /// Span of the raw value, between the quotes.
    value_span: Range<usize>,
    /// The value unescaped, when its raw text holds a reference; otherwise
    /// the value is the raw text.
    unescaped: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    /// Span of the local name (prefix stripped).
    name: Range<usize>,
    /// The element's attributes: a range of [`Dom::attrs`].
    attrs: Range<usize>,
    /// From `<` of the start tag to after `>` of the end tag.
    span: Range<usize>,
    /// Where the content ends (the `<` of the end tag); `span.end` if self-closing.
    content_end: usize,
    self_closing: bool,
    /// Child elements: the first, the last (for appending), and the next
    /// sibling of this one.
    first_child: Option<usize>,
    last_child: Option<usize>,
    next_sibling: Option<usize>,
    /// The element's direct text, unescaped and trimmed.
    text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Dom {
    /// The document's text, exactly as read; every span is into it.
    source: String,
    nodes: Vec<Node>,
    attrs: Vec<Attr>,
    root: usize,
}

/// The span of the local part of the name at `span` in `text` (after its
/// prefix's `:`).
fn local(text: &str, span: Range<usize>) -> Range<usize> {
    match text.get(span.clone()).and_then(|name| name.rfind(':')) {
        Some(colon) => span.start + colon + 1..span.end,
        None => span,
    }
}

fn malformed(text: &str, offset: usize, message: String) -> TopologyError {
    let (line, column) = line_column(text, offset);
    TopologyError::Malformed {
        line,
        column,
        message,
    }
}

/// The span of `part` in `text`: quick-xml reading a `&str` hands out
/// slices of it, so where a name or value is follows from where its slice
/// starts.
fn span_in(text: &str, part: &[u8]) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= text.len()).then_some(start..end)
}

/// Check and place the attributes of the element `element` that starts at
/// `start`, then unescape the values that hold a reference: their range in
/// `attrs`.
fn push_attributes(
    text: &str,
    element: &quick_xml::events::BytesStart<'_>,
    start: usize,
    attrs: &mut Vec<Attr>,
) -> Result<Range<usize>, TopologyError> {
    let first = attrs.len();
    for attr in element.attributes().with_checks(true) {
        let attr = attr.map_err(|err| malformed(text, start, err.to_string()))?;
        let (Some(name), Some(value_span)) =
            (span_in(text, attr.key.as_ref()), span_in(text, &attr.value))
        else {
            return Err(malformed(
                text,
                start,
                "an attribute is not where the text has it".to_owned(),
            ));
        };
        attrs.push(Attr {
            name: local(text, name),
            value_span,
            unescaped: None,
        });
    }
    for attr in &mut attrs[first..] {
        let raw = text.get(attr.value_span.clone()).unwrap_or_default();
        if raw.contains('&') {
            attr.unescaped = Some(
                quick_xml::escape::unescape(raw)
                    .map_err(|err| malformed(text, attr.value_span.start, err.to_string()))?
                    .into_owned(),
            );
        }
    }
    Ok(first..attrs.len())
}

/// Make `id` the last child of `parent`.
fn append_child(nodes: &mut [Node], parent: usize, id: usize) {
    match nodes[parent].last_child {
        Some(last) => nodes[last].next_sibling = Some(id),
        None => nodes[parent].first_child = Some(id),
    }
    nodes[parent].last_child = Some(id);
}

impl Dom {
    fn parse(source: String) -> Result<Self, TopologyError> {
        let text = source.as_str();
        let mut reader = Reader::from_str(text);
        reader.config_mut().check_end_names = true;
        reader.config_mut().trim_text(false);
        // Room for as many elements as the text has `<` and attributes as it
        // has `=`, at most: at a thousand sites the document has some 60,000
        // elements and 170,000 attributes, and growing the two vectors by
        // doubling copied each several times (pages never written cost
        // nothing).
        let (mut tags, mut equals) = (0, 0);
        for byte in text.bytes() {
            tags += usize::from(byte == b'<');
            equals += usize::from(byte == b'=');
        }
        let mut nodes: Vec<Node> = Vec::with_capacity(tags);
        let mut attrs: Vec<Attr> = Vec::with_capacity(equals);
        let mut stack: Vec<usize> = Vec::new();
        let mut root = None;
        loop {
            let start = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
            let event = reader.read_event().map_err(|e| {
                let at = usize::try_from(reader.error_position()).unwrap_or(text.len());
                malformed(text, at, e.to_string())
            })?;
            let end = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
            match event {
                Event::Start(ref e) | Event::Empty(ref e) => {
                    let self_closing = matches!(event, Event::Empty(_));
                    let element_attrs = push_attributes(text, e, start, &mut attrs)?;
                    let id = nodes.len();
                    // The name follows `<` directly.
                    let name_start = start + 1;
                    nodes.push(Node {
                        name: local(text, name_start..name_start + e.name().as_ref().len()),
                        attrs: element_attrs,
                        span: start..end,
                        content_end: end,
                        self_closing,
                        first_child: None,
                        last_child: None,
                        next_sibling: None,
                        text: String::new(),
                    });
                    match stack.last() {
                        Some(&parent) => append_child(&mut nodes, parent, id),
                        None if root.is_none() => root = Some(id),
                        None => {
                            return Err(malformed(
                                text,
                                start,
                                "more than one root element".to_owned(),
                            ));
                        }
                    }
                    if !self_closing {
                        stack.push(id);
                    }
                }
                Event::End(_) => {
                    if let Some(id) = stack.pop() {
                        nodes[id].span.end = end;
                        nodes[id].content_end = start;
                    }
                }
                // The whitespace between elements, most of a document's
                // text events, adds nothing to an element's trimmed text.
                Event::Text(ref t) if t.as_ref().iter().all(u8::is_ascii_whitespace) => {}
                Event::Text(ref t) => {
                    if let Some(&id) = stack.last() {
                        let raw = String::from_utf8_lossy(t.as_ref());
                        let value = quick_xml::escape::unescape(&raw)
                            .map_err(|err| malformed(text, start, err.to_string()))?;
                        nodes[id].text.push_str(value.trim());
                    } else {
                        return Err(malformed(
                            text,
                            start,
                            "text outside the root element".to_owned(),
                        ));
                    }
                }
                Event::CData(ref t) => {
                    if let Some(&id) = stack.last() {
                        nodes[id]
                            .text
                            .push_str(String::from_utf8_lossy(t.as_ref()).trim());
                    }
                }
                Event::GeneralRef(ref r) => {
                    if let Some(&id) = stack.last() {
                        let raw = format!("&{};", String::from_utf8_lossy(r.as_ref()));
                        let value = quick_xml::escape::unescape(&raw)
                            .map_err(|err| malformed(text, start, err.to_string()))?;
                        nodes[id].text.push_str(&value);
                    }
                }
                Event::Eof => {
                    if let Some(&open) = stack.last() {
                        let name = text.get(nodes[open].name.clone()).unwrap_or_default();
                        return Err(malformed(
                            text,
                            text.len(),
                            format!("element `{name}` is not closed"),
                        ));
                    }
                    break;
                }
                _ => {}
            }
        }
        let root = root.ok_or_else(|| malformed(text, 0, "no root element".to_owned()))?;
        Ok(Self {
            source,
            nodes,
            attrs,
            root,
        })
    }

    /// The text at `span`.
    fn text_at(&self, span: &Range<usize>) -> &str {
        self.source.get(span.clone()).unwrap_or_default()
    }

    /// An element's local name.
    fn name(&self, node: usize) -> &str {
        self.text_at(&self.nodes[node].name)
    }

    /// An element's attribute by local name.
    fn attr_node(&self, node: usize, name: &str) -> Option<&Attr> {
        self.attrs
            .get(self.nodes[node].attrs.clone())
            .unwrap_or_default()
            .iter()
            .find(|a| self.text_at(&a.name) == name)
    }

    /// An attribute's value, unescaped.
    fn value<'a>(&'a self, attr: &'a Attr) -> &'a str {
        attr.unescaped
            .as_deref()
            .unwrap_or_else(|| self.text_at(&attr.value_span))
    }

    fn attr(&self, node: usize, name: &str) -> Option<&str> {
        self.attr_node(node, name).map(|a| self.value(a))
    }

    fn children<'a>(&'a self, node: usize, name: &'a str) -> impl Iterator<Item = usize> + 'a {
        std::iter::successors(self.nodes[node].first_child, |&c| {
            self.nodes[c].next_sibling
        })
        .filter(move |&c| self.name(c) == name)
    }

    fn child(&self, node: usize, name: &str) -> Option<usize> {
        self.children(node, name).next()
    }

    /// The whitespace run (newline and indentation) right before an element, or
    /// a newline when there is none.
    fn indent_before(&self, node: usize) -> String {
        let n = self.whitespace_before(node);
        let start = self.nodes[node].span.start;
        match self.source.get(start - n..start) {
            Some(ws) if !ws.is_empty() => ws.to_owned(),
            _ => String::new(),
        }
    }

    /// How many whitespace bytes precede an element.
    fn whitespace_before(&self, node: usize) -> usize {
        let start = self.nodes[node].span.start;
        let before = self.source.get(..start).unwrap_or_default();
        before.len() - before.trim_end_matches([' ', '\t', '\r', '\n']).len()
    }

    fn services(&self) -> impl Iterator<Item = usize> + '_ {
        self.child(self.root, "Services")
            .into_iter()
            .flat_map(move |s| self.children(s, "Service"))
    }

    fn clusters(&self) -> impl Iterator<Item = usize> + '_ {
        self.child(self.root, "Clusters")
            .into_iter()
            .flat_map(move |s| self.children(s, "Cluster"))
    }

    fn find_cluster(&self, fqdn: &str) -> Option<usize> {
        self.clusters().find(|&c| {
            self.attr(c, "Fqdn")
                .is_some_and(|f| f.eq_ignore_ascii_case(fqdn))
        })
    }
}

/// `(SiteId, Number)` of a cluster's `ClusterId`.
fn cluster_key(dom: &Dom, cluster: usize) -> Option<(&str, &str)> {
    let id = dom.child(cluster, "ClusterId")?;
    Some((dom.attr(id, "SiteId")?, dom.attr(id, "Number")?))
}

/// `(SiteId, RoleName, Instance)` of a service's own `ServiceId`.
fn service_id(dom: &Dom, service: usize) -> Option<ServiceRef<'_>> {
    let id = dom.child(service, "ServiceId")?;
    service_ref(dom, id)
}

fn service_ref(dom: &Dom, id: usize) -> Option<ServiceRef<'_>> {
    Some((
        dom.attr(id, "SiteId")?,
        dom.attr(id, "RoleName")?,
        dom.attr(id, "Instance")?,
    ))
}

fn installed_on(dom: &Dom, service: usize) -> Option<(&str, &str)> {
    let on = dom.child(service, "InstalledOn")?;
    cluster_key(dom, on)
}

fn dependencies(dom: &Dom, service: usize) -> impl Iterator<Item = ServiceRef<'_>> {
    dom.child(service, "DependsOn")
        .into_iter()
        .flat_map(|d| dom.children(d, "Dependency"))
        .filter_map(|d| dom.child(d, "ServiceId"))
        .filter_map(|id| service_ref(dom, id))
}

/// The message for an FQDN attribute that is not a host name.
fn not_an_fqdn(what: &str, value: &str) -> String {
    format!(
        "the {what} FQDN `{}` is not a DNS host name (letters, digits, `-` and `.`)",
        printable(value)
    )
}

/// `(SiteId, RoleName, Instance)`, read from the text.
type ServiceRef<'a> = (&'a str, &'a str, &'a str);

/// Reads the model out of the DOM, one element kind at a time: the root, the
/// sites, the clusters and services (indexed, each id once), then each
/// cluster's Edge pool and Front End pool.
struct Model<'d> {
    dom: &'d Dom,
    /// Site names by `SiteId`.
    site_names: BTreeMap<&'d str, &'d str>,
    /// Clusters by `(SiteId, Number)`.
    clusters: BTreeMap<(&'d str, &'d str), usize>,
    /// The services installed on a cluster, by id: the service's node and
    /// its cluster's.
    services: BTreeMap<ServiceRef<'d>, (usize, usize)>,
}

/// What the model reads from the pools: the pools and the services an edit
/// changes.
#[derive(Default)]
struct Pools {
    edge_pools: Vec<EdgePool>,
    front_end_pools: Vec<FrontEndPool>,
    edge_services: BTreeMap<String, ServiceKey>,
    registrar_services: BTreeMap<String, ServiceKey>,
}

impl<'d> Model<'d> {
    fn read(dom: Dom) -> Result<Topology, TopologyError> {
        let (sites, pools) = {
            let mut model = Model {
                dom: &dom,
                site_names: BTreeMap::new(),
                clusters: BTreeMap::new(),
                services: BTreeMap::new(),
            };
            model.check_root()?;
            let sites = model.read_sites()?;
            model.index_clusters()?;
            model.index_services()?;
            (sites, model.read_pools()?)
        };
        let default_domain = dom
            .child(dom.root, "InternalDomains")
            .and_then(|d| dom.attr(d, "DefaultDomain"))
            .map(str::to_owned);
        Ok(Topology {
            dom,
            sites,
            edge_pools: pools.edge_pools,
            front_end_pools: pools.front_end_pools,
            default_domain,
            edge_services: pools.edge_services,
            registrar_services: pools.registrar_services,
        })
    }

    /// A refusal of the document at `node`.
    fn invalid(&self, node: usize, message: String) -> TopologyError {
        let (line, column) = line_column(&self.dom.source, self.dom.nodes[node].span.start);
        TopologyError::Invalid {
            line,
            column,
            message,
        }
    }

    fn check_root(&self) -> Result<(), TopologyError> {
        let dom = self.dom;
        if dom.name(dom.root) == "Topology" && dom.attr(dom.root, "xmlns") == Some(TOPOLOGY_NS) {
            return Ok(());
        }
        let (line, column) = line_column(&dom.source, dom.nodes[dom.root].span.start);
        Err(TopologyError::NotTopology {
            line,
            column,
            message: format!(
                "the root element is `{}`; expected `Topology` in namespace `{TOPOLOGY_NS}` (the output of Get-CsTopology -AsXml)",
                dom.name(dom.root)
            ),
        })
    }

    /// Every `CentralSite`, its id and name; the names kept by id.
    fn read_sites(&mut self) -> Result<Vec<TopologySite>, TopologyError> {
        let dom = self.dom;
        let mut sites = Vec::new();
        for s in dom
            .child(dom.root, "Sites")
            .into_iter()
            .flat_map(|s| dom.children(s, "CentralSite"))
        {
            let site_id = dom
                .attr(s, "SiteId")
                .ok_or_else(|| self.invalid(s, "`CentralSite` has no `SiteId`".to_owned()))?;
            let name = dom
                .child(s, "Name")
                .map(|n| dom.nodes[n].text.as_str())
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    self.invalid(s, format!("site `{}` has no `Name`", printable(site_id)))
                })?;
            if !is_plain_name(name) {
                return Err(self.invalid(
                    s,
                    format!(
                        "site name `{}` holds a character a site name cannot have (a control character or a quote)",
                        printable(name)
                    ),
                ));
            }
            self.site_names.insert(site_id, name);
            sites.push(TopologySite {
                site_id: site_id.to_owned(),
                name: name.to_owned(),
            });
        }
        Ok(sites)
    }

    /// Clusters by (SiteId, Number).
    ///
    /// A pool is named by its FQDN alone (the edits, the plan, the routes)
    /// and referred to by its id: two clusters of one FQDN or one id would
    /// have the model read one and an edit change the other.
    fn index_clusters(&mut self) -> Result<(), TopologyError> {
        let dom = self.dom;
        let mut fqdns = std::collections::BTreeSet::new();
        for c in dom.clusters() {
            let key = cluster_key(dom, c)
                .ok_or_else(|| self.invalid(c, "`Cluster` has no `ClusterId`".to_owned()))?;
            match dom.attr(c, "Fqdn") {
                None => return Err(self.invalid(c, "`Cluster` has no `Fqdn`".to_owned())),
                Some(fqdn) if !is_host_name(fqdn) => {
                    return Err(self.invalid(c, not_an_fqdn("pool", fqdn)));
                }
                Some(fqdn) if !fqdns.insert(fqdn.to_ascii_lowercase()) => {
                    return Err(self.invalid(
                        c,
                        format!("a second pool has the FQDN `{}`", printable(fqdn)),
                    ));
                }
                Some(_) => {}
            }
            if self.clusters.insert(key, c).is_some() {
                return Err(self.invalid(
                    c,
                    format!(
                        "a second cluster has the id `{}`, number `{}`",
                        printable(key.0),
                        printable(key.1)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Services by (SiteId, RoleName, Instance), with the cluster they run on.
    ///
    /// Dependencies name a service by its id: two services of one id would
    /// have the model resolve one and an edit the other.
    fn index_services(&mut self) -> Result<(), TopologyError> {
        let dom = self.dom;
        let mut ids = std::collections::BTreeSet::new();
        for s in dom.services() {
            let Some(id) = service_id(dom, s) else {
                return Err(self.invalid(s, "`Service` has no `ServiceId`".to_owned()));
            };
            if !ids.insert(id) {
                let (site, role, instance) = id;
                return Err(self.invalid(
                    s,
                    format!(
                        "a second service has the id `{}`, `{}`, `{}`",
                        printable(site),
                        printable(role),
                        printable(instance)
                    ),
                ));
            }
            let Some(on) = installed_on(dom, s) else {
                // Services installed on SQL instances and the like: not pools.
                continue;
            };
            if let Some(&cluster) = self.clusters.get(&on) {
                self.services.insert(id, (s, cluster));
            }
        }
        Ok(())
    }

    /// Each cluster's Edge pool (an `EdgeServer` service) and Front End pool
    /// (a `Registrar`), in document order.
    fn read_pools(&self) -> Result<Pools, TopologyError> {
        let mut pools = Pools::default();
        // BTreeMap<usize, _> iterates clusters in node order, which is
        // document order; services of the same pool are looked up by key, so
        // the result does not depend on the order of `Services`.
        let mut by_cluster: BTreeMap<usize, Vec<(ServiceRef<'d>, usize)>> = BTreeMap::new();
        for (&id, &(s, c)) in &self.services {
            by_cluster.entry(c).or_default().push((id, s));
        }
        for (&cluster, roles) in &by_cluster {
            let fqdn = self.cluster_fqdn(cluster).to_ascii_lowercase();
            if let Some(&(id, edge)) = roles.iter().find(|(id, _)| id.1 == "EdgeServer") {
                pools
                    .edge_services
                    .insert(fqdn.clone(), ServiceKey::new(id, edge));
                pools.edge_pools.push(self.edge_pool(cluster, edge)?);
            }
            if let Some(&(id, registrar)) = roles.iter().find(|(id, _)| id.1 == "Registrar") {
                pools
                    .registrar_services
                    .insert(fqdn.clone(), ServiceKey::new(id, registrar));
                pools
                    .front_end_pools
                    .push(self.front_end_pool(cluster, roles, registrar)?);
            }
        }
        Ok(pools)
    }

    /// The Edge pool of `cluster`, whose `EdgeServer` service is `edge`: its
    /// next hop, whether it federates, its external Access Edge FQDN and its
    /// machines.
    fn edge_pool(&self, cluster: usize, edge: usize) -> Result<EdgePool, TopologyError> {
        let dom = self.dom;
        let next_hop = dependencies(dom, edge)
            .filter(|d| d.1 == "Registrar")
            .find_map(|r| self.cluster_of(r))
            .map(|c| self.cluster_fqdn(c).to_ascii_lowercase());
        let ports: Vec<usize> = dom
            .child(edge, "Ports")
            .into_iter()
            .flat_map(|p| dom.children(p, "Port"))
            .collect();
        let federation_enabled = ports.iter().any(|&p| is_federation_port(dom, p));
        // Every external Access Edge FQDN is checked, not only the first,
        // which is the one read: an edit that removes a port (disabling
        // federation) makes the next one the FQDN read.
        let external: Vec<(usize, &str)> = ports
            .iter()
            .filter(|&&p| {
                dom.attr(p, "Owner") == Some("urn:component:AccessEdge")
                    && dom.attr(p, "InterfaceSide") == Some("External")
            })
            .filter_map(|&p| dom.attr(p, "ConfiguredFqdn").map(|f| (p, f)))
            .collect();
        if let Some(&(port, configured)) = external.iter().find(|(_, f)| !is_host_name(f)) {
            return Err(self.invalid(port, not_an_fqdn("Access Edge", configured)));
        }
        let access_edge = external.first();
        let machines = dom
            .children(cluster, "Machine")
            .chain(
                dom.children(cluster, "Machines")
                    .flat_map(|ms| dom.children(ms, "Machine")),
            )
            .map(|m| self.edge_machine(cluster, m))
            .collect::<Result<_, _>>()?;
        Ok(EdgePool {
            fqdn: self.cluster_fqdn(cluster).to_ascii_lowercase(),
            site: self.site_of(cluster)?,
            machines,
            federation_enabled,
            next_hop,
            access_edge_fqdn: access_edge.map(|(_, f)| f.to_ascii_lowercase()),
        })
    }

    /// The Edge machine `m` of `cluster`: its FQDN and its internal and
    /// external addresses.
    fn edge_machine(&self, cluster: usize, m: usize) -> Result<EdgeMachine, TopologyError> {
        let dom = self.dom;
        let Some(fqdn) = dom.attr(m, "Fqdn") else {
            return Err(self.invalid(
                m,
                format!(
                    "a machine of `{}` has no `Fqdn`",
                    self.cluster_fqdn(cluster)
                ),
            ));
        };
        if !is_host_name(fqdn) {
            return Err(self.invalid(m, not_an_fqdn("machine", fqdn)));
        }
        let ips = |side: &str| -> Result<Vec<String>, TopologyError> {
            dom.children(m, "NetInterface")
                .filter(|&n| dom.attr(n, "InterfaceSide") == Some(side))
                .filter_map(|n| dom.attr(n, "IPAddress").map(|ip| (n, ip)))
                .map(|(n, ip)| {
                    ip.parse::<IpAddr>().map(|ip| ip.to_string()).map_err(|_| {
                        self.invalid(
                            n,
                            format!(
                                "`IPAddress` `{}` of machine `{fqdn}` is not an IP address",
                                printable(ip)
                            ),
                        )
                    })
                })
                .collect()
        };
        Ok(EdgeMachine {
            fqdn: fqdn.to_ascii_lowercase(),
            internal_ips: ips("Internal")?,
            external_ips: ips("External")?,
        })
    }

    /// The Front End (or Director) pool of `cluster`, whose services are
    /// `roles` and whose `Registrar` is `registrar`: the Edge pool its media
    /// go through (its conferencing, else its mediation, service's `EdgeServer`
    /// dependency) and whether it is a Director.
    fn front_end_pool(
        &self,
        cluster: usize,
        roles: &[(ServiceRef<'d>, usize)],
        registrar: usize,
    ) -> Result<FrontEndPool, TopologyError> {
        let dom = self.dom;
        let media_of = |role: &str| {
            roles
                .iter()
                .filter(|(id, _)| id.1 == role)
                .flat_map(|&(_, s)| dependencies(dom, s))
                .filter(|d| d.1 == "EdgeServer")
                .find_map(|r| self.cluster_of(r))
                .map(|c| self.cluster_fqdn(c).to_ascii_lowercase())
        };
        Ok(FrontEndPool {
            fqdn: self.cluster_fqdn(cluster).to_ascii_lowercase(),
            site: self.site_of(cluster)?,
            media_edge_pool: media_of("ConfServices").or_else(|| media_of("MediationServer")),
            director: dom
                .child(registrar, "RegistrarService")
                .and_then(|r| dom.attr(r, "IsDirector"))
                .is_some_and(|d| d.eq_ignore_ascii_case("true")),
        })
    }

    fn cluster_fqdn(&self, cluster: usize) -> &'d str {
        self.dom.attr(cluster, "Fqdn").unwrap_or_default()
    }

    /// The cluster a service reference runs on, if it names a pool's service.
    fn cluster_of(&self, service: ServiceRef<'_>) -> Option<usize> {
        self.services.get(&service).map(|&(_, c)| c)
    }

    /// The name of the site `cluster` belongs to.
    fn site_of(&self, cluster: usize) -> Result<String, TopologyError> {
        let (site_id, _) = cluster_key(self.dom, cluster).unwrap_or_default();
        self.site_names
            .get(site_id)
            .map(|&name| name.to_owned())
            .ok_or_else(|| {
                self.invalid(
                    cluster,
                    format!("cluster refers to unknown site `{site_id}`"),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("ab\ncé\nx", 0), (1, 1));
        assert_eq!(line_column("ab\ncé\nx", 3), (2, 1));
        assert_eq!(line_column("ab\ncé\nx", 7), (3, 1));
    }

    /// One element of a generated document: its qualified name, its
    /// attributes (qualified name, raw value as written, quote) and its
    /// children.
    #[derive(Debug, Clone)]
    struct Element {
        name: String,
        attrs: Vec<(String, String, char)>,
        children: Vec<Element>,
        self_closing: bool,
    }

    impl Element {
        fn write(&self, out: &mut String, depth: usize) {
            out.push_str(&"  ".repeat(depth));
            out.push('<');
            out.push_str(&self.name);
            for (i, (name, value, quote)) in self.attrs.iter().enumerate() {
                // Spacing around `=` as real documents vary it.
                let eq = if i % 2 == 0 { "=" } else { " = " };
                out.push_str(&format!(" {name}{eq}{quote}{value}{quote}"));
            }
            if self.self_closing && self.children.is_empty() {
                out.push_str(" />\n");
                return;
            }
            out.push_str(">\n");
            for child in &self.children {
                child.write(out, depth + 1);
            }
            out.push_str(&"  ".repeat(depth));
            out.push_str(&format!("</{}>\n", self.name));
        }
    }

    fn element() -> impl Strategy<Value = Element> {
        let name = prop::sample::select(vec![
            "Port",
            "Ports",
            "x:Port",
            "Cluster",
            "ns:ServiceId",
            "Machine",
        ]);
        let attr_name = prop::sample::select(vec![
            "Owner", "x:Owner", "Fqdn", "xmlns", "xmlns:x", "SiteId", "Port",
        ]);
        // Raw values as written: text, references, the other quote.
        let piece = prop::sample::select(vec![
            "a",
            "contoso.com",
            " ",
            "&amp;",
            "&lt;",
            "&gt;",
            "&quot;",
            "&apos;",
            "&#x41;",
            "&#233;",
            "é",
            "漢",
            "💡",
        ]);
        let value = prop::collection::vec(piece, 0..6).prop_map(|p| p.concat());
        let attr = (attr_name, value, prop::sample::select(vec!['"', '\'']))
            .prop_map(|(n, v, q)| (n.to_owned(), v, q));
        let attrs = prop::collection::vec(attr, 0..4).prop_map(|mut attrs| {
            // XML allows each attribute name once.
            let mut seen = std::collections::BTreeSet::new();
            attrs.retain(|(n, _, _)| seen.insert(n.clone()));
            attrs
        });
        let leaf =
            (name.clone(), attrs.clone(), any::<bool>()).prop_map(|(name, attrs, self_closing)| {
                Element {
                    name: name.to_owned(),
                    attrs,
                    children: Vec::new(),
                    self_closing,
                }
            });
        leaf.prop_recursive(4, 48, 6, move |inner| {
            (
                name.clone(),
                attrs.clone(),
                prop::collection::vec(inner, 0..6),
            )
                .prop_map(|(name, attrs, children)| Element {
                    name: name.to_owned(),
                    attrs,
                    children,
                    self_closing: false,
                })
        })
    }

    /// What a reader says of every element, in document order: local name,
    /// attributes (local name, unescaped value), parent.
    type Seen = Vec<(String, Vec<(String, String)>, Option<usize>)>;

    fn as_quick_xml_reads(text: &str) -> Seen {
        let mut reader = Reader::from_str(text);
        let mut out: Seen = Vec::new();
        let mut stack: Vec<usize> = Vec::new();
        loop {
            let (e, open) = match reader.read_event().unwrap() {
                Event::Start(e) => (e, true),
                Event::Empty(e) => (e, false),
                Event::End(_) => {
                    stack.pop();
                    continue;
                }
                Event::Eof => return out,
                _ => continue,
            };
            let name = String::from_utf8(e.local_name().as_ref().to_vec()).unwrap();
            let attrs = e
                .attributes()
                .map(|a| {
                    let a = a.unwrap();
                    let key = String::from_utf8(a.key.as_ref().to_vec()).unwrap();
                    let local = key.rsplit(':').next().unwrap().to_owned();
                    (local, a.unescape_value().unwrap().into_owned())
                })
                .collect();
            out.push((name, attrs, stack.last().copied()));
            if open {
                stack.push(out.len() - 1);
            }
        }
    }

    fn as_dom_reads(dom: &Dom) -> Seen {
        let mut parents = vec![None; dom.nodes.len()];
        for node in 0..dom.nodes.len() {
            let children =
                std::iter::successors(dom.nodes[node].first_child, |&c| dom.nodes[c].next_sibling);
            for child in children {
                parents[child] = Some(node);
            }
        }
        (0..dom.nodes.len())
            .map(|node| {
                let attrs = dom.attrs[dom.nodes[node].attrs.clone()]
                    .iter()
                    .map(|a| (dom.text_at(&a.name).to_owned(), dom.value(a).to_owned()))
                    .collect();
                (dom.name(node).to_owned(), attrs, parents[node])
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The reader that keeps names and values as spans of the text reads
        /// every element, attribute and value as quick-xml's own reader does,
        /// and each element's span is the element's text.
        #[test]
        fn the_dom_reads_what_quick_xml_reads(root in element()) {
            let mut text = String::from("<?xml version=\"1.0\"?>\n");
            root.write(&mut text, 0);
            let dom = Dom::parse(text.clone()).unwrap();
            prop_assert_eq!(as_dom_reads(&dom), as_quick_xml_reads(&text));
            for node in &dom.nodes {
                let element = &text[node.span.clone()];
                prop_assert!(element.starts_with('<') && element.ends_with('>'), "{}", element);
            }
        }
    }
}
