/** The few server-rendered pages (signed links, sign-in): one look, every value escaped. */

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

const PAGE_STYLE = 'font-family:system-ui;max-width:44rem;margin:2rem auto;padding:0 1rem;line-height:1.4';

/** A page of the link flow: a heading, then the body (already escaped HTML). */
export function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head><body style="${PAGE_STYLE}"><h1 style="font-size:1.3rem">${escapeHtml(title)}</h1>${body}</body></html>`;
}
