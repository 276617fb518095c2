"""Result documents as PDF, drawn with reportlab.

The page carries the verification code and the address of the public check,
so anyone holding the paper or the file can confirm it is genuine. PT Sans
(ParaType, OFL) comes from a Python package: it has Cyrillic, and no system
font is needed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache

import fontpkg
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

FONT = "PTSans"
FONT_BOLD = "PTSans-Bold"


@cache
def _register_fonts() -> None:
    pdfmetrics.registerFont(TTFont(FONT, str(fontpkg.path("PT Sans"))))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(fontpkg.path("PT Sans", 700))))


@dataclass(frozen=True)
class PdfContent:
    title: str
    agency: str
    lines: list[tuple[str, str]]  # (label, value)
    verification_code: str
    verify_url: str
    issued_on: str


def render(content: PdfContent) -> bytes:
    """The PDF's bytes: a one-page document with the code at its foot."""
    _register_fonts()
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4, invariant=False)
    page.setTitle(content.title)
    page.setAuthor(content.agency)
    width, height = A4
    left = 25 * mm

    page.setFont(FONT, 11)
    page.drawString(left, height - 25 * mm, content.agency)
    page.setFont(FONT_BOLD, 18)
    page.drawString(left, height - 40 * mm, content.title)

    y = height - 58 * mm
    for label, value in content.lines:
        page.setFont(FONT, 10)
        page.drawString(left, y, label)
        page.setFont(FONT_BOLD, 12)
        page.drawString(left + 65 * mm, y, value)
        y -= 9 * mm

    page.setFont(FONT, 10)
    page.drawString(left, y - 6 * mm, f"Дата выдачи: {content.issued_on}")

    # The foot: what makes the paper checkable by anyone.
    page.line(left, 42 * mm, width - left, 42 * mm)
    page.setFont(FONT, 10)
    page.drawString(left, 35 * mm, "Код проверки подлинности:")
    page.setFont(FONT_BOLD, 16)
    page.drawString(left, 27 * mm, content.verification_code)
    page.setFont(FONT, 9)
    page.drawString(
        left,
        20 * mm,
        f"Проверить документ: {content.verify_url} — введите код "
        "и при желании загрузите файл.",
    )
    page.showPage()
    page.save()
    return buffer.getvalue()
