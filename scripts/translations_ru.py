"""Russian for the English messages of django-otp (the staff login of the
admin), which ships no Russian catalogue: writes and compiles
locale/ru/LC_MESSAGES/django.po and django.mo (both committed).

    python scripts/translations_ru.py

The portal's own messages are written in Russian and need no catalogue;
this one holds only other packages' English. Do not run ``makemessages -l
ru`` over it: it would mark these entries obsolete (they are not in our
sources). Run this script again instead.
"""

from pathlib import Path

import polib

PO = (
    Path(__file__).resolve().parent.parent
    / "locale"
    / "ru"
    / "LC_MESSAGES"
    / "django.po"
)

RU = {
    # django_otp/forms.py
    "Please enter your OTP token.": "Введите одноразовый код.",
    "Error generating challenge: {0}": "Не удалось отправить код: {0}",
    "The selected OTP device is not interactive": (
        "Выбранное устройство не отправляет коды"
    ),
    "OTP Challenge: {0}": "Код отправлен: {0}",
    "Invalid token. Please make sure you have entered it correctly.": (
        "Код не подошёл. Проверьте его и введите снова."
    ),
    "Verification of the token is currently disabled": (
        "Проверка кода временно приостановлена. Подождите и попробуйте снова."
    ),
    "Please select a device.": "Выберите устройство.",
    # django_otp/templates/otp/admin111/login.html
    "OTP Device:": "Устройство:",
    "OTP Token:": "Одноразовый код:",
    "Get OTP Challenge": "Получить код",
}

PLURALS = {
    (
        "Verification temporarily disabled because of %(failure_count)d failed "
        "attempt, please try again soon."
    ): (
        (
            "Verification temporarily disabled because of %(failure_count)d "
            "failed attempts, please try again soon."
        ),
        [
            (
                "Проверка приостановлена после %(failure_count)d неверной "
                "попытки: подождите немного и попробуйте снова."
            ),
            (
                "Проверка приостановлена после %(failure_count)d неверных "
                "попыток: подождите немного и попробуйте снова."
            ),
            (
                "Проверка приостановлена после %(failure_count)d неверных "
                "попыток: подождите немного и попробуйте снова."
            ),
        ],
    ),
}


def main() -> None:
    PO.parent.mkdir(parents=True, exist_ok=True)
    po = polib.POFile()
    po.metadata = {
        "Language": "ru",
        "Content-Type": "text/plain; charset=UTF-8",
        "Plural-Forms": (
            "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && "
            "n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);"
        ),
    }
    for msgid, msgstr in RU.items():
        po.append(polib.POEntry(msgid=msgid, msgstr=msgstr))
    for msgid, (plural, forms) in PLURALS.items():
        po.append(
            polib.POEntry(
                msgid=msgid,
                msgid_plural=plural,
                msgstr_plural=dict(enumerate(forms)),
            )
        )
    po.save(str(PO))
    po.save_as_mofile(str(PO.with_suffix(".mo")))
    print(f"{PO}: {len(po)} entries")


if __name__ == "__main__":
    main()
