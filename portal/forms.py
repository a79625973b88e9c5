"""Portal forms: sign-in, password, TOTP, the standard service request types, rating, NPS, suggestions."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.models import ArticleStatus, GoalStatus, KbCategory, Side


class LoginForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"), max_length=254)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, max_length=128)


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("6-digit code from your authenticator app"),
        max_length=6,
        min_length=6,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )


class PasswordSetForm(forms.Form):
    password = forms.CharField(
        label=_("New password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), max_length=128
    )
    password2 = forms.CharField(
        label=_("New password again"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        max_length=128,
    )

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return data


class ResetForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"), max_length=254)


# --- Standard request types -------------------------------------------------------------------------------------
class _RequestBase(forms.Form):
    title = forms.CharField(label=_("Subject"), max_length=200)


class IncidentForm(_RequestBase):
    IMPACT = [("P1", _("Everything stopped")), ("P2", _("Many people affected")), ("P3", _("Some people affected")),
              ("P4", _("A small inconvenience"))]  # fmt: skip
    system = forms.CharField(label=_("Affected system or feature"), max_length=200)
    impact = forms.ChoiceField(label=_("Impact"), choices=IMPACT, initial="P3")
    started = forms.CharField(label=_("When did it start?"), max_length=100, required=False)
    description = forms.CharField(label=_("What happens?"), widget=forms.Textarea, max_length=5000)


class AccessForm(_RequestBase):
    person = forms.CharField(label=_("Person's name"), max_length=100)
    person_email = forms.EmailField(label=_("Person's e-mail"))
    change = forms.ChoiceField(
        label=_("Change"),
        choices=[("add", _("Give access")), ("remove", _("Remove access")), ("role", _("Change role"))],
    )
    description = forms.CharField(label=_("Details"), widget=forms.Textarea, max_length=5000, required=False)


class QuestionForm(_RequestBase):
    description = forms.CharField(label=_("Your question"), widget=forms.Textarea, max_length=5000)


class ChangeForm(_RequestBase):
    wanted_by = forms.DateField(label=_("Wanted by"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    description = forms.CharField(label=_("What should change, and why?"), widget=forms.Textarea, max_length=5000)


@dataclass(frozen=True)
class RequestType:
    key: str
    label: str
    help: str
    form: type[forms.Form]
    category: str
    default_priority: str = "P3"

    def priority(self, data: dict) -> str:
        return data.get("impact") or self.default_priority

    def describe(self, data: dict) -> str:
        """The ticket's description: every answer of the form, labelled."""
        lines = []
        form = self.form()
        for name, field in form.fields.items():
            if name == "title" or data.get(name) in (None, ""):
                continue
            value = data[name]
            if isinstance(field, forms.ChoiceField):
                value = dict(field.choices).get(value, value)
            lines.append(f"{field.label}: {value}")
        return "\n".join(lines)


REQUEST_TYPES = {
    rt.key: rt
    for rt in (
        RequestType("incident", _("Something is not working"), _("Report a fault or an outage."), IncidentForm,
                    "incident"),
        RequestType("access", _("Access and accounts"), _("Add or remove a user, change a role."), AccessForm,
                    "access", "P3"),
        RequestType("question", _("A question"), _("Ask how to do something."), QuestionForm, "question", "P4"),
        RequestType("change", _("A change request"), _("Ask for a configuration change or a new feature."),
                    ChangeForm, "change", "P4"),
    )
}  # fmt: skip


class RatingForm(forms.Form):
    SCORES = [(str(n), str(n)) for n in range(1, 6)]
    satisfaction_overall = forms.TypedChoiceField(label=_("Overall"), choices=SCORES, coerce=int,
                                                  widget=forms.RadioSelect)  # fmt: skip
    satisfaction_response_speed = forms.TypedChoiceField(label=_("Response speed"), choices=SCORES, coerce=int,
                                                         widget=forms.RadioSelect)  # fmt: skip
    satisfaction_professionalism = forms.TypedChoiceField(label=_("Professionalism"), choices=SCORES, coerce=int,
                                                          widget=forms.RadioSelect)  # fmt: skip
    satisfaction_resolution_quality = forms.TypedChoiceField(label=_("Resolution quality"), choices=SCORES,
                                                             coerce=int, widget=forms.RadioSelect)  # fmt: skip
    satisfaction_comment = forms.CharField(label=_("Comment"), widget=forms.Textarea, required=False, max_length=2000)


