"""Russian for the English messages of django-otp (the staff login of the
admin), which ships no Russian catalogue, and the count forms the portal's
own Russian lacks: writes and compiles locale/ru/LC_MESSAGES/django.po and
django.mo (both committed).

    python scripts/translations_ru.py

The portal's own messages are written in Russian and need no catalogue,
but for counting: Russian counts with three forms of a noun, and ngettext
finds only two in the source (one, and the rest). A model names itself in
two forms (verbose_name, verbose_name_plural), so admin's "20 загрузки"
needs "20 загрузок" from here (COUNTS); a new model that admin lists adds
its forms, and tests/test_translations.py checks they are all here. The
same holds for an ngettext of the portal whose other form does not read
right for every count (PLURALS).

Do not run ``makemessages -l ru`` over this catalogue: it would mark these
entries obsolete (they are not in our sources). Run this script again
instead.
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
    # The portal's own counted messages (offers/explain.py): the Russian
    # source gives a form for one and one for the rest.
    "Источник — %(registry)s: %(day)s Вам исполнился %(age)d год.": (
        "Источник — %(registry)s: %(day)s Вам исполнилось %(age)d лет.",
        [
            "Источник — %(registry)s: %(day)s Вам исполнился %(age)d год.",
            "Источник — %(registry)s: %(day)s Вам исполнилось %(age)d года.",
            "Источник — %(registry)s: %(day)s Вам исполнилось %(age)d лет.",
        ],
    ),
    "Мы напоминаем о сроке за %(days)d день до него.": (
        "Мы напоминаем о сроке за %(days)d дней до него.",
        [
            "Мы напоминаем о сроке за %(days)d день до него.",
            "Мы напоминаем о сроке за %(days)d дня до него.",
            "Мы напоминаем о сроке за %(days)d дней до него.",
        ],
    ),
}

# The models' (verbose_name, verbose_name_plural), as ngettext looks them
# up, and the forms for one, for a few (2-4, 22-24...) and for many.
COUNTS = {
    ("гражданин", "граждане"): ("гражданин", "гражданина", "граждан"),
    ("запись журнала доступа", "записи журнала доступа"): (
        "запись журнала доступа",
        "записи журнала доступа",
        "записей журнала доступа",
    ),
    ("сообщение об ошибке в профиле", "сообщения об ошибках в профиле"): (
        "сообщение об ошибке в профиле",
        "сообщения об ошибках в профиле",
        "сообщений об ошибках в профиле",
    ),
    ("согласие", "согласия"): ("согласие", "согласия", "согласий"),
    ("загрузка", "загрузки"): ("загрузка", "загрузки", "загрузок"),
    ("отклонённая запись", "отклонённые записи"): (
        "отклонённая запись",
        "отклонённые записи",
        "отклонённых записей",
    ),
    ("несопоставленная запись о смерти", "несопоставленные записи о смерти"): (
        "несопоставленная запись о смерти",
        "несопоставленные записи о смерти",
        "несопоставленных записей о смерти",
    ),
    ("запись реестра", "записи реестров"): (
        "запись реестра",
        "записи реестров",
        "записей реестров",
    ),
    ("жизненная ситуация", "жизненные ситуации"): (
        "жизненная ситуация",
        "жизненные ситуации",
        "жизненных ситуаций",
    ),
    ("правило", "правила"): ("правило", "правила", "правил"),
    ("версия правила", "версии правил"): (
        "версия правила",
        "версии правил",
        "версий правил",
    ),
    ("услуга", "услуги"): ("услуга", "услуги", "услуг"),
    ("предложение", "предложения"): ("предложение", "предложения", "предложений"),
    ("заявление", "заявления"): ("заявление", "заявления", "заявлений"),
    ("отказ от услуги", "отказы от услуг"): (
        "отказ от услуги",
        "отказа от услуг",
        "отказов от услуг",
    ),
    ("документ", "документы"): ("документ", "документа", "документов"),
    ("вид выплаты", "виды выплат"): ("вид выплаты", "вида выплат", "видов выплат"),
    ("подтверждение получения выплаты", "подтверждения получения выплат"): (
        "подтверждение получения выплаты",
        "подтверждения получения выплат",
        "подтверждений получения выплат",
    ),
    ("справка о выплатах", "справки о выплатах"): (
        "справка о выплатах",
        "справки о выплатах",
        "справок о выплатах",
    ),
    ("уведомление", "уведомления"): ("уведомление", "уведомления", "уведомлений"),
    ("сбой доставки", "сбои доставки"): (
        "сбой доставки",
        "сбоя доставки",
        "сбоев доставки",
    ),
    ("шаблон уведомления", "шаблоны уведомлений"): (
        "шаблон уведомления",
        "шаблона уведомлений",
        "шаблонов уведомлений",
    ),
    ("подписка на push", "подписки на push"): (
        "подписка на push",
        "подписки на push",
        "подписок на push",
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
    counts = {one: (many, forms) for (one, many), forms in COUNTS.items()}
    for msgid, (plural, forms) in {**PLURALS, **counts}.items():
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
