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
th:first-child,td:first-child,.text{text-align:left}td.text{white-space:normal;word-break:break-word}
input{font:inherit;padding:4px 8px}#token{width:320px}
#controls{display:flex;flex-wrap:wrap;align-items:center;gap:10px 18px;background:#fff;border-radius:6px;padding:8px 10px}
#controls form{display:inline;margin:0;padding:0}#controls input{width:90px}button{font:inherit;padding:3px 10px}`

const SCRIPT = `'use strict'
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
  $('slaves').tBodies[0].replaceChildren(...doc.slaves.map((s) => row([[s.hostname + ':' + s.pid], [s.address], [int(s.concurrency)], [int(s.done)], [rate(s.rate)], [int(s.inFlight)], [Math.round(s.cpuPercent) + ' %'], [bytes(s.rss)], [bytes(s.netIn)], [bytes(s.netOut)]])))
  $('failures').tBodies[0].replaceChildren(...doc.failures.map((f) => row([[String(f.key)], [int(f.attempts)], [f.error, 'text'], [f.at.slice(11, 19)]])))
  $('nofail').hidden = doc.failures.length > 0
  controls(r.controls)
  chart(Date.parse(doc.time), r.rate)
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
function chart(t, r) {
  if (rates.length && rates[rates.length - 1][0] >= t) return
  rates.push([t, r])
  // A page left open for days stays small: past 4,000 points, the older ones are thinned by half.
  if (rates.length > 4000) rates = rates.filter((p, i) => i % 2 === 1 || i >= rates.length - 600)
  draw()
}
// The run's history from /history (a point a second, older ones merged), before what the page saw since.
function fromHistory(points) {
  const past = points.map((p) => [Date.parse(p.time), p.rate])
  const end = past.length ? past[past.length - 1][0] : -Infinity
  rates = past.concat(rates.filter((p) => p[0] > end))
  draw()
}
function draw() {
  if (!rates.length) return
  const max = Math.max(1, ...rates.map((p) => p[1]))
  // The chart spans the run since this master started.
  const from = rates[0][0], span = Math.max(10000, rates[rates.length - 1][0] - from)
  $('line').setAttribute('points', rates.map(([x, y]) => ((600 * (x - from)) / span).toFixed(1) + ',' + (115 - (y / max) * 105).toFixed(1)).join(' '))
  $('chart').dataset.from = new Date(from).toISOString()
  set('max', 'jobs/s over the last ' + dur(span) + '; top ' + rate(max))
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
    if (past.ok) fromHistory((await past.json()).run)
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
<h2>Slaves</h2><table id="slaves"><thead><tr><th>slave</th><th>address</th><th>conc</th><th>done</th><th>rate</th><th>in flight</th><th>cpu</th><th>rss</th><th>net in</th><th>net out</th></tr></thead><tbody></tbody></table>
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
