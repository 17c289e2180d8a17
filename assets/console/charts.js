// Charts with uPlot (bundled in vendor/, loaded before the app): time series and bars. Labels
// come from data but uPlot writes them as text (textContent), never as markup.
const PALETTE = ['#3b5bdb', '#f08c00', '#2f9e44', '#e03131', '#7048e8', '#0c8599', '#c2255c', '#5c940d'];

const width = (el) => Math.max(320, (el.clientWidth || el.parentElement?.clientWidth || 800) - 8);

/**
 * A line chart of series over time. `times` are ISO strings or ms; `series` are `{ label, values }`.
 * Returns a function that destroys it.
 */
export function timeChart(el, times, series, { height = 240, bars = false } = {}) {
  const xs = times.map((t) => (typeof t === 'number' ? t : Date.parse(t)) / 1000);
  const opts = {
    width: width(el),
    height,
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.label,
        stroke: s.color ?? PALETTE[i % PALETTE.length],
        fill: bars ? `${s.color ?? PALETTE[i % PALETTE.length]}88` : undefined,
        width: 2,
        paths: bars && globalThis.uPlot.paths.bars ? globalThis.uPlot.paths.bars({ size: [0.6, 60] }) : undefined,
      })),
    ],
    axes: [{}, { size: 60 }],
    scales: { x: { time: true } },
  };
  const chart = new globalThis.uPlot(opts, [xs, ...series.map((s) => s.values)], el);
  return () => chart.destroy();
}

/** Bars over categories (e.g. funnel steps): x is the index, labels on the axis. */
export function barChart(el, labels, series, { height = 240 } = {}) {
  const xs = labels.map((_, i) => i);
  const opts = {
    width: width(el),
    height,
    scales: { x: { time: false, range: [-0.5, labels.length - 0.5] } },
    axes: [{ values: (_, ticks) => ticks.map((t) => (Number.isInteger(t) ? (labels[t] ?? '') : '')), space: 40 }, { size: 60 }],
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.label,
        stroke: PALETTE[i % PALETTE.length],
        fill: `${PALETTE[i % PALETTE.length]}aa`,
        paths: globalThis.uPlot.paths.bars({ size: [0.6 / series.length, 80], align: 0 }),
        points: { show: false },
      })),
    ],
  };
  const chart = new globalThis.uPlot(opts, [xs, ...series.map((s) => s.values)], el);
  return () => chart.destroy();
}
