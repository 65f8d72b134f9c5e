// An application's theme as CSS: custom properties only (the stylesheet in public/style.css reads
// them), one rule per colour scheme. Every value here was validated when the application was saved
// (src/oidc/applications.ts: colours by #rrggbb, fonts by a strict grammar) and is checked again here,
// so a stored value older than a rule can never close the declaration or the rule it sits in.
import { createHash } from 'node:crypto';
import { fontStack, type Branding } from '../oidc/applications.ts';

const COLOR = /^#[0-9a-fA-F]{6}$/;

function channel(hex: string, offset: number): number {
  const c = parseInt(hex.slice(offset, offset + 2), 16) / 255;
  return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

/** Relative luminance (WCAG) of a #rrggbb colour. */
function luminance(hex: string): number {
  return 0.2126 * channel(hex, 1) + 0.7152 * channel(hex, 3) + 0.0722 * channel(hex, 5);
}

/** White or near-black text, whichever reads better on the colour. */
export function contrastText(hex: string): string {
  const l = luminance(hex);
  const onWhite = 1.05 / (l + 0.05);
  const onBlack = (l + 0.05) / (luminance('#111418') + 0.05);
  return onWhite >= onBlack ? '#ffffff' : '#111418';
}

/** The contrast ratio (WCAG) of two #rrggbb colours. */
function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

const colorOrNull = (value: unknown): string | null => (typeof value === 'string' && COLOR.test(value) ? value.toLowerCase() : null);

/** The font stack if it still passes the grammar, else null. */
export function safeFontStack(value: unknown): string | null {
  try {
    return fontStack('branding.font_stack', value ?? null);
  } catch {
    return null;
  }
}

interface Scheme {
  primary: string | null;
  background: string | null;
  text: string | null;
}

/**
 * The colours of each scheme: `theme.light` and `theme.dark` win; the flat primary_color serves
 * both schemes (a button's colour with a readable label works on either), the flat background and
 * text colours are the light scheme's (the default look; a dark look is theme.dark's to say).
 */
function schemes(branding: Branding): { light: Scheme; dark: Scheme } {
  const light = branding.theme?.light ?? null;
  const dark = branding.theme?.dark ?? null;
  const primary = colorOrNull(branding.primary_color);
  return {
    light: {
      primary: colorOrNull(light?.primary_color) ?? primary,
      background: colorOrNull(light?.background_color) ?? colorOrNull(branding.background_color),
      text: colorOrNull(light?.text_color) ?? colorOrNull(branding.text_color),
    },
    dark: { primary: colorOrNull(dark?.primary_color) ?? primary, background: colorOrNull(dark?.background_color), text: colorOrNull(dark?.text_color) },
  };
}

function declarations(scheme: Scheme, surface: string): string {
  const out: string[] = [];
  if (scheme.primary) {
    out.push(`--brand:${scheme.primary}`, `--brand-text:${contrastText(scheme.primary)}`);
    // Links take the colour too where it is readable as text on the card (WCAG AA).
    if (contrast(scheme.primary, surface) >= 4.5) out.push(`--link:${scheme.primary}`, `--focus:${scheme.primary}`);
  }
  if (scheme.background) out.push(`--bg:${scheme.background}`, `--page-text:${contrastText(scheme.background)}`);
  if (scheme.text) out.push(`--text:${scheme.text}`);
  return out.join(';');
}

/** The application's theme stylesheet, or null when it sets nothing. */
export function themeCss(branding: Branding): string | null {
  const { light, dark } = schemes(branding);
  const font = safeFontStack(branding.font_stack);
  let css = '';
  const base = font ? `--font:${font}` : '';
  if (base) css += `:root{${base};}\n`;
  const lightRules = declarations(light, '#ffffff');
  const darkRules = declarations(dark, '#1a1f26');
  if (lightRules) css += `@media (prefers-color-scheme: light){:root{${lightRules};}}\n`;
  if (darkRules) css += `@media (prefers-color-scheme: dark){:root{${darkRules};}}\n`;
  return css || null;
}

/** A short digest of the stylesheet, for its URL: a changed theme is a new URL, never a stale cache. */
export function themeVersion(css: string): string {
  return createHash('sha256').update(css).digest('base64url').slice(0, 12);
}
