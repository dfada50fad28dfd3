"""Markdown to safe HTML for education modules: markdown-it-py renders, nh3 sanitises.

Module files are content, not code, yet a clinic may edit them: raw HTML in the Markdown is
shown as text (markdown-it's `html` option is off), and the rendered HTML is cleaned against a
small allow-list anyway, so a mistake in either step cannot put a script on a patient's page."""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = frozenset({
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
})
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"https", "http", "mailto"})


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(text: str, heading_offset: int = 0) -> str:
    """Safe HTML for `text`. `heading_offset` moves headings down (1: `#` becomes `<h2>`), so
    a lesson sits under the page's own `<h1>`."""
    md = _parser()
    tokens = md.parse(text)
    if heading_offset:
        for token in tokens:
            if token.type in ("heading_open", "heading_close"):
                level = min(6, int(token.tag[1]) + heading_offset)
                token.tag = f"h{level}"
    return sanitise_html(md.renderer.render(tokens, md.options, {}))


def sanitise_html(html: str) -> str:
    """Keep only the allow-listed tags, attributes and link schemes; drop scripts and styles
    with their content. Links get rel="noopener noreferrer"."""
    return nh3.clean(html, tags=set(ALLOWED_TAGS), attributes=ALLOWED_ATTRIBUTES,
                     url_schemes=set(URL_SCHEMES), clean_content_tags={"script", "style"},
                     strip_comments=True, link_rel="noopener noreferrer")
