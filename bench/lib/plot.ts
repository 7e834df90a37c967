import { launchChromium } from '../../harness/browser.ts';

export interface Series {
  name: string;
  color: string;
  points: [number, number][];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
}

const W = 800;
const H = 450;
const pad = { l: 70, r: 20, t: 40, b: 50 };

/** Maps data to pixels: both axes from 0, y with 10% headroom. */
function scales(series: Series[]) {
  const all = series.flatMap((s) => s.points);
  const maxX = Math.max(1, ...all.map((p) => p[0]));
  const maxY = Math.max(1, ...all.map((p) => p[1])) * 1.1;
  const x = (v: number) => pad.l + (v / maxX) * (W - pad.l - pad.r);
  const y = (v: number) => H - pad.b - (v / maxY) * (H - pad.t - pad.b);
  return { maxX, maxY, x, y };
}

/** Grid lines with their y labels, and the x labels, at quarters of each axis. */
function gridSvg({ maxX, maxY, x, y }: ReturnType<typeof scales>): string {
  return [0, 0.25, 0.5, 0.75, 1]
    .map(
      (f) =>
        `<line x1="${pad.l}" x2="${W - pad.r}" y1="${y(f * maxY)}" y2="${y(f * maxY)}" stroke="#ddd"/>` +
        `<text x="${pad.l - 8}" y="${y(f * maxY) + 4}" text-anchor="end">${(f * maxY).toFixed(1)}</text>` +
        `<text x="${x(f * maxX)}" y="${H - pad.b + 18}" text-anchor="middle">${Math.round(f * maxX)}</text>`,
    )
    .join('');
}

/** One series: its line, its points and its legend entry (the `i`th). */
function seriesSvg(s: Series, i: number, { x, y }: ReturnType<typeof scales>): string {
  const d = s.points.map((p, j) => `${j ? 'L' : 'M'}${x(p[0])},${y(p[1])}`).join(' ');
  const dots = s.points
    .map((p) => `<circle cx="${x(p[0])}" cy="${y(p[1])}" r="4" fill="${s.color}"/>`)
    .join('');
  return `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2.5"/>${dots}<rect x="${pad.l + 12}" y="${pad.t + 8 + i * 20}" width="14" height="4" fill="${s.color}"/><text x="${pad.l + 32}" y="${pad.t + 14 + i * 20}">${s.name}</text>`;
}

/** A line chart as SVG (800x450). */
export function chartSvg(opts: ChartOptions): string {
  const sc = scales(opts.series);
  const lines = opts.series.map((s, i) => seriesSvg(s, i, sc)).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>${gridSvg(sc)}
<line x1="${pad.l}" x2="${pad.l}" y1="${pad.t}" y2="${H - pad.b}" stroke="#333"/><line x1="${pad.l}" x2="${W - pad.r}" y1="${H - pad.b}" y2="${H - pad.b}" stroke="#333"/>
<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${opts.title}</text>
<text x="${W / 2}" y="${H - 12}" text-anchor="middle">${opts.xLabel}</text>
<text transform="translate(16,${H / 2}) rotate(-90)" text-anchor="middle">${opts.yLabel}</text>${lines}</svg>`;
}

/** Draws a line chart as SVG and renders it to PNG with Debian's Chromium (no plotting dependency). */
export async function plotPng(file: string, opts: ChartOptions): Promise<void> {
  const svg = chartSvg(opts);
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: W, height: H });
    await page.setContent(`<html><body style="margin:0">${svg}</body></html>`);
    await page.screenshot({ path: file, clip: { x: 0, y: 0, width: W, height: H } });
  } finally {
    await browser.close();
  }
}
