import { createHash } from 'node:crypto'
import type { RouteHandler } from './router.js'

// The live web page of `GET /`: one self-contained document (inline CSS and script, no
// framework, no build step). It holds nothing of the run: it reads the token from its own
// `?token=` (or asks for it), checks it against `/status`, loads the run's `/history` for its
// chart, then follows `/events`. Every figure is written with textContent, never as HTML: an
// error message is the handler's text.

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
main,form{max-width:1100px;margin:0 auto;padding:16px 24px}
header{display:flex;flex-wrap:wrap;align-items:baseline;gap:12px}
h1{font-size:22px;margin:0}h2{font-size:15px;margin:20px 0 6px}
.muted{color:#687085}.tag{background:#dfe3ea;border-radius:4px;padding:1px 6px}
.bar{height:18px;background:#dfe3ea;border-radius:9px;overflow:hidden;margin:14px 0 4px}
#fill{height:100%;width:0;background:#2f6fde;transition:width .5s}
.big{font-size:20px;margin:4px 0 10px}
dl{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px;margin:0}
dl div{background:#fff;border-radius:6px;padding:6px 10px}dt{font-size:12px;color:#687085}dd{margin:0;font-size:17px}
svg{width:100%;height:120px;background:#fff;border-radius:6px;display:block}
polyline{fill:none;stroke:#2f6fde;stroke-width:2;vector-effect:non-scaling-stroke}
table{border-collapse:collapse;width:100%;background:#fff;border-radius:6px}
th,td{padding:4px 8px;text-align:right;border-bottom:1px solid #eceef2;white-space:nowrap}
th:first-child,td:first-child,.text{text-align:left}td.text,#slaves td:first-child{white-space:normal;word-break:break-word}
input{font:inherit;padding:4px 8px}#token{width:320px}
#controls{display:flex;flex-wrap:wrap;align-items:center;gap:10px 18px;background:#fff;border-radius:6px;padding:8px 10px}
#controls form{display:inline;margin:0;padding:0}#controls input{width:90px}button{font:inherit;padding:3px 10px}
#legend{list-style:none;display:flex;flex-wrap:wrap;gap:4px 14px;margin:0 0 8px;padding:0}
#legend li{max-width:340px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}#legend li.left{color:#687085}
.swatch{display:inline-block;width:12px;height:3px;margin:0 5px 3px 0;vertical-align:middle}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:10px 16px}
.charts h3{font-size:13px;font-weight:normal;margin:0 0 4px}.charts polyline{stroke-width:1.5}.charts polyline.left{stroke-dasharray:4 3}`

const SOURCE = `'use strict'
const $ = (id) => document.getElementById(id)
const params = new URLSearchParams(location.search)
let token = params.get('token') ?? sessionStorage.getItem('tm-token') ?? ''
if (params.has('token')) {
  // Kept for this tab only, and out of the address bar (screenshots, history).
  sessionStorage.setItem('tm-token', token)
  history.replaceState(null, '', location.pathname)
}
let source
// The chart's points, [ms, jobs/s]: the run's history, then what /events brought.
let rates = []
// The master's and each slave's points over time, by key ('master', or 's' and the slave's
// connection number): its name, color, whether it left, its points [ms, cpu %, rss, bytes in, bytes out].
const series = new Map()
const COLORS = ['#2f6fde', '#d9480f', '#2b8a3e', '#ae3ec9', '#e8590c', '#0b7285', '#c2255c', '#5c940d', '#862e9c', '#1864ab']
const SVG = 'http://www.w3.org/2000/svg'
const int = (n) => n.toLocaleString('en-US', { maximumFractionDigits: 0 })
const rate = (r) => r.toLocaleString('en-US', { maximumFractionDigits: r < 10 ? 1 : 0 }) + '/s'
const two = (n) => String(n).padStart(2, '0')
const dur = (ms) => { const s = Math.round(ms / 1000); return Math.floor(s / 3600) + ':' + two(Math.floor(s / 60) % 60) + ':' + two(s % 60) }
const bytes = (n) => { let u = 0; while (n >= 1024 && u < 4) { n /= 1024; u++ } return (u ? n.toFixed(1) + ' ' : n + ' ') + ['B', 'KiB', 'MiB', 'GiB', 'TiB'][u] }
const set = (id, text) => { $(id).textContent = text }
function row(cells) {
  const tr = document.createElement('tr')
  for (const [text, cls] of cells) { const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; tr.append(td) }
  return tr
}
function ask(why) {
  if (source) source.close()
  $('run').hidden = true
  $('login').hidden = false
  set('why', why)
}
// A run that has ended sends nothing more: its last document stays, and the page stops listening.
let ended = false
function show(doc) {
  const r = doc.run
  ended = r.state === 'complete' || r.state === 'stopped' || r.state === 'already-complete'
  if (ended) {
    if (source) source.close()
    set('conn', 'the run has ended')
  }
  $('login').hidden = true
  $('run').hidden = false
  $('run').dataset.time = doc.time
  document.title = r.key + ' - Taskmaster'
  set('key', r.key)
  // Paused is a running run that sends nothing: its badge says so, and it has no ETA to count.
  const paused = r.state === 'running' && r.controls.paused
  set('state', (paused ? 'paused' : r.state) + (r.resumed ? ', resumed at ' + int(r.resumedAt) : ''))
  set('args', Object.entries(r.args).map(([k, v]) => k + '=' + v).join(' ') || '(no arguments)')
  $('fill').style.width = (r.percent ?? 0) + '%'
  set('percent', r.percent === null ? '' : r.percent.toFixed(1) + ' %')
  set('eta', r.total === null ? '' : 'ETA ' + (paused ? 'paused' : r.etaMs == null ? '-' : dur(r.etaMs)))
  set('done', int(r.done) + (r.total === null ? '' : ' of ' + (r.totalEstimated ? '~' : '') + int(r.total)))
  set('position', int(r.position))
  set('last', r.last === null ? '-' : String(r.last))
  set('rate', rate(r.rate))
  set('elapsed', dur(r.elapsedMs))
  set('failed', int(r.failed))
  set('inflight', int(r.inFlight))
  set('queued', int(r.queued) + (r.waiting ? ' (+' + int(r.waiting) + ' waiting)' : ''))
  set('count', int(doc.slaves.length))
  const m = doc.master
  if (m) set('master', 'master ' + m.hostname + ':' + m.pid + ': cpu ' + Math.round(m.cpuPercent) + ' %, rss ' + bytes(m.rss) + ', net in ' + bytes(m.netIn) + ', net out ' + bytes(m.netOut))
  // Honest about what the charts span: this master's time, not a resumed run's earlier masters'.
  set('since', 'The charts start when this master started (' + r.session.startedAt.slice(0, 19).replace('T', ' ') + ' UTC)' + (r.resumed ? '; the run started ' + r.startedAt.slice(0, 19).replace('T', ' ') + ' UTC, and the figures of its earlier masters are not kept.' : '.'))
  $('slaves').tBodies[0].replaceChildren(...doc.slaves.map((s) => row([[s.hostname + ':' + s.pid], [s.address], [int(s.concurrency)], [int(s.done)], [rate(s.rate)], [int(s.inFlight)], [Math.round(s.cpuPercent) + ' %'], [bytes(s.rss)], [bytes(s.netIn)], [bytes(s.netOut)]])))
  $('failures').tBodies[0].replaceChildren(...doc.failures.map((f) => row([[String(f.key)], [int(f.attempts)], [f.error, 'text'], [f.at.slice(11, 19)]])))
  $('nofail').hidden = doc.failures.length > 0
  controls(r.controls)
  chart(Date.parse(doc.time), r.rate)
  live(doc)
}
let pausedNow = false
function controls(c) {
  pausedNow = c.paused
  set('pause', c.paused ? 'Resume' : 'Pause')
  set('now', [c.paused ? 'paused' : 'not paused', 'rate ' + (c.rate === null ? 'off' : rate(c.rate)), 'max in flight ' + (c.maxInFlight === null ? 'off' : int(c.maxInFlight)),
    c.throttle === null ? 'no throttle' : 'throttle ' + c.throttle + ': ' + (c.throttled === null ? 'not throttled' : 'throttled: ' + c.throttled)].join(' | '))
}
// A control: POST with the token as a header (never in the address), then the master's
// answer in words, or its refusal (400: what it expected, 401: the token) as it said it.
async function control(path, value) {
  set('answer', '…')
  let answer
  try {
    answer = await fetch(path, { method: 'POST', cache: 'no-store', headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' }, body: value === undefined ? '' : JSON.stringify({ value }) })
  } catch {
    return set('answer', 'master unreachable')
  }
  if (!answer.ok) return set('answer', (await answer.text()).trim())
  const body = await answer.json()
  set('answer', body.changed)
  controls(body.controls)
}
// A figure as typed: a number when it reads as one, else the text, so the master (the one
// validator) says what it expected instead of the page sending something else.
const typed = (id) => { const text = $(id).value.trim(), n = Number(text); return text !== '' && Number.isFinite(n) ? n : text }
$('pause').addEventListener('click', () => control(pausedNow ? '/resume' : '/pause'))
for (const [name, path] of [['rate', '/rate'], ['mif', '/max-in-flight']]) {
  $(name + '-form').addEventListener('submit', (event) => { event.preventDefault(); control(path, typed(name + '-value')) })
  $(name + '-off').addEventListener('click', () => control(path, null))
}
// A series' points, [ms, ...figures], oldest first. A page left open for days stays small:
// past 4,000 points, the older ones are thinned by half.
function add(pts, p) {
  if (pts.length && pts[pts.length - 1][0] >= p[0]) return pts
  pts.push(p)
  return pts.length > 4000 ? pts.filter((q, i) => i % 2 === 1 || i >= pts.length - 600) : pts
}
// The history's points, then those the page saw after them.
const after = (past, seen) => { const end = past.length ? past[past.length - 1][0] : -Infinity; return past.concat(seen.filter((p) => p[0] > end)) }
// A polyline's points in a 600 x 120 box: time from \`from\` over \`span\` ms, values up to \`max\`.
const coords = (pts, from, span, max) => pts.map(([x, y]) => ((600 * (x - from)) / span).toFixed(1) + ',' + (115 - (y / max) * 105).toFixed(1)).join(' ')
function chart(t, r) {
  rates = add(rates, [t, r])
  draw()
}
// The run's history from /history (a point a second, older ones merged), before what the page saw since.
function fromHistory(points) {
  rates = after(points.map((p) => [Date.parse(p.time), p.rate]), rates)
  draw()
}
function draw() {
  if (!rates.length) return
  const max = Math.max(1, ...rates.map((p) => p[1]))
  // The chart spans the run since this master started.
  const from = rates[0][0], span = Math.max(10000, rates[rates.length - 1][0] - from)
  $('line').setAttribute('points', coords(rates, from, span, max))
  $('chart').dataset.from = new Date(from).toISOString()
  set('max', 'jobs/s over the last ' + dur(span) + '; top ' + rate(max))
}
// A slave's name as the history keeps it: at most 200 characters.
const cut = (text) => (text.length <= 200 ? text : text.slice(0, 199) + '…')
// The series of \`key\`, made on first use; as in the master's history, past 100 slaves the one that left first goes.
function entry(key, name) {
  let e = series.get(key)
  if (!e) {
    series.set(key, (e = { name, left: false, points: [], color: key === 'master' ? '#1d2330' : COLORS[series.size % COLORS.length] }))
    const gone = [...series].filter(([, v]) => v.left).sort((a, b) => a[1].leftAt - b[1].leftAt)
    if (series.size > 101 && gone.length) series.delete(gone[0][0])
  }
  return e
}
const point = (t, f) => [t, f.cpuPercent, f.rss, f.netIn, f.netOut]
// What a status document adds: a point of the master and of each slave; the slaves it no longer lists have left.
function live(doc) {
  const t = Date.parse(doc.time), here = new Set()
  const put = (key, name, f) => { const e = entry(key, name); e.points = add(e.points, point(t, f)); here.add(e) }
  if (doc.master) put('master', 'master', doc.master)
  for (const s of doc.slaves) put('s' + s.id, cut(s.hostname + ':' + s.pid), s)
  for (const [k, e] of series) if (k !== 'master' && !here.has(e) && !e.left) Object.assign(e, { left: true, leftAt: t })
  // Many slaves are drawn every few seconds, not every second: the page stays light in a browser left open.
  if (Date.now() - drawnAt >= (series.size > 20 ? 5000 : 0)) drawResources()
}
function resourcesFrom(h) {
  const past = (e, points) => { e.points = after(points.map((p) => point(Date.parse(p.time), p)), e.points) }
  if (h.master) past(entry('master', 'master'), h.master)
  for (const s of h.slaves || []) {
    const e = entry('s' + s.id, s.name)
    if (s.leftAt !== null && !e.left) Object.assign(e, { left: true, leftAt: Date.parse(s.leftAt) })
    past(e, s.points)
  }
  drawResources()
}
// A chart's values of a series: CPU and memory as they are, the byte counters as a rate over
// at least 4 s (a slave reports every 2 s: between two documents a second apart, its counter may not move).
function values(pts, col) {
  if (col < 3) return pts.map((p) => [p[0], p[col]])
  const out = []
  for (let i = 1, j = 0; i < pts.length; i++) {
    while (j + 1 < i && pts[i][0] - pts[j + 1][0] >= 4000) j++
    const dt = (pts[i][0] - pts[j][0]) / 1000, d = pts[i][col] - pts[j][col]
    if (dt > 0 && d >= 0) out.push([pts[i][0], d / dt])
  }
  return out
}
const perSecond = (v) => bytes(Math.round(v)) + '/s'
const CHARTS = [['cpu', 1, (v) => Math.round(v) + ' %'], ['rss', 2, bytes], ['netin', 3, perSecond], ['netout', 4, perSecond]]
let drawnAt = -Infinity
// Every name is text (textContent, a title attribute), never markup.
function drawResources() {
  drawnAt = Date.now()
  const all = [...series.values()].filter((e) => e.points.length)
  if (!all.length) return
  const from = Math.min(...all.map((e) => e.points[0][0]))
  const span = Math.max(10000, Math.max(...all.map((e) => e.points[e.points.length - 1][0])) - from)
  set('span', 'over ' + dur(span))
  $('legend').replaceChildren(...[...series].map(([key, e]) => {
    const li = document.createElement('li'), sw = document.createElement('span')
    sw.className = 'swatch'
    sw.style.background = e.color
    li.dataset.series = key
    li.title = e.name
    if (e.left) li.className = 'left'
    li.append(sw, e.name + (e.left ? ' (left)' : ''))
    return li
  }))
  for (const [id, col, fmt] of CHARTS) {
    const lines = [...series].map(([key, e]) => [key, e, values(e.points, col)])
    const max = Math.max(col === 1 ? 100 : 1, ...lines.flatMap(([, , v]) => v.map((p) => p[1])))
    $(id).replaceChildren(...lines.map(([key, e, v]) => {
      const line = document.createElementNS(SVG, 'polyline'), title = document.createElementNS(SVG, 'title')
      line.dataset.series = key
      line.style.stroke = e.color
      if (e.left) line.setAttribute('class', 'left')
      line.setAttribute('points', coords(v, from, span, max))
      title.textContent = e.name
      line.append(title)
      return line
    }))
    set(id + '-top', 'top ' + fmt(max))
  }
}
async function connect() {
  if (source) source.close()
  let answer
  try {
    answer = await fetch('/status', { cache: 'no-store', headers: token ? { authorization: 'Bearer ' + token } : {} })
  } catch {
    set('conn', 'master unreachable')
    return setTimeout(connect, 3000)
  }
  if (answer.status === 401) return ask(token ? 'That token was refused.' : '')
  show(await answer.json())
  if (ended) return
  // The chart from the run's start; without it (a master that has no /history), from now.
  try {
    const past = await fetch('/history', { cache: 'no-store', headers: token ? { authorization: 'Bearer ' + token } : {} })
    if (past.ok) {
      const h = await past.json()
      fromHistory(h.run)
      resourcesFrom(h)
    }
  } catch {}
  source = new EventSource('/events' + (token ? '?token=' + encodeURIComponent(token) : ''))
  source.onopen = () => set('conn', 'live')
  source.onmessage = (event) => show(JSON.parse(event.data))
  source.onerror = () => {
    set('conn', 'connection lost (the run may have ended); retrying')
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, 3000)
  }
}
$('login').addEventListener('submit', (event) => {
  event.preventDefault()
  token = $('token').value.trim()
  sessionStorage.setItem('tm-token', token)
  connect()
})
connect()
`

/**
 * The script as served: its comments and indentation left out (the page stays small; a
 * line of the script never starts inside a string, so nothing else changes).
 */
const SCRIPT = SOURCE.replace(/^\s*\/\/.*\n/gm, '').replace(/^ +/gm, '')

const BODY = `<form id="login" hidden><h1>Taskmaster</h1><p>This run's page needs its token (the one slaves use).</p>
<input id="token" type="password" autocomplete="off" placeholder="token" aria-label="token"> <button>Open</button><p id="why" class="muted"></p></form>
<main id="run" hidden>
<header><h1 id="key"></h1><span id="state" class="tag"></span><span id="args" class="muted"></span><span id="conn" class="muted"></span></header>
<div class="bar"><div id="fill"></div></div>
<p class="big"><span id="percent"></span> <span id="eta" class="muted"></span></p>
<dl><div><dt>done</dt><dd id="done"></dd></div><div><dt>finished through #</dt><dd id="position"></dd></div><div><dt>last key</dt><dd id="last"></dd></div>
<div><dt>rate (10 s)</dt><dd id="rate"></dd></div><div><dt>elapsed</dt><dd id="elapsed"></dd></div><div><dt>failed</dt><dd id="failed"></dd></div>
<div><dt>in flight</dt><dd id="inflight"></dd></div><div><dt>queued</dt><dd id="queued"></dd></div><div><dt>slaves</dt><dd id="count"></dd></div></dl>
<h2>Controls</h2><div id="controls"><button id="pause" type="button"></button>
<form id="rate-form"><label>rate (jobs/s) <input id="rate-value" inputmode="decimal" autocomplete="off"></label> <button>Set</button> <button id="rate-off" type="button">Off</button></form>
<form id="mif-form"><label>max in flight <input id="mif-value" inputmode="numeric" autocomplete="off"></label> <button>Set</button> <button id="mif-off" type="button">Off</button></form>
<span id="now"></span><span id="answer" class="muted"></span></div>
<h2>Rate <span id="max" class="muted"></span></h2><svg id="chart" viewBox="0 0 600 120" preserveAspectRatio="none"><polyline id="line"/></svg>
<p id="since" class="muted"></p>
<h2>Master and slaves over time <span id="span" class="muted"></span></h2><ul id="legend"></ul>
<div class="charts"><div><h3>CPU, % of one core <span id="cpu-top" class="muted"></span></h3><svg id="cpu" viewBox="0 0 600 120" preserveAspectRatio="none"></svg></div>
<div><h3>memory (rss) <span id="rss-top" class="muted"></span></h3><svg id="rss" viewBox="0 0 600 120" preserveAspectRatio="none"></svg></div>
<div><h3>network in, per second <span id="netin-top" class="muted"></span></h3><svg id="netin" viewBox="0 0 600 120" preserveAspectRatio="none"></svg></div>
<div><h3>network out, per second <span id="netout-top" class="muted"></span></h3><svg id="netout" viewBox="0 0 600 120" preserveAspectRatio="none"></svg></div></div>
<h2>Slaves</h2><p id="master" class="muted"></p><table id="slaves"><thead><tr><th>slave</th><th>address</th><th>conc</th><th>done</th><th>rate</th><th>in flight</th><th>cpu</th><th>rss</th><th>net in</th><th>net out</th></tr></thead><tbody></tbody></table>
<h2>Recent failures</h2><table id="failures"><thead><tr><th>key</th><th>attempts</th><th class="text">last error</th><th>at (UTC)</th></tr></thead><tbody></tbody></table><p id="nofail" class="muted">None.</p>
</main>`

/** The page of `GET /`: the same bytes for every run, since it carries nothing of one. */
export const PAGE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Taskmaster</title>
<style>${STYLE}</style></head>
<body>${BODY}
<script>${SCRIPT}</script></body></html>
`

/**
 * The page's Content-Security-Policy: its own script only (by hash), requests to the
 * master only, never framed. An error message shown on it can run nothing.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  `script-src 'sha256-${createHash('sha256').update(SCRIPT).digest('base64')}'`,
  "style-src 'unsafe-inline'",
  "connect-src 'self'",
  'img-src data:',
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ')

const HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-length': String(Buffer.byteLength(PAGE_HTML)),
  'cache-control': 'no-store',
  'content-security-policy': PAGE_CSP,
  // The page's address may hold the token: it must not leave with a link.
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
}

/** The `GET /` route: the page, to anyone (it asks for the token itself). */
export function pageRoute(): RouteHandler {
  return (req, res) => {
    res.writeHead(200, HEADERS)
    res.end(req.method === 'HEAD' ? undefined : PAGE_HTML)
  }
}
