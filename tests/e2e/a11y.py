"""Accessibility checks run in the page itself (no external tool): every form field has a label, text has
enough contrast against what it is drawn on (WCAG 2 AA: 4.5:1, 3:1 for large text), and the keyboard
reaches what a mouse can click."""

from __future__ import annotations

# Fields a user fills in, with no accessible name: no <label for>, no wrapping label, no aria-label(ledby).
_UNLABELLED = """
() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(el => el.type !== 'hidden' && !el.closest('[hidden]') && !el.closest('.leaflet-container'))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
               && !el.getAttribute('aria-labelledby') && !el.getAttribute('title'))
  .map(el => el.outerHTML.slice(0, 120))
"""

# Visible text whose colour is too close to the first opaque background behind it.
_LOW_CONTRAST = """
() => {
  const parse = c => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(',').map(s => parseFloat(s)); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const background = el => { for (let e = el; e; e = e.parentElement) {
      const s = getComputedStyle(e); if (s.backgroundImage && s.backgroundImage !== 'none') return null;
      const c = parse(s.backgroundColor); if (c && c.a >= 0.99) return c; }
    return {r: 255, g: 255, b: 255, a: 1}; };
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  while (walker.nextNode()) {
    const node = walker.currentNode; const el = node.parentElement;
    if (!el || seen.has(el) || !node.textContent.trim()) continue;
    seen.add(el);
    if (el.closest('.leaflet-container, canvas, svg, script, style, noscript, option, [aria-hidden=true]')) continue;
    const s = getComputedStyle(el);
    const rect = el.getBoundingClientRect();
    if (s.visibility === 'hidden' || s.display === 'none' || rect.width === 0 || rect.height === 0
        || parseFloat(s.opacity) < 0.1 || el.closest('.skip-link, .visually-hidden')) continue;
    const fg = parse(s.color); const bg = background(el);
    if (!fg || !bg) continue;
    const l1 = lum(fg), l2 = lum(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(s.fontSize); const bold = parseInt(s.fontWeight, 10) >= 700;
    const needed = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
    if (ratio < needed) out.push(`${ratio.toFixed(2)} < ${needed}: "${node.textContent.trim().slice(0, 40)}" (${s.color} on rgb(${bg.r},${bg.g},${bg.b}))`);
  }
  return out;
}
"""


def unlabelled_fields(page) -> list[str]:
    return page.evaluate(_UNLABELLED)


def low_contrast(page) -> list[str]:
    return page.evaluate(_LOW_CONTRAST)


def assert_accessible(page) -> None:
    """Labels on every field and enough contrast for every text of the page as it is now."""
    unlabelled, faint = unlabelled_fields(page), low_contrast(page)
    assert unlabelled == [], unlabelled
    assert faint == [], faint


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
