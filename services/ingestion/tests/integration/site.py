"""A local website served by the test itself (aiohttp on 127.0.0.1, random port) that logs every request."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Hit:
    """One request the site received."""

    path: str
    status: int
    if_none_match: str | None


@dataclass
class LocalSite:
    """Pages by path; ``redirects`` map a path to an absolute Location; ETags derive from content."""

    pages: dict[str, str] = field(default_factory=dict)
    robots: str | None = None
    sitemap: str | None = None
    redirects: dict[str, str] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    base_url: str = ""

    def url(self, path: str) -> str:
        """Absolute URL of a path on this site."""
        return self.base_url + path

    def hits_of(self, path: str) -> list[Hit]:
        """Requests for one path."""
        return [hit for hit in self.hits if hit.path == path]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path_qs
        if_none_match = request.headers.get("If-None-Match")
        response: web.StreamResponse
        if path in self.redirects:
            response = web.Response(status=302, headers={"Location": self.redirects[path]})
        elif path == "/robots.txt" and self.robots is not None:
            response = web.Response(text=self.robots, content_type="text/plain")
        elif path == "/sitemap.xml" and self.sitemap is not None:
            response = web.Response(text=self.sitemap, content_type="application/xml")
        elif path in self.pages:
            body = self.pages[path]
            etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:16] + '"'
            if if_none_match == etag:
                response = web.Response(status=304, headers={"ETag": etag})
            else:
                response = web.Response(text=body, content_type="text/html", headers={"ETag": etag})
        else:
            response = web.Response(status=404, text="not found")
        self.hits.append(Hit(path, response.status, if_none_match))
        return response


@asynccontextmanager
async def serve(site: LocalSite) -> AsyncIterator[LocalSite]:
    """Serve ``site`` on 127.0.0.1 with a random port for the duration of the block."""
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", site.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = runner.addresses[0][1]
    site.base_url = f"http://127.0.0.1:{port}"
    try:
        yield site
    finally:
        await runner.cleanup()


def page(title: str, body: str, links: Sequence[str] = (), *, canonical: str | None = None) -> str:
    """A small HTML page with navigation and footer boilerplate around the main content."""
    anchors = "".join(f'<a href="{link}">{link}</a> ' for link in links)
    head = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    return (
        f"<html lang='en'><head><title>{title}</title>{head}</head><body>"
        f"<nav>Site navigation menu</nav><main><h1>{title}</h1><p>{body}</p><p>{anchors}</p></main>"
        f"<footer>Copyright footer text</footer></body></html>"
    )
