/**
 * The benchmark table as an SVG chart: one group of horizontal bars per
 * scenario, one bar per implementation, each as its ratio to the best of the
 * group (1 = best, the full width). No dependencies: the SVG is written by hand.
 */

/** One part of the chart (clients, servers): its implementations and rows. */
export interface ChartPart {
  title: string;
  /** Display names, in the order of each row's `ratios`. */
  impls: string[];
  rows: Array<{
    label: string;
    /** Ratio to the best per implementation; NaN where not measured. */
    ratios: number[];
    /** A note shown instead of a bar (e.g. "killed"), where there is one. */
    notes: Array<string | undefined>;
  }>;
}

/** One colour per implementation, the same in every chart (wsstream in the strongest). */
const COLOURS: Record<string, string> = {
  wsstream: '#d62728',
  'wsstream batchWrites: false': '#ff9896',
  ws: '#c7c7c7',
  'ws+bufferutil': '#7f7f7f',
  'undici WebSocket': '#9467bd',
  'undici WebSocketStream': '#c5b0d5',
  'Deno WebSocketStream': '#1f77b4',
  'Bun WebSocket': '#ff7f0e',
  'node:net (ceiling)': '#2ca02c',
  'ws perMessageDeflate: true': '#525252',
};
/** The baseline build of --baseline ("wsstream @ <commit>") in a dark red. */
const colour = (name: string): string =>
  COLOURS[name] ?? (name.startsWith('wsstream @') ? '#7b1113' : '#8c564b');

const WIDTH = 960;
const LABEL_W = 330;
const BAR_W = 520;
const BAR_H = 9;
const GROUP_GAP = 12;

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Renders `parts` as one SVG document. */
export function chart(title: string, parts: ChartPart[]): string {
  const body: string[] = [];
  let y = 36;
  body.push(`<text x="10" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`);
  for (const part of parts) {
    if (part.rows.length === 0) continue;
    y += 10;
    body.push(
      `<text x="10" y="${y + 12}" font-size="14" font-weight="bold">${esc(part.title)}</text>`,
    );
    y += 22;
    // Legend.
    let x = 10;
    for (const name of part.impls) {
      body.push(
        `<rect x="${x}" y="${y}" width="10" height="10" fill="${colour(name)}"/>`,
        `<text x="${x + 14}" y="${y + 9}" font-size="11">${esc(name)}</text>`,
      );
      x += 26 + name.length * 6.6;
      if (x > WIDTH - 160) {
        x = 10;
        y += 16;
      }
    }
    y += 24;
    const x0 = LABEL_W;
    for (const row of part.rows) {
      const h = part.impls.length * BAR_H;
      body.push(
        `<text x="${x0 - 8}" y="${y + h / 2 + 4}" font-size="11" text-anchor="end">${esc(row.label)}</text>`,
      );
      row.ratios.forEach((ratio, k) => {
        const by = y + k * BAR_H;
        if (Number.isFinite(ratio)) {
          const w = Math.max(1, Math.min(1, ratio) * BAR_W);
          body.push(
            `<rect x="${x0}" y="${by}" width="${w.toFixed(1)}" height="${BAR_H - 1}" fill="${colour(part.impls[k]!)}"><title>${esc(part.impls[k]!)}: ${ratio.toFixed(2)}</title></rect>`,
            `<text x="${(x0 + w + 4).toFixed(1)}" y="${by + BAR_H - 1}" font-size="8">${ratio.toFixed(2)}</text>`,
          );
        } else if (row.notes[k] !== undefined) {
          body.push(
            `<text x="${x0 + 4}" y="${by + BAR_H - 1}" font-size="8" fill="${colour(part.impls[k]!)}">${esc(`${part.impls[k]!}: ${row.notes[k]}`)}</text>`,
          );
        }
      });
      y += h + GROUP_GAP;
    }
  }
  const height = y + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif">`,
    `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
    `<line x1="${LABEL_W + BAR_W}" y1="40" x2="${LABEL_W + BAR_W}" y2="${height - 10}" stroke="#ccc" stroke-dasharray="3,3"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
