"""The statement of payments as PDF: a table that may run over pages.

Drawn with reportlab in the fonts and layout of ``offers.pdf``; every page
carries the verification code at its foot, so a single page of the
statement can be checked too.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

from .pdf import FONT, FONT_BOLD, _register_fonts

AGENCY = "Проактивный портал государственных услуг"
SOURCE = "По сведениям реестра социальных выплат (ЕГИССО)"
# Column left edges and widths (mm from the left margin): date, payment,
# amount (right-aligned), status.
COLUMNS = ((0, 20), (22, 70), (94, 26), (124, 46))
HEADER = ("Дата", "Выплата", "Сумма, руб.", "Состояние")
ROW_HEIGHT = 7 * mm
FOOT = 45 * mm


@dataclass(frozen=True)
class Statement:
    title: str
    recipient: str
    period: str
    rows: list[tuple[str, str, str, str]]  # date, name, amount, status
    credited_total: str
    verification_code: str
    verify_url: str
    issued_on: str


def _fit(text: str, font: str, size: float, width: float) -> str:
    """Cut a long payment name to its column, with an ellipsis."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _foot(page, content: Statement, number: int, left: float, width: float) -> None:
    page.line(left, 38 * mm, width - left, 38 * mm)
    page.setFont(FONT, 9)
    page.drawString(left, 32 * mm, "Код проверки подлинности:")
    page.setFont(FONT_BOLD, 14)
    page.drawString(left, 25 * mm, content.verification_code)
    page.setFont(FONT, 8)
    page.drawString(
        left,
        19 * mm,
        f"Проверить документ: {content.verify_url} — введите код "
        "и при желании загрузите файл.",
    )
    page.drawRightString(width - left, 32 * mm, f"Страница {number}")


def _table_header(page, left: float, y: float) -> float:
    page.setFont(FONT_BOLD, 10)
    for (x, w), title in zip(COLUMNS, HEADER):
        if title.startswith("Сумма"):
            page.drawRightString(left + (x + w) * mm, y, title)
        else:
            page.drawString(left + x * mm, y, title)
    page.line(left, y - 2 * mm, left + 170 * mm, y - 2 * mm)
    return y - ROW_HEIGHT


def render(content: Statement) -> bytes:
    _register_fonts()
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4, invariant=False)
    page.setTitle(content.title)
    page.setAuthor(AGENCY)
    width, height = A4
    left = 20 * mm
    number = 1

    page.setFont(FONT, 11)
    page.drawString(left, height - 22 * mm, AGENCY)
    page.setFont(FONT_BOLD, 18)
    page.drawString(left, height - 35 * mm, content.title)
    y = height - 48 * mm
    for label, value in (
        ("Получатель", content.recipient),
        ("Период", content.period),
        ("Источник сведений", SOURCE),
    ):
        page.setFont(FONT, 10)
        page.drawString(left, y, label)
        page.setFont(FONT_BOLD, 11)
        page.drawString(left + 45 * mm, y, value)
        y -= 7 * mm

    y = _table_header(page, left, y - 5 * mm)
    if not content.rows:
        page.setFont(FONT, 10)
        page.drawString(left, y, "За этот период выплат нет.")
        y -= ROW_HEIGHT
    for row in content.rows:
        if y < FOOT + ROW_HEIGHT:
            _foot(page, content, number, left, width)
            page.showPage()
            number += 1
            y = _table_header(page, left, height - 25 * mm)
        page.setFont(FONT, 10)
        for (x, w), value, column in zip(COLUMNS, row, range(4)):
            value = _fit(value, FONT, 10, w * mm - 2 * mm)
            if column == 2:
                page.drawRightString(left + (x + w) * mm, y, value)
            else:
                page.drawString(left + x * mm, y, value)
        y -= ROW_HEIGHT

    if y < FOOT + 3 * ROW_HEIGHT:
        _foot(page, content, number, left, width)
        page.showPage()
        number += 1
        y = height - 25 * mm
    page.setFont(FONT_BOLD, 11)
    page.drawString(
        left, y - 2 * mm, f"Всего зачислено за период: {content.credited_total} руб."
    )
    page.setFont(FONT, 10)
    page.drawString(left, y - 10 * mm, f"Дата выдачи: {content.issued_on}")
    _foot(page, content, number, left, width)
    page.showPage()
    page.save()
    return buffer.getvalue()
