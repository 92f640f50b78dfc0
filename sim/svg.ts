/**
 * Two kinds of chart as standalone SVG — bars and lines — enough for the simulator's
 * pictures without a plotting dependency. Output depends only on the data, so the same run
 * draws the same bytes.
 * @module
 */

const W = 640
const H = 400
const M = { left: 64, right: 24, top: 40, bottom: 56 }
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf']

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const fmt = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(Math.abs(x) < 1 ? 3 : 1).replace(/\.?0+$/, ''))

/** About five round ticks covering [lo, hi]. */
function ticks(lo: number, hi: number): number[] {
  const span = hi - lo || 1
  const raw = span / 5
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!
  const out: number[] = []
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)))
  return out
}

function frame(title: string, xLabel: string, yLabel: string, body: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">` +
    `<rect width="100%" height="100%" fill="white"/>` +
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>` +
    `<text x="${M.left + (W - M.left - M.right) / 2}" y="${H - 14}" text-anchor="middle">${esc(xLabel)}</text>` +
    `<text transform="translate(16 ${M.top + (H - M.top - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>` +
    body +
    `</svg>\n`
  )
}

/** A bar per (label, value), labels along the x axis in the order given. */
export function barChart(o: { title: string; xLabel: string; yLabel: string; bars: [string, number][] }): string {
  const plotW = W - M.left - M.right
  const plotH = H - M.top - M.bottom
  const max = Math.max(1, ...o.bars.map(([, v]) => v))
  const yTicks = ticks(0, max)
  const top = Math.max(max, yTicks.at(-1)!)
  const y = (v: number): number => M.top + plotH - (v / top) * plotH
  const slot = plotW / Math.max(1, o.bars.length)
  let body = yTicks.map((t) => `<line x1="${M.left}" x2="${W - M.right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#eee"/><text x="${M.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`).join('')
  const every = Math.ceil(o.bars.length / 20)
  o.bars.forEach(([label, v], i) => {
    const x = M.left + i * slot
    body += `<rect x="${(x + slot * 0.1).toFixed(1)}" y="${y(v).toFixed(1)}" width="${(slot * 0.8).toFixed(1)}" height="${(M.top + plotH - y(v)).toFixed(1)}" fill="${COLOURS[0]}"><title>${esc(label)}: ${fmt(v)}</title></rect>`
    if (i % every === 0) body += `<text x="${(x + slot / 2).toFixed(1)}" y="${M.top + plotH + 16}" text-anchor="middle">${esc(label)}</text>`
  })
  body += `<line x1="${M.left}" x2="${W - M.right}" y1="${M.top + plotH}" y2="${M.top + plotH}" stroke="#333"/>`
  return frame(o.title, o.xLabel, o.yLabel, body)
}

/** Lines through (x, y) points, one per series, with a legend; `logX` for sizes spanning decades. */
export function lineChart(o: {
  title: string
  xLabel: string
  yLabel: string
  series: { name: string; points: [number, number][]; dashed?: boolean }[]
  logX?: boolean
  yMin?: number
  yMax?: number
}): string {
  const plotW = W - M.left - M.right
  const plotH = H - M.top - M.bottom
  const all = o.series.flatMap((s) => s.points)
  const fx = o.logX ? Math.log10 : (x: number): number => x
  const xs = all.map(([x]) => fx(x))
  const ys = all.map(([, v]) => v)
  const xLo = Math.min(...xs)
  const xHi = Math.max(...xs)
  const yLo = o.yMin ?? Math.min(0, ...ys)
  const yHi = o.yMax ?? Math.max(...ys, yLo + 1)
  const x = (v: number): number => M.left + ((fx(v) - xLo) / (xHi - xLo || 1)) * plotW
  const y = (v: number): number => M.top + plotH - ((v - yLo) / (yHi - yLo || 1)) * plotH
  let body = ticks(yLo, yHi)
    .filter((t) => t >= yLo && t <= yHi)
    .map((t) => `<line x1="${M.left}" x2="${W - M.right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#eee"/><text x="${M.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`)
    .join('')
  const xTicks = o.logX ? [...new Set(all.map(([v]) => v))].sort((a, b) => a - b) : ticks(xLo, xHi)
  body += xTicks.map((t) => `<text x="${x(t).toFixed(1)}" y="${M.top + plotH + 16}" text-anchor="middle">${fmt(t)}</text>`).join('')
  body += `<line x1="${M.left}" x2="${W - M.right}" y1="${M.top + plotH}" y2="${M.top + plotH}" stroke="#333"/><line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + plotH}" stroke="#333"/>`
  o.series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]
    const path = s.points.map(([px, py], j) => `${j === 0 ? 'M' : 'L'}${x(px).toFixed(1)},${y(py).toFixed(1)}`).join('')
    body += `<path d="${path}" fill="none" stroke="${colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`
    if (s.points.length <= 40) body += s.points.map(([px, py]) => `<circle cx="${x(px).toFixed(1)}" cy="${y(py).toFixed(1)}" r="3" fill="${colour}"><title>${esc(s.name)}: ${fmt(px)}, ${fmt(py)}</title></circle>`).join('')
    body += `<line x1="${M.left + 12}" x2="${M.left + 36}" y1="${M.top + 12 + i * 16}" y2="${M.top + 12 + i * 16}" stroke="${colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/><text x="${M.left + 42}" y="${M.top + 16 + i * 16}">${esc(s.name)}</text>`
  })
  return frame(o.title, o.xLabel, o.yLabel, body)
}