class NpsForm(forms.Form):
    score = forms.TypedChoiceField(
        label=_("How likely are you to recommend us to a friend or colleague? (0 = not at all, 10 = extremely)"),
        choices=[(str(n), str(n)) for n in range(11)],
        coerce=int,
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(label=_("What is the main reason for your score?"), widget=forms.Textarea,
                             required=False, max_length=2000)  # fmt: skip


class SuggestionForm(forms.Form):
    body = forms.CharField(label=_("Your suggestion"), widget=forms.Textarea, max_length=4000)


class CommentForm(forms.Form):
    body = forms.CharField(label=_("Comment"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), max_length=100, required=False)


# --- Staff side -------------------------------------------------------------------------------------------------
class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Contact's e-mail"))


class MessageForm(forms.Form):
    body = forms.CharField(label=_("Message for the portal's home page"), widget=forms.Textarea(attrs={"rows": 3}),
                           max_length=2000)  # fmt: skip


class GoalForm(forms.Form):
    outcome = forms.CharField(label=_("Outcome"), max_length=200)
    measure = forms.CharField(label=_("Measure"), max_length=200)
    target_date = forms.DateField(label=_("Target date"), widget=forms.DateInput(attrs={"type": "date"}))
    status = forms.ChoiceField(label=_("Status"), choices=GoalStatus.choices)
    customer_owner = forms.ModelChoiceField(label=_("Customer's owner"), queryset=None, required=False)

    def __init__(self, *args, customer=None, **kwargs):
        super().__init__(*args, **kwargs)
        from customers.models import CustomerContact

        self.fields["customer_owner"].queryset = (
            CustomerContact.objects.filter(customer=customer) if customer else CustomerContact.objects.none()
        )


class MilestoneForm(forms.Form):
    title = forms.CharField(label=_("Milestone"), max_length=200)
    due_date = forms.DateField(label=_("Due date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    side = forms.ChoiceField(label=_("Owner side"), choices=Side.choices)


class ArticleForm(forms.Form):
    category = forms.ModelChoiceField(label=_("Category"), queryset=None)
    title = forms.CharField(label=_("Title"), max_length=200)
    body = forms.CharField(label=_("Text"), widget=forms.Textarea)
    status = forms.ChoiceField(label=_("Status"), choices=ArticleStatus.choices)

    def __init__(self, *args, instance=None, **kwargs):
        if instance is not None:
            kwargs.setdefault("initial", {name: getattr(instance, name) for name in ("title", "body", "status")})
            kwargs["initial"]["category"] = instance.category_id
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = KbCategory.objects.all()


class CategoryForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    position = forms.IntegerField(label=_("Position"), min_value=0, max_value=32767, initial=0,
                                  help_text=_("Lower numbers come first."))  # fmt: skip

    def __init__(self, *args, instance=None, **kwargs):
        if instance is not None:
            kwargs.setdefault("initial", {"name": instance.name, "position": instance.position})
        super().__init__(*args, **kwargs)

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Give the category a name."))
        return name


MAX_STEPS = 30
MAX_STEP_LENGTH = 300


class ChecklistForm(forms.Form):
    category = forms.ModelChoiceField(label=_("Category"), queryset=None)
    title = forms.CharField(label=_("Title"), max_length=200)
    steps = forms.CharField(
        label=_("Steps"),
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("One step per line, in the order the customer should try them."),
        max_length=MAX_STEPS * (MAX_STEP_LENGTH + 2),
    )
    article = forms.ModelChoiceField(
        label=_("Article it ends in"), queryset=None, required=False,
        help_text=_("Shown when the steps did not help; otherwise the customer is offered a prefilled request."),
    )  # fmt: skip
    request_type = forms.ChoiceField(label=_("Request type"), choices=())
    is_published = forms.BooleanField(label=_("Published"), required=False)

    def __init__(self, *args, instance=None, **kwargs):
        from portal.models import KbArticle

        if instance is not None:
            kwargs.setdefault(
                "initial",
                {"category": instance.category_id, "title": instance.title, "steps": "\n".join(instance.steps or []),
                 "article": instance.article_id, "request_type": instance.request_type,
                 "is_published": instance.is_published},
            )  # fmt: skip
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = KbCategory.objects.all()
        self.fields["article"].queryset = KbArticle.objects.select_related("category")
        self.fields["request_type"].choices = [(key, rt.label) for key, rt in REQUEST_TYPES.items()]

    def clean_steps(self):
        steps = [line.strip() for line in self.cleaned_data["steps"].splitlines() if line.strip()]
        if not steps:
            raise forms.ValidationError(_("Write at least one step."))
        if len(steps) > MAX_STEPS:
            raise forms.ValidationError(_("At most %(count)d steps.") % {"count": MAX_STEPS})
        too_long = [index + 1 for index, step in enumerate(steps) if len(step) > MAX_STEP_LENGTH]
        if too_long:
            raise forms.ValidationError(
                _("Step %(number)d is longer than %(length)d characters.")
                % {"number": too_long[0], "length": MAX_STEP_LENGTH}
            )
        return steps
