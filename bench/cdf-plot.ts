/** A hand-drawn SVG of queueing-delay CDFs, one line per policy, on a log time axis. */
export interface CdfSeries {
  readonly name: string;
  /** Waits in seconds, ascending. */
  readonly sortedWaitsS: readonly number[];
}

const WIDTH = 760;
const HEIGHT = 460;
const MARGIN = { left: 70, right: 170, top: 40, bottom: 60 };
const COLORS = ['#d62728', '#ff7f0e', '#1f77b4', '#2ca02c', '#9467bd', '#8c564b'];
// Waits under a second are drawn at one second: the log axis needs a floor.
const MIN_WAIT_S = 1;
const POINTS = 200;

export function cdfSvg(series: readonly CdfSeries[], title: string): string {
  const maxWait = Math.max(
    MIN_WAIT_S * 10,
    ...series.map((s) => s.sortedWaitsS[s.sortedWaitsS.length - 1] ?? 0),
  );
  const decades = Math.ceil(Math.log10(maxWait));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (waitS: number) => MARGIN.left + (Math.log10(Math.max(MIN_WAIT_S, waitS)) / decades) * plotW;
  const y = (fraction: number) => MARGIN.top + (1 - fraction) * plotH;

  const grid: string[] = [];
  for (let d = 0; d <= decades; d++) {
    grid.push(line(x(10 ** d), y(0), x(10 ** d), y(1), '#ddd'));
    grid.push(text(x(10 ** d), y(0) + 18, `1e${d}`, 'middle'));
  }
  for (let q = 0; q <= 1.0001; q += 0.25) {
    grid.push(line(x(MIN_WAIT_S), y(q), x(10 ** decades), y(q), '#ddd'));
    grid.push(text(MARGIN.left - 8, y(q) + 4, q.toFixed(2), 'end'));
  }
  const curves = series.map((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const points = cdfPoints(s.sortedWaitsS).map(
      ([wait, fraction]) => `${x(wait).toFixed(1)},${y(fraction).toFixed(1)}`,
    );
    const legendY = MARGIN.top + 20 + i * 22;
    return [
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.join(' ')}"/>`,
      line(WIDTH - MARGIN.right + 15, legendY - 4, WIDTH - MARGIN.right + 40, legendY - 4, color, 3),
      text(WIDTH - MARGIN.right + 46, legendY, escapeXml(s.name), 'start'),
    ].join('\n');
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    text(WIDTH / 2, 22, escapeXml(title), 'middle', 15),
    ...grid,
    ...curves,
    text(MARGIN.left + plotW / 2, HEIGHT - 18, 'queueing delay (seconds, log scale)', 'middle'),
    `<text transform="translate(18 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">fraction of jobs</text>`,
    '</svg>',
    '',
  ].join('\n');
}

/** The empirical CDF as a step line, thinned to POINTS quantiles. */
function cdfPoints(sorted: readonly number[]): [number, number][] {
  if (sorted.length === 0) return [];
  const points: [number, number][] = [[MIN_WAIT_S, 0]];
  for (let i = 1; i <= POINTS; i++) {
    const fraction = i / POINTS;
    const wait = sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)]!;
    points.push([wait, (i - 1) / POINTS], [wait, fraction]);
  }
  return points;
}

function line(x1: number, y1: number, x2: number, y2: number, color: string, width = 1): string {
  return `<line x1="${x1.toFixed(1)}" y1="${y1.toFixed(1)}" x2="${x2.toFixed(1)}" y2="${y2.toFixed(1)}" stroke="${color}" stroke-width="${width}"/>`;
}

function text(x: number, y: number, content: string, anchor: 'start' | 'middle' | 'end', size = 12): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" text-anchor="${anchor}" font-size="${size}">${content}</text>`;
}

function escapeXml(raw: string): string {
  return raw.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
