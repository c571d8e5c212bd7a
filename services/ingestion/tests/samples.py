"""Generated sample files of every accepted type (and hostile ones), each with a findable phrase."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile

from customer_agent_shared.events.sources import UploadedFile

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
A_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"
P_NS = "http://schemas.openxmlformats.org/presentationml/2006/main"


def phrase_for(extension: str) -> str:
    """A phrase that only the sample of ``extension`` contains."""
    return f"quokka{extension}marmalade"


def inline_upload(filename: str, content: bytes) -> UploadedFile:
    """A file inline, as admin-api forwarded it before uploads were stored (an older command, replayed)."""
    return UploadedFile(
        filename=filename,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content_base64=base64.b64encode(content).decode(),
    )


def _zip(members: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _docx_row(*cells: str) -> str:
    return "<w:tr>" + "".join(f"<w:tc><w:p><w:r><w:t>{cell}</w:t></w:r></w:p></w:tc>" for cell in cells) + "</w:tr>"


def docx(body_phrase: str) -> bytes:
    """A Word document: a Heading1, a paragraph with the phrase and a 2x2 table."""
    document = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="{W_NS}"><w:body>
<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Returns policy</w:t></w:r></w:p>
<w:p><w:r><w:t xml:space="preserve">You can return items within 30 days, {body_phrase}.</w:t></w:r></w:p>
<w:tbl>{_docx_row("Plan", "Price")}{_docx_row("Gold", "10 EUR")}</w:tbl>
</w:body></w:document>"""
    return _zip(
        {
            "[Content_Types].xml": '<?xml version="1.0"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Override PartName="/word/document.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
            "word/document.xml": document,
        }
    )


def pptx(body_phrase: str) -> bytes:
    """A presentation with one slide: a title shape and a body shape with the phrase."""
    slide = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<p:sld xmlns:p="{P_NS}" xmlns:a="{A_NS}"><p:cSld><p:spTree>
<p:sp><p:nvSpPr><p:cNvPr id="1" name="Title"/><p:cNvSpPr/><p:nvPr><p:ph type="title"/></p:nvPr></p:nvSpPr>
<p:txBody><a:p><a:r><a:t>Quarterly update</a:t></a:r></a:p></p:txBody></p:sp>
<p:sp><p:nvSpPr><p:cNvPr id="2" name="Body"/><p:cNvSpPr/><p:nvPr/></p:nvSpPr>
<p:txBody><a:p><a:r><a:t>Revenue grew, {body_phrase}.</a:t></a:r></a:p></p:txBody></p:sp>
</p:spTree></p:cSld></p:sld>"""
    return _zip({"ppt/presentation.xml": f'<p:presentation xmlns:p="{P_NS}"/>', "ppt/slides/slide1.xml": slide})


def _pdf_stream(data: bytes) -> bytes:
    return b"<< /Length " + str(len(data)).encode() + b" >>\nstream\n" + data + b"\nendstream"


def pdf(text: str, *, kids: int = 1, to_unicode: bytes = b"") -> bytes:
    """A one-page PDF showing ``text`` (built by hand, with a correct xref table), listed ``kids`` times, its
    font's characters mapped to Unicode by the ``to_unicode`` CMap if one is given."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    font_map = b" /ToUnicode 6 0 R" if to_unicode else b""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join([b"3 0 R"] * kids) + b"] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        _pdf_stream(stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica" + font_map + b" >>",
    ]
    if to_unicode:
        objects.append(_pdf_stream(to_unicode))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def pdf_mapping_x_to_a_lone_surrogate(text: str) -> bytes:
    """A PDF showing ``text`` whose font maps 'X' to U+D800, half of a UTF-16 pair (a broken ToUnicode map)."""
    cmap = (
        b"/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CMapName /Broken def\n"
        b"1 begincodespacerange\n<00> <FF>\nendcodespacerange\n1 beginbfchar\n<58> <D800>\nendbfchar\n"
        b"endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
    )
    return pdf(text, to_unicode=cmap)


def sample(extension: str) -> bytes:
    """A valid file of ``extension`` containing ``phrase_for(extension)``."""
    p = phrase_for(extension)
    html = (
        f"<html lang='en'><head><title>Help {extension}</title></head><body><nav>Home About</nav>"
        f"<main><h1>Shipping</h1><p>We ship worldwide, {p}.</p></main><footer>Copyright</footer></body></html>"
    )
    texts: dict[str, str] = {
        "html": html,
        "htm": html,
        "xhtml": '<?xml version="1.0" encoding="UTF-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
        f"<head><title>X</title></head><body><h1>Intro</h1><p>Hello, {p}.</p></body></html>",
        "md": f"# Guide\n\nSome intro.\n\n## Setup\n\nInstall it, {p}.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
        "rst": f"Guide\n=====\n\nIntro text.\n\nSetup\n-----\n\nInstall it, {p}.\n",
        "txt": f"Plain notes.\n\nRemember that {p} matters.\n",
        "text": f"More notes.\n\nRemember that {p} matters.\n",
        "csv": f"product,description\nwidget,small and blue\ngadget,{p}\n",
        "json": json.dumps({"faq": [{"q": "Where?", "a": f"Here, {p}"}]}),
        "xml": '<?xml version="1.0"?><catalog><item><title>Tea</title>'
        f"<description>Green tea, {p}</description></item></catalog>",
        "cfg": f"[server]\nhost = example.org\nmotto = {p}\n",
        "conf": f"[client]\nretries = 3\ngreeting = {p}\n",
    }
    if extension in texts:
        return texts[extension].encode("utf-8")
    if extension == "docx":
        return docx(p)
    if extension == "pptx":
        return pptx(p)
    if extension == "pdf":
        return pdf(f"Manual page, {p}.")
    raise ValueError(extension)


