"""Notice texts: Django templates compiled once, rendered by substitution.

A batch renders the same few templates thousands of times. Rendered the
usual way, each time Django looks the template up, translates every
``{% blocktranslate %}`` again and resolves each variable by trying a
dictionary lookup first (an exception per step on a model). Here a template
is compiled once per language into a list of parts: text that never
changes (the translations included) and the variables, resolved straight
from the models. Rendering joins them.

Only what the notice templates use is compiled: text, ``{% load %}``,
variables with their filters, ``{% translate "..." %}`` and
``{% blocktranslate with ... %}`` without plurals. A template with any
other tag (``{% if %}``, ``{% include %}``) is rendered by Django as
before, and so is any variable the short path cannot resolve exactly as
Django would (a missing name, a method to call, an object that is neither
a model nor a dict): the short path only ever gives Django's own result.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from django.db.models import Model
from django.template import Context, Template
from django.template.base import (
    FilterExpression,
    Node,
    TextNode,
    Variable,
    VariableNode,
    render_value_in_context,
)
from django.template.defaulttags import CommentNode, LoadNode
from django.template.loader import select_template
from django.templatetags.i18n import BlockTranslateNode, TranslateNode
from django.utils import translation


class _Unsupported(Exception):
    """A node the compiler leaves to Django."""


class _FastVariable:
    """A variable resolved by attribute access on models and key access on
    dicts; anything else goes to Django's own lookup, which is exact."""

    __slots__ = ("lookups", "original")

    def __init__(self, original: Variable):
        self.lookups = original.lookups
        self.original = original

    def __str__(self) -> str:
        return str(self.original)

    def resolve(self, context):
        lookups = self.lookups
        try:
            current = context[lookups[0]]
            for bit in lookups[1:]:
                if isinstance(current, Model):
                    current = getattr(current, bit)
                elif type(current) is dict:
                    current = current[bit]
                else:
                    return self.original.resolve(context)
                if callable(current):
                    return self.original.resolve(context)
        except Exception:  # noqa: BLE001 - Django decides what a failure gives
            return self.original.resolve(context)
        if callable(current):
            return self.original.resolve(context)
        return current


def _fast(expression: FilterExpression) -> FilterExpression:
    """The expression with its variable looked up the short way; filters
    are still applied by Django."""
    var = expression.var
    if not isinstance(var, Variable) or var.lookups is None or var.translate:
        return expression
    fast = copy.copy(expression)
    fast.var = _FastVariable(var)
    return fast


def _variable(node: VariableNode) -> Callable[[Context], str]:
    return VariableNode(_fast(node.filter_expression)).render


def _translate(node: TranslateNode, context: Context) -> str:
    var = node.filter_expression.var
    if (
        node.asvar
        or node.message_context
        or node.filter_expression.filters
        or not isinstance(var, Variable)
        or var.literal is None
    ):
        raise _Unsupported
    return node.render(context)


def _blocktranslate(node: BlockTranslateNode, engine) -> Callable[[Context], str]:
    if node.plural or node.counter or node.message_context or node.asvar:
        raise _Unsupported
    singular, names = node.render_token_list(node.singular)
    probe = dict.fromkeys(names, "")
    text = translation.gettext(singular)
    try:
        text % probe
    except (KeyError, ValueError):
        # Django renders a broken translation untranslated.
        text = singular
        try:
            text % probe
        except (KeyError, ValueError) as error:
            raise _Unsupported from error
    extra = {name: _fast(value) for name, value in node.extra_context.items()}
    default = engine.string_if_invalid

    def render(context: Context) -> str:
        values = {name: value.resolve(context) for name, value in extra.items()}
        data = {}
        for name in names:
            if name in values:
                value = values[name]
            elif name in context:
                value = context[name]
            else:
                value = default % name if "%s" in default else default
            data[name] = render_value_in_context(value, context)
        return text % data

    return render


class CompiledTemplate:
    """One template in one language, ready to render many times."""

    def __init__(self, template: Template, *, autoescape: bool):
        self.template = template
        self.autoescape = autoescape
        self.parts: list[str | Callable[[Context], str]] | None
        try:
            self.parts = self._compile(template)
        except _Unsupported:
            self.parts = None

    def _compile(self, template: Template) -> list[str | Callable[[Context], str]]:
        parts: list[str | Callable[[Context], str]] = []
        context = self._context({})
        for node in template.nodelist:
            if isinstance(node, TextNode):
                parts.append(node.s)
            elif isinstance(node, LoadNode | CommentNode):
                continue
            elif isinstance(node, VariableNode):
                parts.append(_variable(node))
            elif isinstance(node, TranslateNode):
                parts.append(_translate(node, context))
            elif isinstance(node, BlockTranslateNode):
                parts.append(_blocktranslate(node, template.engine))
            elif isinstance(node, Node):
                raise _Unsupported
        return parts

    @property
    def compiled(self) -> bool:
        return self.parts is not None

    def _context(self, values: dict) -> Context:
        context = Context(values, autoescape=self.autoescape)
        # Filters and blocktranslate read the engine's settings from here.
        context.template = self.template
        return context

    def render(self, values: dict) -> str:
        if self.parts is None:
            return self.template.render(Context(values, autoescape=self.autoescape))
        context = self._context(values)
        return "".join(
            part if isinstance(part, str) else part(context) for part in self.parts
        )


_compiled: dict[tuple, CompiledTemplate] = {}


def compiled_file(names: tuple[str, ...], *, autoescape: bool) -> CompiledTemplate:
    """The first of the named template files that exists, compiled for the
    active language (cached for the life of the process, as Django's
    cached template loader keeps the files)."""
    key = ("file", names, autoescape, translation.get_language())
    if key not in _compiled:
        template = select_template(list(names)).template
        _compiled[key] = CompiledTemplate(template, autoescape=autoescape)
    return _compiled[key]


def compiled_text(source: str, *, autoescape: bool) -> CompiledTemplate:
    """A template from the database (an official's text), compiled for the
    active language."""
    key = ("text", source, autoescape, translation.get_language())
    if key not in _compiled:
        if len(_compiled) > 1000:  # officials' edits must not grow it forever
            _compiled.clear()
        _compiled[key] = CompiledTemplate(Template(source), autoescape=autoescape)
    return _compiled[key]
