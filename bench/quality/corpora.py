"""The three documentation sets of the answer-quality benchmark: where they come from, which pages belong
to each, and how a cited URL maps back to a page identifier.

Run ``python bench/quality/corpora.py`` to print each corpus's pages and an estimate of its chunks
(the ingestion service's own HTML extraction and chunking, run locally).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

PYTHON_DOCS = Path("/usr/share/doc/python3.11/html")
INSTALL_GUIDE = Path("/usr/share/doc/installation-guide-amd64")
APTITUDE_MANUAL = Path("/usr/share/doc/aptitude/html")

# The library pages that the tutorial's "Brief Tour of the Standard Library — Part II" links to
# (tutorial/stdlib2.html): a fixed rule, never a choice by what ranks well.
_TOUR_PART_TWO_MODULES = (
    "array bisect collections decimal exceptions heapq logging pprint queue reprlib string struct textwrap threading "
    "weakref"
)
PYTHON_LIBRARY_PAGES = tuple(f"library/{name}.html" for name in _TOUR_PART_TWO_MODULES.split())
PYTHON_SECTIONS = ("tutorial", "howto", "faq", "using", "installing")
INSTALL_LANGUAGES = ("en", "da", "nl", "de")
APTITUDE_LANGUAGES = ("en", "nl")


def python_pages(root: Path) -> list[str]:
    """Every page of the tutorial, the HOWTOs, the FAQs, 'Using Python' and 'Installing modules', plus
    the library pages of the tutorial's standard-library tour, part II."""
    sections = [str(path.relative_to(root)) for name in PYTHON_SECTIONS for path in (root / name).glob("*.html")]
    return sorted({*sections, *PYTHON_LIBRARY_PAGES})


def language_pages(languages: tuple[str, ...], skip_prefix: str = "") -> Callable[[Path], list[str]]:
    """Every HTML page of the given language directories (names starting with ``skip_prefix`` left out)."""

    def pages(root: Path) -> list[str]:
        found = [
            f"{language}/{path.name}"
            for language in languages
            for path in (root / language).glob("*.html")
            if not (skip_prefix and path.name.startswith(skip_prefix))
        ]
        return sorted(found)

    return pages


@dataclass(frozen=True)
class Corpus:
    """One documentation set, ingested into its own account."""

    name: str
    packages: tuple[str, ...]  # Debian packages that install it
    root: Path  # the directory served
    start: str  # the page the crawl starts from (one of the pages)
    select: Callable[[Path], list[str]]  # the corpus's pages, relative to root
    by_file_name: bool  # pages exist once per language directory; identified by file name alone
    required: tuple[str, ...] = ()  # directories under root that must exist (else install the packages)

    def pages(self) -> list[str]:
        """The served pages, relative to ``root``."""
        return self.select(self.root)

    def page_id(self, url_or_path: str) -> str:
        """The language-independent page identifier of a cited URL or a served path."""
        path = urlparse(url_or_path).path.lstrip("/")
        return path.rsplit("/", 1)[-1] if self.by_file_name else path

    def page_ids(self) -> set[str]:
        """Identifiers of all pages of the corpus."""
        return {self.page_id(page) for page in self.pages()}

    def installed(self) -> bool:
        """Whether the documentation is on disk."""
        return self.root.is_dir() and all((self.root / directory).is_dir() for directory in self.required)


CORPORA: dict[str, Corpus] = {
    corpus.name: corpus
    for corpus in (
        Corpus(
            name="python",
            packages=("python3.11-doc",),
            root=PYTHON_DOCS,
            start="tutorial/index.html",
            select=python_pages,
            by_file_name=False,
        ),
        Corpus(
            name="install",
            packages=("installation-guide-amd64",),
            root=INSTALL_GUIDE,
            start="en/index.html",
            select=language_pages(INSTALL_LANGUAGES),
            by_file_name=True,
            required=INSTALL_LANGUAGES,
        ),
        Corpus(
            name="aptitude",
            packages=("aptitude-doc-en", "aptitude-doc-nl"),
            root=APTITUDE_MANUAL,
            start="en/index.html",
            # ld-idm*.html are the screenshots' one-line "long descriptions", not manual pages.
            select=language_pages(APTITUDE_LANGUAGES, skip_prefix="ld-idm"),
            by_file_name=True,
            required=APTITUDE_LANGUAGES,
        ),
    )
}


def ensure_installed(corpora: list[Corpus]) -> None:
    """Install the Debian packages of the corpora that are missing (apt-get, updating its lists if needed)."""
    packages = [package for corpus in corpora if not corpus.installed() for package in corpus.packages]
    if not packages:
        return
    prefix = [] if os.geteuid() == 0 else ["sudo"]
    install = [*prefix, "apt-get", "install", "-y", *packages]
    if subprocess.run(install, check=False).returncode != 0:
        subprocess.run([*prefix, "apt-get", "update"], check=True)
        subprocess.run(install, check=True)


def site_directory(corpus: Corpus) -> tempfile.TemporaryDirectory[str]:
    """A directory to serve: a symlink to each page of the corpus and a robots.txt that allows only them,
    so that the crawler, which follows links, never leaves the corpus."""
    directory = tempfile.TemporaryDirectory(prefix=f"bench-quality-{corpus.name}-")
    base = Path(directory.name)
    pages = corpus.pages()
    for page in pages:
        target = base / page
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(corpus.root / page)
    rules = "".join(f"Allow: /{page}$\n" for page in pages)
    (base / "robots.txt").write_text(f"User-agent: *\nDisallow: /\n{rules}")
    (base / "pages.txt").write_text("\n".join(pages))
    return directory


def estimate_chunks(corpus: Corpus) -> tuple[int, int, int]:
    """Pages, chunks and characters of chunk text, with the ingestion service's extraction and chunking."""
    from ingestion_service.adapters.html_extract import extract_html
    from ingestion_service.domain.chunking import chunk_sections

    pages = corpus.pages()
    chunks = characters = 0
    for page in pages:
        document = extract_html((corpus.root / page).read_text(errors="replace"))
        pieces = chunk_sections(document.sections)
        chunks += len(pieces)
        characters += sum(len(piece.body) for piece in pieces)
    return len(pages), chunks, characters


def main() -> None:
    """Print the pages and estimated chunks of every corpus."""
    ensure_installed(list(CORPORA.values()))
    total_chunks = total_characters = 0
    for corpus in CORPORA.values():
        pages, chunks, characters = estimate_chunks(corpus)
        total_chunks += chunks
        total_characters += characters
        print(f"{corpus.name:<9} {pages:4d} pages  {chunks:5d} chunks  {characters / 1e6:5.2f} M characters")
    print(f"{'total':<9}            {total_chunks:5d} chunks  {total_characters / 1e6:5.2f} M characters")


if __name__ == "__main__":
    main()
