"""One PDF engine for every document the product prints: HTML + CSS through xhtml2pdf (pure Python).

    from crm_project.pdf import html_to_pdf
    pdf_bytes = html_to_pdf(render_to_string("service_records/report.html", context))

Chinese text needs a CJK font: the first usable TrueType font among `settings.CONTRACT_PDF_FONT` (a path,
optionally `path#index` for a .ttc), fonts vendored under `static/fonts/`, and the usual system locations
(`fonts-wqy-microhei` on Debian) is registered once per process under the family name `crmcjk` and embedded.
Without one, reportlab's built-in STSong-Light CID font is used (not embedded; text still extracts).
Templates say `font-family: crmcjk` (see `templates/pdf/base.html`); images may be `data:` URIs (charts).
"""

from __future__ import annotations

import io
import logging
import threading
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)

PDF_FONT_FAMILY = "crmcjk"
CID_FALLBACK_FONT = "STSong-Light"
SYSTEM_CJK_FONTS: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # CFF outlines: reportlab refuses, skipped
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
    ("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc", 0),
    ("/System/Library/Fonts/Supplemental/Songti.ttc", 0),
    ("C:/Windows/Fonts/msyh.ttc", 0),
)

_lock = threading.Lock()
_font: tuple[str, bool] | None = None  # (registered reportlab font name, embedded)


class PdfRenderError(Exception):
    """The engine could not lay the document out (the HTML is broken beyond repair)."""


def _font_candidates() -> list[tuple[str, int]]:
    candidates: list[tuple[str, int]] = []
    configured = getattr(settings, "CONTRACT_PDF_FONT", "") or ""
    if configured:
        path, _sep, index = str(configured).partition("#")
        candidates.append((path, int(index) if index.isdigit() else 0))
    vendored = Path(settings.BASE_DIR) / "static" / "fonts"
    if vendored.is_dir():
        candidates += [(str(p), 0) for p in sorted(vendored.iterdir()) if p.suffix.lower() in (".ttf", ".ttc")]
    candidates += list(SYSTEM_CJK_FONTS)
    return candidates


def pdf_font() -> tuple[str, bool]:
    """Register (once per process) the CJK font; returns (reportlab font name, whether it is embedded)."""
    global _font
    with _lock:
        if _font is not None:
            return _font
        from reportlab.lib.fonts import addMapping
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont
        from reportlab.pdfbase.ttfonts import TTFont
        from xhtml2pdf import default as xhtml2pdf_defaults

        for path, index in _font_candidates():
            if not Path(path).is_file():
                continue
            try:
                font = TTFont(PDF_FONT_FAMILY, path, subfontIndex=index)
            except Exception as exc:  # noqa: BLE001 - reportlab raises several kinds for unusable fonts
                logger.info("skipping PDF font %s: %s", path, exc)
                continue
            if ord("中") not in font.face.charToGlyph:
                logger.info("skipping PDF font %s: no CJK glyphs", path)
                continue
            pdfmetrics.registerFont(font)
            name, embedded = PDF_FONT_FAMILY, True
            logger.info("PDFs embed the font %s", path)
            break
        else:
            logger.warning(
                "no CJK TrueType font found (install fonts-wqy-microhei or set CONTRACT_PDF_FONT); PDFs use the "
                "non-embedded CID font %s",
                CID_FALLBACK_FONT,
            )
            pdfmetrics.registerFont(UnicodeCIDFont(CID_FALLBACK_FONT))
            name, embedded = CID_FALLBACK_FONT, False
        # One face serves every style: <b> and <i> must map to a registered font.
        for bold in (0, 1):
            for italic in (0, 1):
                addMapping(name, bold, italic, name)
        # xhtml2pdf looks font families up (lower-cased) in this table.
        xhtml2pdf_defaults.DEFAULT_FONT[PDF_FONT_FAMILY] = name
        _font = (name, embedded)
        return _font


def html_to_pdf(html: str) -> bytes:
    """Lay out an HTML document (xhtml2pdf's CSS subset) as PDF bytes; external URLs are never fetched."""
    from xhtml2pdf import pisa

    pdf_font()
    out = io.BytesIO()

    def no_fetch(uri: str, rel: str) -> str:
        # Offline and safe: only data: URIs are embedded; anything else is dropped.
        return uri if uri.startswith("data:") else ""

    result = pisa.CreatePDF(html, dest=out, encoding="utf-8", link_callback=no_fetch)
    if result.err:
        raise PdfRenderError(f"PDF layout failed with {result.err} error(s)")
    return out.getvalue()