def zip_bomb_docx() -> bytes:
    """A .docx whose document.xml inflates about 1000x (20 MB from ~20 KB)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w") as member:
            chunk = b"A" * 1_000_000
            for _ in range(20):
                member.write(chunk)
    return buffer.getvalue()


XXE_XML = b"""<?xml version="1.0"?>
<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<foo>&xxe;</foo>"""


def truncated_pdf() -> bytes:
    """A PDF cut in the middle."""
    full = pdf("This document was cut short")
    return full[: len(full) // 2]


def docx_with_bad_crc() -> bytes:
    """A .docx whose document.xml (stored uncompressed) was altered after its CRC-32 was written."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", f'<w:document xmlns:w="{W_NS}"><w:body/></w:document>')
    return buffer.getvalue().replace(b"<w:body/>", b"<w:bodx/>", 1)


def docx_with_damaged_deflate() -> bytes:
    """A .docx whose deflated document.xml has a run of its compressed bytes overwritten."""
    content = bytearray(docx("a damaged paragraph " * 200))
    start = content.index(b"word/document.xml") + len(b"word/document.xml") + 40
    content[start : start + 16] = b"\xff" * 16
    return bytes(content)


def pdf_over_pypdf_limits() -> bytes:
    """A PDF whose page tree lists one page 100,001 times: more elements in one array than pypdf reads."""
    return pdf("Too many kids", kids=100_001)


RENAMED_BINARY = b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4  # an executable named .txt


# ---------------------------------------------------------------- hostile samples whose output amplifies


def amplifying_json(leaves: int = 3000) -> bytes:
    """~30 KB of JSON whose flattened text is ~100x bigger: many short keys under one long path."""
    leaf_keys = {f"k{index}": 1 for index in range(leaves)}
    value: object = leaf_keys
    for level in range(10):
        value = {f"level{level}-" + "p" * 100: value}
    return json.dumps(value, separators=(",", ":")).encode()


def deeply_nested_json(depth: int = 100_000) -> bytes:
    """Arrays nested far deeper than any parser recurses."""
    return b"[" * depth + b"1" + b"]" * depth


def json_of_empty_lists(megabytes: int = 12) -> bytes:
    """A JSON array of empty arrays: no text at all, but ~25 bytes of parser memory per byte (12 MB: 340 MiB)."""
    count = megabytes * 1_000_000 // 3
    return b"[" + b",".join([b"[]"] * count) + b"]"


def csv_with_huge_field(field_chars: int = 200_000) -> bytes:
    """A CSV whose one quoted field is longer than any reader reads."""
    return b'name,notes\nwidget,"' + b"x" * field_chars + b'"\n'


def csv_with_many_columns(columns: int = 300, rows: int = 1000) -> bytes:
    """Long column names, then rows of one-character cells: each row repeats every name (~30x)."""
    header = ",".join(f"column-name-{index:03d}-" + "n" * 45 for index in range(columns))
    row = ",".join(["1"] * columns)
    return (header + "\n" + "\n".join([row] * rows) + "\n").encode()


def docx_repeating_one_run(runs: int = 25_000) -> bytes:
    """A .docx of a few KB whose document.xml repeats one run (~0.9 MB, under the zip-bomb checks)."""
    run = "<w:r><w:t>spam and eggs </w:t></w:r>"
    document = f'<w:document xmlns:w="{W_NS}"><w:body><w:p>{run * runs}</w:p></w:body></w:document>'
    return _zip({"[Content_Types].xml": "<Types/>", "word/document.xml": document})


def config_repeating_defaults(sections: int = 2000) -> bytes:
    """A .cfg whose many empty sections each repeat ~12 KB of [DEFAULT] keys."""
    defaults = b"".join(b"key%d = %s\n" % (index, b"v" * 50) for index in range(200))
    return b"[DEFAULT]\n" + defaults + b"".join(b"[s%d]\n" % index for index in range(sections))


# Hostile websites: what a crawled site can serve within the page size limit.

# The HTML parser's time grows with the square of the depth: 85,000 <div>s took 9 s of CPU on a quiet
# two-core machine, 150,000 took 43 s.
NESTING_DEPTH = 150_000


def deeply_nested_html(depth: int = NESTING_DEPTH, *, closed: bool = True) -> str:
    """A page of ``depth`` nested <div>s (1.7 MB to send at the default depth); left open (``closed`` false)
    each costs 5 bytes, not 11, so a body under 1 MiB can nest 190,000 deep (84 s to parse)."""
    closing = "</div>" * depth if closed else ""
    return f"<html><body><main><h1>Deep</h1>{'<div>' * depth}The deep dugong.{closing}</main></body></html>"


def robots_of_many_rules(first: str, size: int = 1_000_000) -> str:
    """A robots.txt of about ``size`` bytes: the rule ``first``, then wildcard rules every link is matched
    against (tens of thousands: milliseconds per link)."""
    rules = [f"User-agent: *\n{first}\n"]
    length, index = len(rules[0]), 0
    while length < size:
        rules.append(f"Disallow: /*a*a*a*a*a*a*a*a*{index}*b\n")
        length += len(rules[-1])
        index += 1
    return "".join(rules)


def padded_sitemap(urls: list[str], size: int = 4_900_000) -> str:
    """A sitemap listing ``urls``, padded with empty <url/> entries to about ``size`` bytes (just under the
    crawler's 5 MB page limit): seconds of XML parsing."""
    head = '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    entries = "".join(f"<url><loc>{url}</loc></url>" for url in urls)
    padding = "<url/>" * max(0, (size - len(head) - len(entries)) // len("<url/>"))
    return f"{head}{entries}{padding}</urlset>"
