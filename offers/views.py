"""The public check of result documents: no login, no personal data."""

from django import forms
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from . import services

# A result PDF is one page: anything far larger is not one of ours.
MAX_PDF_BYTES = 5 * 1024 * 1024


class VerifyForm(forms.Form):
    code = forms.CharField(label=_("Код проверки"), max_length=40)
    file = forms.FileField(
        label=_("Файл документа (PDF), если хотите проверить и его"), required=False
    )

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload and upload.size > MAX_PDF_BYTES:
            raise forms.ValidationError(
                _("Файл слишком большой для документа портала.")
            )
        return upload


@never_cache
def verify(request):
    """Anyone enters a code (and may upload the file): the page says whether
    the document is genuine and names its service, kind and date only."""
    result = None
    if request.method == "POST":
        form = VerifyForm(request.POST, request.FILES)
    elif "code" in request.GET:
        form = VerifyForm(request.GET)
    else:
        form = VerifyForm()
    if form.is_bound and form.is_valid():
        upload = form.cleaned_data.get("file")
        result = services.verify_document(
            form.cleaned_data["code"], upload.read() if upload else None
        )
        result = {
            "outcome": result.outcome,
            "file_checked": upload is not None,
            "service": result.document.service_title if result.document else "",
            "kind": result.document.get_kind_display() if result.document else "",
            "issued_at": result.document.issued_at if result.document else None,
        }
    return render(request, "offers/verify.html", {"form": form, "result": result})
