// The bare pipeline's consumer: takes jobs by credit (a window of 4,000), runs a no-op
// on each and acks once a quarter of the window is done. Usage: node consumer.mjs <port>;
// prints "consumed <n>" when the producer closes.
import { Packr } from 'msgpackr'
import WebSocket from 'ws'

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true })
const WINDOW = 4000
const ws = new WebSocket(`ws://127.0.0.1:${process.argv[2]}`, { perMessageDeflate: false })
let acks = []
let count = 0
const handler = () => count++

function flush() {
  ws.send(packr.pack({ type: 'ack', seqs: acks, credit: acks.length }))
  acks = []
}

ws.on('open', () => ws.send(packr.pack({ type: 'credit', credit: WINDOW })))
ws.on('message', (data) => {
  const message = packr.unpack(data)
  for (let i = 0; i < message.jobs.length; i++) {
    handler(message.jobs[i])
    acks.push(message.first + i)
    if (acks.length >= WINDOW / 4) flush()
  }
  if (acks.length > 0) flush()
})
ws.on('close', () => {
  console.log(`consumed ${count}`)
  process.exit(0)
})
