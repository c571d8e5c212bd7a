"""sitemap.xml parsing (urlset and sitemapindex), through defusedxml."""

from __future__ import annotations

from dataclasses import dataclass, field

from ingestion_service.adapters.office_parsers import safe_xml
from ingestion_service.domain.documents import DocumentRefused

MAX_SITEMAPS = 20  # sitemap files read per crawl (an index may list thousands)


@dataclass
class Sitemap:
    """Page URLs and nested sitemap URLs listed by one sitemap document."""

    pages: list[str] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)


def parse_sitemap(content: bytes) -> Sitemap:
    """Read <url><loc> and <sitemap><loc> entries; an unreadable sitemap yields nothing."""
    result = Sitemap()
    try:
        root = safe_xml(content, "sitemap.xml")
    except DocumentRefused:
        return result
    for element in root.iter():
        tag = str(element.tag).rsplit("}", 1)[-1]
        if tag not in ("url", "sitemap"):
            continue
        loc = next((child.text for child in element if str(child.tag).rsplit("}", 1)[-1] == "loc"), None)
        if loc and loc.strip():
            (result.pages if tag == "url" else result.sitemaps).append(loc.strip())
    return result
