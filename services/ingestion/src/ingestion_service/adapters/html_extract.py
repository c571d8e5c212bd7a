"""Main-content extraction from HTML: title, language, canonical URL, links and sections.

Navigation, headers, footers, sidebars, scripts and forms are dropped; headings
start sections; tables become one readable line per row. The title is bounded here
(``MAX_LABEL_CHARS``); a heading is kept whole, and the chunker bounds what each chunk
carries of it (its whole text is indexed as text).
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from ingestion_service.domain.chunking import bounded_label
from ingestion_service.domain.documents import ParsedDocument, Section

HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
BLOCKS = frozenset(
    {
        "p",
        "div",
        "li",
        "ul",
        "ol",
        "pre",
        "blockquote",
        "dd",
        "dt",
        "dl",
        "section",
        "article",
        "main",
        "figure",
        "figcaption",
        "details",
        "summary",
        "tr",
        "body",
        "br",
        "hr",
        "address",
    }
)
DROPPED_TAGS = frozenset(
    {
        "script",
        "style",
        "noscript",
        "nav",
        "header",
        "footer",
        "aside",
        "form",
        "iframe",
        "svg",
        "template",
        "button",
        "select",
        "input",
        "textarea",
        "head",
        "object",
        "embed",
        "canvas",
        "dialog",
        "menu",
    }
)
BOILERPLATE_SELECTOR = ", ".join(
    [
        "[role=navigation]",
        "[role=banner]",
        "[role=contentinfo]",
        "[role=search]",
        "[aria-hidden=true]",
        "[hidden]",
        ".sphinxsidebar",
        ".related",
        ".breadcrumb",
        ".breadcrumbs",
        ".cookie-banner",
        ".skip-link",
        "#cookie-banner",
        ".footer",
        "#footer",
        ".navbar",
        ".nav",
        ".menu",
        ".sidebar",
        "#sidebar",
        ".toc-sidebar",
    ]
)
# Elements the walk treats specially; below any other element only text nodes matter.
STRUCTURAL_TAGS = HEADINGS | BLOCKS | DROPPED_TAGS | {"table", "pre", "td", "th"}
MAIN_SELECTORS = ("main", "[role=main]", "article", "div.body", "#main-content", "#content", ".content")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


class _Builder:
    """Accumulates sections while walking the DOM."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.heading = ""
        self.paragraphs: list[str] = []
        self.buffer: list[str] = []

    def flush_paragraph(self) -> None:
        if not self.buffer:
            return
        text = "".join(self.buffer)
        self.buffer = []
        if not text.isspace() and (text := _clean(text)):  # mostly whitespace between blocks: skip quickly
            self.paragraphs.append(text)

    def add_paragraph(self, text: str) -> None:
        self.flush_paragraph()
        if text.strip():
            self.paragraphs.append(text.strip())

    def start_section(self, heading: str) -> None:
        self.flush_paragraph()
        if self.paragraphs or self.heading:
            self.sections.append(Section(self.heading, "\n\n".join(self.paragraphs)))
        self.heading = heading
        self.paragraphs = []

    def finish(self) -> list[Section]:
        self.start_section("")
        return [s for s in self.sections if s.heading or s.text]


def table_text(table: LexborNode) -> str:
    """One line per row, cells separated by ' | ' (header cells too)."""
    lines = []
    for row in table.css("tr"):
        cells = [_clean(cell.text(deep=True, separator=" ")) for cell in row.iter() if cell.tag in ("td", "th")]
        if any(cells):
            lines.append(" | ".join(cells))
    return "\n".join(lines)


def _mixed_nodes(root: LexborNode) -> set[int]:
    """``mem_id`` of every element under ``root`` (itself included) with a structural element below it;
    the text of any other element is its text nodes concatenated, which lexbor reads in one call."""
    mixed: set[int] = set()
    top = root.mem_id
    for node in root.traverse():
        if node.tag not in STRUCTURAL_TAGS or node.mem_id == top:
            continue
        parent = node.parent
        while parent is not None and (parent_id := parent.mem_id) not in mixed:
            mixed.add(parent_id)
            if parent_id == top:
                break
            parent = parent.parent
    return mixed


def _walk(root: LexborNode, builder: _Builder) -> None:
    mixed = _mixed_nodes(root)
    stack: list[tuple[LexborNode, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        tag = node.tag or ""
        if leaving:
            builder.flush_paragraph()
            continue
        if tag == "-text":
            builder.buffer.append(node.text_content or "")
            continue
        if tag in DROPPED_TAGS or tag.startswith("-"):
            continue
        if tag in HEADINGS:
            builder.start_section(_clean(node.text(deep=True, separator=" ")))
            continue
        if tag == "table":
            builder.add_paragraph(table_text(node))
            continue
        if tag == "pre":
            builder.add_paragraph(node.text(deep=True))
            continue
        if tag in BLOCKS:
            builder.flush_paragraph()
            stack.append((node, True))
        elif tag in ("td", "th"):
            builder.buffer.append(" ")
        if node.mem_id in mixed:
            stack.extend((child, False) for child in reversed(list(node.iter(include_text=True))))
        else:  # no structure below: all its text nodes at once
            builder.buffer.append(node.text(deep=True))


def extract_html(html: str, *, base_url: str | None = None) -> ParsedDocument:
    """Parse an HTML page into a document; links are returned raw (resolve them against the URL)."""
    tree = LexborHTMLParser(html)
    title_node = tree.css_first("title")
    title = _clean(title_node.text()) if title_node else ""
    if not title:
        og = tree.css_first('meta[property="og:title"]')
        title = _clean(og.attributes.get("content") or "") if og else ""
    html_node = tree.css_first("html")
    language = (html_node.attributes.get("lang") or html_node.attributes.get("xml:lang") or "") if html_node else ""
    canonical_node = tree.css_first('link[rel="canonical"]')
    canonical = (canonical_node.attributes.get("href") or None) if canonical_node else None
    links = [href for node in tree.css("a[href]") if (href := node.attributes.get("href"))]
    robots_meta = tree.css_first('meta[name="robots"]')
    directives = (robots_meta.attributes.get("content") or "").lower() if robots_meta else ""
    if "nofollow" in directives:
        links = []
    for node in tree.css(BOILERPLATE_SELECTOR):
        node.decompose()
    root = next((found for selector in MAIN_SELECTORS if (found := tree.css_first(selector)) is not None), None)
    root = root or tree.body or tree.root
    builder = _Builder()
    if root is not None:
        _walk(root, builder)
    sections = builder.finish() if "noindex" not in directives else []
    if not title:
        title = next((s.heading for s in sections if s.heading), "")
    return ParsedDocument(
        title=bounded_label(title), sections=sections, language=language, canonical_url=canonical, links=links
    )
