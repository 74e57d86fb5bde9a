// The bare pipeline's producer: what two Node processes do with none of Taskmaster's
// bookkeeping (no ledger, watermark, journal, checkpoint, retries). A WebSocket server
// iterates a generator of { id } jobs (or { id, payload } with a payload of <bytes>
// characters, one shared string as in the benchmark's jobs) and sends them by credit in
// msgpack batches of up to 1,000, counting acks. Usage: node producer.mjs <jobs> <consumers> [bytes]; prints
// "listening on <port>", then "<jobs> jobs in <s> s" from the first credit to the last ack.
import { Packr } from 'msgpackr'
import { WebSocketServer } from 'ws'

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true })
const total = Number(process.argv[2])
const consumers = Number(process.argv[3])
const bytes = Number(process.argv[4] ?? 0)
const BATCH = 1000

function* getJobs() {
  if (bytes === 0) {
    for (let id = 0; id < total; id++) yield { id }
    return
  }
  const payload = 'x'.repeat(bytes)
  for (let id = 0; id < total; id++) yield { id, payload }
}
const jobs = getJobs()
const sockets = []
let next = 0
let acked = 0
let started

function feed(ws) {
  while (ws.credit > 0 && next < total) {
    const n = Math.min(ws.credit, BATCH, total - next)
    const batch = new Array(n)
    for (let i = 0; i < n; i++) batch[i] = jobs.next().value
    ws.send(packr.pack({ type: 'jobs', first: next, jobs: batch }))
    next += n
    ws.credit -= n
  }
}

const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false })
server.on('listening', () => console.log(`listening on ${server.address().port}`))
server.on('connection', (ws) => {
  ws.credit = 0
  sockets.push(ws)
  ws.on('message', (data) => {
    const message = packr.unpack(data)
    ws.credit += message.credit
    if (message.type === 'ack') acked += message.seqs.length
    if (started === undefined && sockets.length === consumers) {
      started = performance.now()
      for (const s of sockets) feed(s)
      return
    }
    if (acked === total) {
      console.log(`${total} jobs in ${((performance.now() - started) / 1000).toFixed(3)} s`)
      for (const s of sockets) s.close()
      server.close()
    } else if (started !== undefined) feed(ws)
  })
})
