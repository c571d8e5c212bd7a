"""Serves a directory of HTML pages plus a generated sitemap.xml on 127.0.0.1 (run as a child process).

Usage: python site_server.py ROOT PAGE_LIST_FILE — prints the port on stdout, then serves until killed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from aiohttp import web


def main() -> None:
    """Serve ROOT's files and a sitemap of the pages listed in PAGE_LIST_FILE."""
    root = Path(sys.argv[1])
    pages = Path(sys.argv[2]).read_text().split()

    async def sitemap(request: web.Request) -> web.Response:
        base = f"http://{request.host}"
        urls = "".join(f"<url><loc>{base}/{page}</loc></url>" for page in pages)
        body = f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
        return web.Response(text=body, content_type="application/xml")

    app = web.Application()
    app.router.add_get("/sitemap.xml", sitemap)
    app.router.add_static("/", root, follow_symlinks=True)

    async def run() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


if __name__ == "__main__":
    main()
