"""The admin for a word list, written once; each word app registers its model with it."""

import csv
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from wordmix.words import rules, services, transfer
from wordmix.words.models import Word

MAX_IMPORT_BYTES = 512 * 1024


class WordForm(forms.ModelForm):
    """Admin add/edit: the same rules as the API, with the same messages."""

    def clean_text(self) -> str:
        try:
            text = rules.clean(self.cleaned_data["text"])
        except rules.InvalidWord as error:
            raise ValidationError(str(error)) from None
        try:
            services.ensure_unique(model=self._meta.model, text=text, exclude_pk=self.instance.pk)
        except services.DuplicateWord as error:
            raise ValidationError(error.detail) from None
        return text


class ImportForm(forms.Form):
    text = forms.CharField(
        label="Words, one per line",
        widget=forms.Textarea(attrs={"rows": 12, "cols": 40}),
        required=False,
    )
    file = forms.FileField(
        label="…or a text file (UTF-8, one word per line; a CSV's first column is used)",
        required=False,
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        upload = cleaned.get("file")
        pasted = cleaned.get("text") or ""
        if not upload and not pasted.strip():
            raise ValidationError("Paste some words or choose a file.")
        lines = pasted.splitlines()
        if upload:
            if upload.size > MAX_IMPORT_BYTES:
                raise ValidationError(
                    f"The file is {upload.size} bytes; an import is at most "
                    f"{MAX_IMPORT_BYTES // 1024} KiB."
                )
            try:
                content = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ValidationError("The file is not UTF-8 text.") from None
            if "\x00" in content:
                raise ValidationError("The file is not a text file (it contains NUL bytes).")
            try:
                lines += transfer.parse_import(content)
            except csv.Error as error:
                raise ValidationError(f"The file is not readable as CSV: {error}.") from None
        if len(lines) > services.MAX_IMPORT_LINES:
            raise ValidationError(
                f"An import holds at most {services.MAX_IMPORT_LINES} lines; "
                f"this one has {len(lines)}."
            )
        cleaned["lines"] = lines
        return cleaned


class WordAdmin(admin.ModelAdmin):
    form = WordForm
    list_display = ["text", "created_at", "updated_at"]
    search_fields = ["text"]
    ordering = ["text"]
    list_per_page = 100
    readonly_fields = ["created_at", "updated_at"]
    change_list_template = "admin/words/change_list.html"
    actions = ["export_selected_csv", "export_selected_text"]

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="{}_{}_import".format(*info),
            ),
            path(
                "export/<str:kind>/",
                self.admin_site.admin_view(self.export_view),
                name="{}_{}_export".format(*info),
            ),
            *super().get_urls(),
        ]

    def export_view(self, request: HttpRequest, kind: str) -> HttpResponse:
        if not self.has_view_permission(request) or kind not in transfer.FORMATS:
            raise Http404(f"No export {kind!r}: use csv or txt.")
        return _download(self.model, transfer.render(self.model.objects.all(), kind), kind)

    @admin.action(description="Export selected as CSV")
    def export_selected_csv(self, request: HttpRequest, queryset: Any) -> HttpResponse:
        return _download(self.model, transfer.render(queryset, "csv"), "csv")

    @admin.action(description="Export selected as text")
    def export_selected_text(self, request: HttpRequest, queryset: Any) -> HttpResponse:
        return _download(self.model, transfer.render(queryset, "txt"), "txt")

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            return redirect("admin:index")
        model: type[Word] = self.model
        report = None
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            report = services.words_import(model=model, lines=form.cleaned_data["lines"])
            self.message_user(
                request,
                f"Added {len(report.added)}, already there {len(report.duplicates)}, "
                f"rejected {len(report.rejected)}.",
                messages.SUCCESS if not report.rejected else messages.WARNING,
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Import {model.plural}",
            "form": form,
            "report": report,
        }
        return TemplateResponse(request, "admin/words/import.html", context)


def _download(model: type[Word], content: str, kind: str) -> HttpResponse:
    response = HttpResponse(content, content_type=transfer.FORMATS[kind])
    response["Content-Disposition"] = f'attachment; filename="{model.plural}.{kind}"'
    return response


def register(model: type[Word]) -> None:
    admin.site.register(model, WordAdmin)
